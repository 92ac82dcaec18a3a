package dev.easel.engine.weights;

import dev.easel.engine.quant.BlockFormat;
import dev.easel.engine.quant.QuantizedWeight;
import dev.easel.engine.tensor.FloatTensor;

import java.lang.foreign.Arena;
import java.nio.ByteBuffer;
import java.util.Arrays;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Optional;
import java.util.Set;

/**
 * A view of another source under other names and, for some tensors, another shape with the same
 * elements in the same order (e.g. a 1x1 convolution [C,C,1,1] seen as a Linear [C,C]). Nothing is copied:
 * converters of checkpoint layouts present the canonical (diffusers) names this way.
 * Closing the view does not close its base.
 */
public final class RenamedWeights implements WeightSource {
    private final WeightSource base;
    private final String view;
    private final Map<String, String> originals;
    private final Map<String, long[]> shapes;

    /**
     * @param view                a few words saying what the view is, for error messages (e.g. "unet, diffusers names")
     * @param canonicalToOriginal this view's names (in the order {@link #names()} lists them) to the base's names
     * @param canonicalShapes     new shapes of some of this view's names; the others keep the base's shape
     * @throws WeightsException when an original is missing from the base or a shape does not keep the element count
     */
    public RenamedWeights(WeightSource base, String view, Map<String, String> canonicalToOriginal,
                          Map<String, long[]> canonicalShapes) {
        this.base = base;
        this.view = view;
        this.originals = Collections.unmodifiableMap(new LinkedHashMap<>(canonicalToOriginal));
        Map<String, long[]> checked = new LinkedHashMap<>();
        canonicalShapes.forEach((name, shape) -> checked.put(name, shape.clone()));
        this.shapes = checked;
        validate();
    }

    private void validate() {
        for (Map.Entry<String, String> e : originals.entrySet()) {
            if (!base.contains(e.getValue())) {
                throw WeightsException.forTensor(base.location(), e.getValue(),
                        "is missing (wanted as '" + e.getKey() + "' by the " + view + " view)");
            }
        }
        for (Map.Entry<String, long[]> e : shapes.entrySet()) {
            String original = originals.get(e.getKey());
            if (original == null) {
                throw new IllegalArgumentException("reshape of '" + e.getKey() + "', which the " + view + " view does not name");
            }
            TensorInfo t = base.info(original);
            if (FloatTensor.elementCount(e.getValue()) != t.elementCount()) {
                throw WeightsException.forTensor(base.location(), original, "has shape " + Arrays.toString(t.shape())
                        + ", which cannot be seen as " + Arrays.toString(e.getValue()) + " ('" + e.getKey() + "')");
            }
        }
    }

    /** The source this view renames (e.g. the whole checkpoint file). */
    public WeightSource base() {
        return base;
    }

    /** The base's name for one of this view's names. */
    public String originalName(String name) {
        String original = originals.get(name);
        if (original == null) {
            throw WeightsException.forTensor(location(), name, "is not in this view (" + originals.size() + " tensors)");
        }
        return original;
    }

    @Override
    public String location() {
        return base.location() + " (" + view + ")";
    }

    @Override
    public Set<String> names() {
        return originals.keySet();
    }

    @Override
    public TensorInfo info(String name) {
        TensorInfo t = base.info(originalName(name));
        return t.view(name, shapes.getOrDefault(name, t.shape()));
    }

    /** Row-major data does not change with a reshape, so the base's buffer is the answer as is. */
    @Override
    public ByteBuffer float32(String name, Arena arena) {
        return base.float32(originalName(name), arena);
    }

    /** Stored blocks run along the stored rows: they serve a view whose rows are the same length. */
    @Override
    public Optional<QuantizedWeight> quantized(String name, BlockFormat format, Arena arena) {
        long[] stored = base.info(originalName(name)).shape();
        long[] viewed = info(name).shape();
        if (stored.length == 0 || viewed.length == 0 || stored[stored.length - 1] != viewed[viewed.length - 1]) {
            return Optional.empty();
        }
        return base.quantized(originalName(name), format, arena);
    }

    @Override
    public void close() {
        // A view owns nothing: its base is closed by whoever opened it.
    }
}
