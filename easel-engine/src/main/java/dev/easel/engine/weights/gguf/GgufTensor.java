package dev.easel.engine.weights.gguf;

import java.util.Arrays;

/**
 * One tensor of a GGUF file.
 *
 * @param dims       as stored: ggml order, the first dimension is the contiguous one (a row)
 * @param shape      row-major (PyTorch) order: the dims reversed, or {@code comfy.gguf.orig_shape.<name>} when
 *                   the file gives one
 * @param offset     from the start of the file
 * @param byteLength stored bytes
 */
public record GgufTensor(String name, GgufType type, long[] dims, long[] shape, long offset, long byteLength) {
    public GgufTensor {
        dims = dims.clone();
        shape = shape.clone();
    }

    @Override
    public long[] dims() {
        return dims.clone();
    }

    @Override
    public long[] shape() {
        return shape.clone();
    }

    public long elementCount() {
        long n = 1;
        for (long d : dims) n = Math.multiplyExact(n, d);
        return n;
    }

    /** Values per stored row: blocks never cross it. */
    public long rowLength() {
        return dims.length == 0 ? 1 : dims[0];
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof GgufTensor t && name.equals(t.name) && type == t.type && Arrays.equals(dims, t.dims)
                && Arrays.equals(shape, t.shape) && offset == t.offset && byteLength == t.byteLength;
    }

    @Override
    public int hashCode() {
        return name.hashCode() * 31 + Arrays.hashCode(dims);
    }

    @Override
    public String toString() {
        return name + " " + type + " " + Arrays.toString(shape);
    }
}
