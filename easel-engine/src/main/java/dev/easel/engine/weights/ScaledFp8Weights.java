package dev.easel.engine.weights;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * A "scaled fp8" file (ComfyUI's {@code *_fp8_e4m3fn_scaled.safetensors}, e.g. the T5-XXL of FLUX.1) seen with
 * its real weights: each fp8 {@code <layer>.weight} is stored with a {@code <layer>.scale_weight} (fp32, a scalar,
 * or one per output row) and stands for fp8 value x scale. The file marks itself with a tensor named
 * {@code scaled_fp8} (under any prefix). The view lists the weights without the marker and the scale tensors
 * ({@code *.scale_weight}, and {@code *.scale_input}, which only fp8 matrix products use), and converts each
 * scaled weight to fp32 with its scale applied; tensors without a scale (norms, embeddings) read as stored.
 * Closing the view does not close the file.
 */
public final class ScaledFp8Weights implements WeightSource {
    /** The marker tensor's name (last component): a scaled-fp8 file holds one. */
    public static final String MARKER = "scaled_fp8";
    private static final String WEIGHT = ".weight";
    private static final String SCALE = ".scale_weight";
    private static final String INPUT_SCALE = ".scale_input";

    private final SafetensorsFile file;
    private final Set<String> names;
    /** Weight name to the name of its scale, for the weights that have one. */
    private final Map<String, String> scales;

    /**
     * @throws WeightsException naming the file and the tensors when an fp8 weight has no scale (an fp8 file that
     *                          is not a scaled one, or a damaged one) or a scale of the wrong size
     */
    public ScaledFp8Weights(SafetensorsFile file) {
        this.file = file;
        Set<String> kept = new LinkedHashSet<>();
        Map<String, String> found = new LinkedHashMap<>();
        List<String> unscaled = new ArrayList<>();
        for (String name : file.names()) {
            if (isMarker(name) || name.endsWith(SCALE) || name.endsWith(INPUT_SCALE)) continue;
            kept.add(name);
            String scale = name.endsWith(WEIGHT) ? name.substring(0, name.length() - WEIGHT.length()) + SCALE : null;
            if (scale != null && file.hasTensor(scale)) {
                checkScale(name, scale);
                found.put(name, scale);
            } else if (isFp8(file.info(name).dtype())) {
                unscaled.add(name);
            }
        }
        if (!unscaled.isEmpty()) {
            String first = unscaled.getFirst();
            String more = unscaled.size() > 1 ? " (and " + (unscaled.size() - 1) + " more fp8 tensors)" : "";
            throw WeightsException.forTensor(file.path(), first, "is " + file.info(first).dtype() + " without a scale '"
                    + (first.endsWith(WEIGHT) ? first.substring(0, first.length() - WEIGHT.length()) + SCALE : first + SCALE)
                    + "'" + more + ": a scaled-fp8 file missing its scales cannot be read");
        }
        this.names = Collections.unmodifiableSet(kept);
        this.scales = Map.copyOf(found);
    }

    /** Whether the file marks itself as scaled fp8 (a {@code scaled_fp8} tensor, possibly under a prefix). */
    public static boolean isScaledFp8(SafetensorsFile file) {
        return file.tensors().stream().anyMatch(t -> isMarker(t.name()));
    }

    private static boolean isMarker(String name) {
        return name.equals(MARKER) || name.endsWith("." + MARKER);
    }

    private static boolean isFp8(DType dtype) {
        return dtype == DType.F8_E4M3 || dtype == DType.F8_E5M2;
    }

    private void checkScale(String weight, String scale) {
        TensorInfo s = file.info(scale);
        long rows = file.info(weight).rank() == 0 ? 1 : file.info(weight).dim(0);
        if (!s.dtype().isFloatingPoint() || (s.elementCount() != 1 && s.elementCount() != rows)) {
            throw WeightsException.forTensor(file.path(), scale, "is " + s + ": the scale of '" + weight
                    + "' must be one float, or one per row (" + rows + ")");
        }
    }

    /** The file this view reads. */
    public SafetensorsFile base() {
        return file;
    }

    @Override
    public String location() {
        return file.location() + " (scaled fp8)";
    }

    @Override
    public Set<String> names() {
        return names;
    }

    @Override
    public TensorInfo info(String name) {
        if (!names.contains(name)) {
            throw WeightsException.forTensor(location(), name, "is not in this file's weights (" + names.size() + " tensors)");
        }
        return file.info(name);
    }

    @Override
    public ByteBuffer float32(String name, Arena arena) {
        info(name);
        ByteBuffer values = file.float32(name, arena);
        String scaleName = scales.get(name);
        if (scaleName == null) return values;
        float[] scale = new float[(int) file.info(scaleName).elementCount()];
        file.float32(scaleName, arena).asFloatBuffer().get(scale);
        MemorySegment out = MemorySegment.ofBuffer(values);
        long count = out.byteSize() / Float.BYTES;
        long perScale = count / scale.length;
        for (long i = 0; i < count; i++) {
            float v = out.getAtIndex(ValueLayout.JAVA_FLOAT_UNALIGNED, i);
            out.setAtIndex(ValueLayout.JAVA_FLOAT_UNALIGNED, i, v * scale[(int) (i / perScale)]);
        }
        return values;
    }

    @Override
    public void close() {
        // A view owns nothing: its file is closed by whoever opened it.
    }
}
