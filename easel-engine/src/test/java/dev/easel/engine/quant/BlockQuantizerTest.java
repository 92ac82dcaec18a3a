package dev.easel.engine.quant;

import org.junit.jupiter.api.Test;

import java.lang.foreign.Arena;
import java.util.Random;

import static org.assertj.core.api.Assertions.assertThat;

/** Symmetric block quantization keeps every value within its step: half a step, or one step where 4 bits clamp. */
class BlockQuantizerTest {

    private static float[] gaussian(int n, long seed) {
        Random r = new Random(seed);
        float[] x = new float[n];
        for (int i = 0; i < n; i++) x[i] = (float) (r.nextGaussian() * 0.02);
        return x;
    }

    /** 100 columns: three whole blocks of 32 and a last one of 4, zero-padded. */
    private static final int ROWS = 64, COLUMNS = 100;

    @Test
    void int8IsWithinHalfAStepOfAmaxOver127() {
        float[] x = gaussian(ROWS * COLUMNS, 1);
        try (Arena arena = Arena.ofConfined()) {
            QuantizedWeight q = BlockQuantizer.quantize(x, ROWS, COLUMNS, BlockFormat.INT8, arena);
            assertThat(q.blocksPerRow()).isEqualTo(4);
            assertThat(q.blocks().byteSize()).isEqualTo(ROWS * 4 * 32);
            float[] y = q.dequantize();
            for (int r = 0; r < ROWS; r++) {
                for (int c = 0; c < COLUMNS; c++) {
                    int i = r * COLUMNS + c;
                    float amax = blockAmax(x, r, c);
                    assertThat(q.scale(r, c)).isEqualTo(amax / 127f);
                    // half a step, plus the rounding of x / scale and of q * scale (a few ulps of amax)
                    assertThat(Math.abs(x[i] - y[i])).as("[%d, %d]", r, c).isLessThanOrEqualTo(q.scale(r, c) / 2 + Math.ulp(amax) * 4);
                }
            }
        }
    }

    @Test
    void int4MapsTheExtremeToMinus8AndStaysWithinItsStep() {
        float[] x = gaussian(ROWS * COLUMNS, 2);
        try (Arena arena = Arena.ofConfined()) {
            QuantizedWeight q = BlockQuantizer.quantize(x, ROWS, COLUMNS, BlockFormat.INT4, arena);
            assertThat(q.blocks().byteSize()).isEqualTo(ROWS * 4 * 16);
            float[] y = q.dequantize();
            for (int r = 0; r < ROWS; r++) {
                for (int c = 0; c < COLUMNS; c++) {
                    int i = r * COLUMNS + c;
                    float step = Math.abs(q.scale(r, c));
                    assertThat(step).isEqualTo(blockAmax(x, r, c) / 8f);
                    // levels -8..7 around 0: a value past +7.5 steps (only on the side opposite the extreme) clamps to 7
                    boolean clamped = q.integer(r, c) == 15 && x[i] / q.scale(r, c) > 7.5f;
                    float allowed = (clamped ? step : step / 2) + Math.ulp(step * 8) * 4;
                    assertThat(Math.abs(x[i] - y[i])).as("[%d, %d]", r, c).isLessThanOrEqualTo(allowed);
                }
            }
        }
    }

    @Test
    void theLastBlockIsPaddedWithZeros() {
        float[] x = gaussian(ROWS * COLUMNS, 3);
        try (Arena arena = Arena.ofConfined()) {
            QuantizedWeight q = BlockQuantizer.quantize(x, ROWS, COLUMNS, BlockFormat.INT8, arena);
            for (long k = COLUMNS; k < 128; k++) assertThat(q.integer(0, k)).isEqualTo(128);
        }
    }

    @Test
    void anAllZeroBlockHasScaleZero() {
        try (Arena arena = Arena.ofConfined()) {
            QuantizedWeight q = BlockQuantizer.quantize(new float[64], 2, 32, BlockFormat.INT4, arena);
            assertThat(q.dequantize()).containsOnly(0f);
        }
    }

    private static float blockAmax(float[] x, int row, int column) {
        int from = column / 32 * 32;
        float amax = 0;
        for (int c = from; c < Math.min(COLUMNS, from + 32); c++) amax = Math.max(amax, Math.abs(x[row * COLUMNS + c]));
        return amax;
    }
}
