package dev.easel.engine.weights;

import dev.easel.engine.tensor.FloatTensor;

import java.util.Arrays;
import java.util.Objects;

/**
 * One tensor of a weights file: its name, element type, shape, and where its bytes lie in the file
 * ({@code byteOffset} counts from the start of the file, header included).
 */
public record TensorInfo(String name, DType dtype, long[] shape, long byteOffset, long byteLength) {

    public TensorInfo {
        Objects.requireNonNull(name, "name");
        Objects.requireNonNull(dtype, "dtype");
        shape = shape.clone();
    }

    @Override
    public long[] shape() {
        return shape.clone();
    }

    public int rank() {
        return shape.length;
    }

    public long dim(int axis) {
        return shape[axis < 0 ? shape.length + axis : axis];
    }

    /** Number of elements: the product of the shape (1 for a 0-dim scalar). */
    public long elementCount() {
        return FloatTensor.elementCount(shape);
    }

    /** The same bytes seen under another name and shape (shape must keep the element count). */
    public TensorInfo view(String newName, long[] newShape) {
        if (FloatTensor.elementCount(newShape) != elementCount()) {
            throw new IllegalArgumentException("cannot view " + name + " " + Arrays.toString(shape)
                    + " as " + Arrays.toString(newShape));
        }
        return new TensorInfo(newName, dtype, newShape, byteOffset, byteLength);
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof TensorInfo t && name.equals(t.name) && dtype == t.dtype && Arrays.equals(shape, t.shape)
                && byteOffset == t.byteOffset && byteLength == t.byteLength;
    }

    @Override
    public int hashCode() {
        return Objects.hash(name, dtype, Arrays.hashCode(shape), byteOffset, byteLength);
    }

    @Override
    public String toString() {
        return name + " " + dtype + " " + Arrays.toString(shape);
    }
}
