package dev.easel.engine.runtime;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.util.Map;
import java.util.TreeMap;

/**
 * Counts the floating-point work a session actually did, from ONNX Runtime's profile: every node run
 * is listed with its op and the shapes of its inputs and outputs, so FLOPs come from the executed
 * graph (after fusions and layout changes), not from a hand formula. Multiply-adds count as 2 FLOPs;
 * only the matrix ops (convolutions, GEMMs, attention) are counted, the rest is noise next to them.
 */
public final class ProfiledFlops {
    private static final ObjectMapper JSON = new ObjectMapper();

    /** Totals per op type. */
    public record OpTotals(long runs, double flops, double seconds) {
        OpTotals plus(double f, double s) {
            return new OpTotals(runs + 1, flops + f, seconds + s);
        }
    }

    private final Map<String, OpTotals> byOp = new TreeMap<>();

    private ProfiledFlops() {
    }

    public static ProfiledFlops read(Path profileJson) {
        ProfiledFlops out = new ProfiledFlops();
        try {
            for (JsonNode event : JSON.readTree(profileJson.toFile())) {
                if (!"Node".equals(event.path("cat").asText()) || !event.path("name").asText().endsWith("_kernel_time")) continue;
                JsonNode args = event.get("args");
                String op = args.path("op_name").asText();
                double flops = flops(op, args.path("input_type_shape"), args.path("output_type_shape"));
                out.byOp.merge(op, new OpTotals(1, flops, event.path("dur").asDouble() / 1e6), (a, b) -> a.plus(b.flops(), b.seconds()));
            }
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read profile " + profileJson, e);
        }
        return out;
    }

    public Map<String, OpTotals> byOp() {
        return byOp;
    }

    public double totalFlops() {
        return byOp.values().stream().mapToDouble(OpTotals::flops).sum();
    }

    public double totalSeconds() {
        return byOp.values().stream().mapToDouble(OpTotals::seconds).sum();
    }

    static double flops(String op, JsonNode inputs, JsonNode outputs) {
        long[] out = shape(outputs, 0);
        return switch (op) {
            case "Conv", "FusedConv", "NhwcConv" -> {
                long[] w = shape(inputs, 1);
                // Output channels: NCHW has them on axis 1; ONNX Runtime's blocked NCHWc layout splits them over axes 1 and 4.
                long outChannels = out.length == 5 ? out[1] * out[4] : out[1];
                yield 2.0 * product(out) * (product(w) / (double) outChannels);
            }
            case "Gemm", "FusedGemm", "MatMul", "FusedMatMul", "MatMulNBits", "MatMulIntegerToFloat" -> {
                long[] a = shape(inputs, 0);
                yield 2.0 * product(out) * a[a.length - 1];
            }
            case "MultiHeadAttention" -> {
                long[] q = shape(inputs, 0);
                long[] k = shape(inputs, 1);
                // Q K^T and the weighted sum of V, each one multiply-add per (query, key, channel).
                yield 4.0 * product(q) * k[1];
            }
            default -> 0.0;
        };
    }

    private static long[] shape(JsonNode list, int index) {
        JsonNode entry = list.get(index);
        if (entry == null) return new long[0];
        JsonNode dims = entry.elements().next();
        long[] shape = new long[dims.size()];
        for (int i = 0; i < shape.length; i++) shape[i] = dims.get(i).asLong();
        return shape;
    }

    private static double product(long[] shape) {
        double p = 1;
        for (long d : shape) p *= d;
        return p;
    }
}
