package dev.easel.engine.tensor;

import java.util.Arrays;

/** A dense row-major int64 tensor (token ids, timesteps given as integers). */
public record LongTensor(long[] shape, long[] data) {
    public LongTensor {
        shape = shape.clone();
        if (FloatTensor.elementCount(shape) != data.length) {
            throw new IllegalArgumentException("shape " + Arrays.toString(shape) + " needs "
                    + FloatTensor.elementCount(shape) + " values, got " + data.length);
        }
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof LongTensor t && Arrays.equals(shape, t.shape) && Arrays.equals(data, t.data);
    }

    @Override
    public int hashCode() {
        return 31 * Arrays.hashCode(shape) + Arrays.hashCode(data);
    }

    @Override
    public String toString() {
        return "LongTensor" + Arrays.toString(shape);
    }
}
