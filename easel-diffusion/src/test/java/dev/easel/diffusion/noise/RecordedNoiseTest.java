package dev.easel.diffusion.noise;

import dev.easel.engine.tensor.FloatTensor;
import org.junit.jupiter.api.Test;

import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class RecordedNoiseTest {
    private static final FloatTensor A = new FloatTensor(new long[] {1, 2}, new float[] {1f, 2f});
    private static final FloatTensor B = new FloatTensor(new long[] {1, 2}, new float[] {3f, 4f});

    @Test
    void replaysInOrder() {
        RecordedNoise noise = new RecordedNoise(List.of(A, B));
        assertThat(noise.remaining()).isEqualTo(2);
        assertThat(noise.next(1, 2)).isEqualTo(A);
        assertThat(noise.next(1, 2)).isEqualTo(B);
        assertThat(noise.used()).isEqualTo(2);
        assertThat(noise.remaining()).isZero();
    }

    @Test
    void handsOutCopies() {
        RecordedNoise noise = new RecordedNoise(List.of(A));
        noise.next(1, 2).data()[0] = 99f;
        assertThat(A.data()[0]).isEqualTo(1f);
    }

    @Test
    void refusesAnotherShape() {
        RecordedNoise noise = new RecordedNoise(List.of(A));
        assertThatThrownBy(() -> noise.next(2, 1)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("[1, 2]").hasMessageContaining("[2, 1]");
        assertThat(noise.used()).isZero();
    }

    @Test
    void refusesADrawBeyondTheRecording() {
        RecordedNoise noise = new RecordedNoise(List.of(A));
        noise.next(1, 2);
        assertThatThrownBy(() -> noise.next(1, 2)).isInstanceOf(IllegalStateException.class)
                .hasMessageContaining("all 1 recorded draws");
    }
}
