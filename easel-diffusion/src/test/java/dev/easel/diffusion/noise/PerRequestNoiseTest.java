package dev.easel.diffusion.noise;

import dev.easel.engine.tensor.FloatTensor;
import org.junit.jupiter.api.Test;

import java.util.Arrays;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class PerRequestNoiseTest {

    @Test
    void eachRequestsRowsComeFromItsOwnGeneratorAndStreamsContinue() {
        PerRequestNoise noise = PerRequestNoise.seeded(new long[]{7, 8}, new int[]{2, 1});
        TorchGenerator first = new TorchGenerator(7);
        TorchGenerator second = new TorchGenerator(8);
        for (int call = 0; call < 3; call++) {
            FloatTensor batch = noise.next(3, 4, 3, 5);
            float[] a = first.next(2, 4, 3, 5).data();
            float[] b = second.next(1, 4, 3, 5).data();
            assertThat(batch.shape()).containsExactly(3, 4, 3, 5);
            assertThat(Arrays.copyOfRange(batch.data(), 0, a.length)).as("call %d, request 0", call).isEqualTo(a);
            assertThat(Arrays.copyOfRange(batch.data(), a.length, a.length + b.length)).as("call %d, request 1", call).isEqualTo(b);
        }
    }

    @Test
    void oneRequestIsItsGeneratorUnchanged() {
        PerRequestNoise noise = PerRequestNoise.seeded(new long[]{42}, new int[]{2});
        TorchGenerator alone = new TorchGenerator(42);
        assertThat(noise.next(2, 4, 8, 8)).isEqualTo(alone.next(2, 4, 8, 8));
        // a small draw (torch's scalar path) continues the same stream too
        assertThat(noise.next(2, 3)).isEqualTo(alone.next(2, 3));
    }

    @Test
    void aDrawMustCoverTheWholeBatch() {
        PerRequestNoise noise = PerRequestNoise.seeded(new long[]{1, 2}, new int[]{1, 2});
        assertThatThrownBy(() -> noise.next(2, 4, 8, 8)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("must be 3");
        assertThatThrownBy(() -> PerRequestNoise.seeded(new long[]{1}, new int[]{1, 2})).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> PerRequestNoise.seeded(new long[]{1}, new int[]{0})).isInstanceOf(IllegalArgumentException.class);
    }
}
