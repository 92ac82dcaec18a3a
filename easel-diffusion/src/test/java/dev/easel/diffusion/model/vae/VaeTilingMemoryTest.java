package dev.easel.diffusion.model.vae;

import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;

class VaeTilingMemoryTest {
    private static final long GIB = 1L << 30;

    @Test
    void sdxlsOwnSizeDecodesWholeWithFiveGibibytesFreeAndTilesWithTwo() {
        assertThat(VaeTiling.forAvailableMemory(5 * GIB).tiles(128, 128)).isFalse();
        assertThat(VaeTiling.forAvailableMemory(2 * GIB).tiles(128, 128)).isTrue();
        assertThat(VaeTiling.forAvailableMemory(5 * GIB).tiles(256, 256)).isTrue();
    }

    @Test
    void neverTilesBelowWhatTheFixedDefaultDecodesWhole() {
        assertThat(VaeTiling.forAvailableMemory(0).tiles(96, 96)).isFalse();
        assertThat(VaeTiling.forAvailableMemory(0).tiles(97, 96)).isTrue();
        assertThat(VaeTiling.forAvailableMemory(0).maxTile()).isEqualTo(VaeTiling.DEFAULT.maxTile());
    }
}
