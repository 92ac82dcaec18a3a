package dev.easel.diffusion.model.vae;

import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class VaeTilingTest {

    @Test
    void sdxlSizesTileAboveNinetySixSquaredLatents() {
        assertThat(VaeTiling.DEFAULT.tiles(96, 96)).isFalse();   // 768x768
        assertThat(VaeTiling.DEFAULT.tiles(128, 64)).isFalse();  // 1024x512: 8192 latents
        assertThat(VaeTiling.DEFAULT.tiles(128, 96)).isTrue();   // 1024x768
        assertThat(VaeTiling.DEFAULT.tiles(128, 128)).isTrue();  // 1024x1024
        assertThat(VaeTiling.NEVER.tiles(1024, 1024)).isFalse();
        assertThat(VaeTiling.above(64).tiles(64, 65)).isTrue();
    }

    @Test
    void sdxl1024SplitsIntoThreeTilesOf48PerAxis() {
        VaeTiling.Axis axis = VaeTiling.DEFAULT.split(128);
        assertThat(axis.tile()).isEqualTo(48);
        assertThat(axis.starts()).containsExactly(0, 40, 80);
        assertThat(axis.overlapAfter(0)).isEqualTo(8);
        assertThat(axis.overlapAfter(1)).isEqualTo(8);
        assertThat(VaeTiling.DEFAULT.split(64)).isEqualTo(new VaeTiling.Axis(64, 64, new int[]{0}));
    }

    @Test
    void everySplitCoversTheAxisWithTilesNoLargerThanAllowedAndOverlapsNoSmaller() {
        for (VaeTiling tiling : new VaeTiling[]{VaeTiling.DEFAULT, new VaeTiling(0, 24, 8), new VaeTiling(0, 5, 4), new VaeTiling(0, 9, 0)}) {
            for (int length = 1; length <= 400; length++) {
                VaeTiling.Axis a = tiling.split(length);
                int[] s = a.starts();
                assertThat(a.tile()).as("%s length %d", tiling, length).isLessThanOrEqualTo(Math.max(tiling.maxTile(), 1))
                        .isLessThanOrEqualTo(length);
                assertThat(s[0]).isZero();
                assertThat(s[s.length - 1] + a.tile()).as("%s length %d reaches the end", tiling, length).isEqualTo(length);
                for (int i = 0; i + 1 < s.length; i++) {
                    assertThat(a.overlapAfter(i)).as("%s length %d overlap %d", tiling, length, i)
                            .isGreaterThanOrEqualTo(tiling.minOverlap()).isLessThan(a.tile());
                }
                // the fewest tiles: one fewer could not cover the axis with the overlap asked for
                int n = s.length;
                if (n > 1) {
                    assertThat((n - 1) * (tiling.maxTile() - tiling.minOverlap()) + tiling.minOverlap()).isLessThan(length);
                }
            }
        }
    }

    @Test
    void rejectsTilesNoLargerThanTheirOverlap() {
        assertThatThrownBy(() -> new VaeTiling(0, 16, 16)).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> new VaeTiling(-1, 16, 4)).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> VaeTiling.DEFAULT.split(0)).isInstanceOf(IllegalArgumentException.class);
    }
}
