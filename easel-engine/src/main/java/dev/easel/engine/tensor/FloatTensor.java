package dev.easel.engine.tensor;

import java.util.Arrays;

/**
 * A dense row-major float32 tensor on the Java heap: activations, latents, images.
 * Weights do not live here; they stay in direct buffers bound to ONNX Runtime.
 */
public record FloatTensor(long[] shape, float[] data) {

    public FloatTensor {
        shape = shape.clone();
        if (elementCount(shape) != data.length) {
            throw new IllegalArgumentException(
                    "shape " + Arrays.toString(shape) + " needs " + elementCount(shape) + " values, got " + data.length);
        }
    }

    public static FloatTensor zeros(long... shape) {
        return new FloatTensor(shape, new float[Math.toIntExact(elementCount(shape))]);
    }

    public static long elementCount(long[] shape) {
        long n = 1;
        for (long d : shape) {
            if (d < 0) throw new IllegalArgumentException("negative dimension in " + Arrays.toString(shape));
            n = Math.multiplyExact(n, d);
        }
        return n;
    }

    public int size() {
        return data.length;
    }

    public long dim(int axis) {
        return shape[axis < 0 ? shape.length + axis : axis];
    }

    public int rank() {
        return shape.length;
    }

    public FloatTensor reshape(long... newShape) {
        return new FloatTensor(newShape, data);
    }

    public FloatTensor copy() {
        return new FloatTensor(shape, data.clone());
    }

    /** The i-th slice along the first axis, keeping that axis (length 1), copied. */
    public FloatTensor slice(int index) {
        return rows(index, index + 1);
    }

    /** Rows {@code [from, to)} along the first axis, copied. */
    public FloatTensor rows(int from, int to) {
        int stride = data.length / Math.toIntExact(shape[0]);
        long[] partShape = shape.clone();
        partShape[0] = to - from;
        return new FloatTensor(partShape, Arrays.copyOfRange(data, from * stride, to * stride));
    }

    /** Concatenates along the first axis. */
    public static FloatTensor concat(FloatTensor... parts) {
        long[] shape = parts[0].shape();
        long rows = 0;
        int total = 0;
        for (FloatTensor p : parts) {
            if (!Arrays.equals(Arrays.copyOfRange(p.shape, 1, p.shape.length), Arrays.copyOfRange(shape, 1, shape.length))) {
                throw new IllegalArgumentException("cannot concatenate " + Arrays.toString(p.shape) + " with " + Arrays.toString(shape));
            }
            rows += p.shape[0];
            total += p.data.length;
        }
        float[] out = new float[total];
        int at = 0;
        for (FloatTensor p : parts) {
            System.arraycopy(p.data, 0, out, at, p.data.length);
            at += p.data.length;
        }
        long[] outShape = shape.clone();
        outShape[0] = rows;
        return new FloatTensor(outShape, out);
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof FloatTensor t && Arrays.equals(shape, t.shape) && Arrays.equals(data, t.data);
    }

    @Override
    public int hashCode() {
        return 31 * Arrays.hashCode(shape) + Arrays.hashCode(data);
    }

    @Override
    public String toString() {
        return "FloatTensor" + Arrays.toString(shape);
    }
}
