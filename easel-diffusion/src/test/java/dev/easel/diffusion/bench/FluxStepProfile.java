package dev.easel.diffusion.bench;

import dev.easel.diffusion.model.flux.FluxConfig;
import dev.easel.diffusion.model.flux.FluxTransformer;
import dev.easel.engine.bench.FmaPeak;
import dev.easel.engine.graph.GraphBuilder;
import dev.easel.engine.graph.Value;
import dev.easel.engine.quant.BlockFormat;
import dev.easel.engine.runtime.Linears;
import dev.easel.engine.runtime.OnnxModel;
import dev.easel.engine.runtime.ProfiledFlops;
import dev.easel.engine.runtime.RuntimeOptions;
import dev.easel.engine.runtime.WeightMode;
import dev.easel.engine.tensor.FloatTensor;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.TreeMap;

/**
 * Where a FLUX.1 step's time goes, measured on a full-width but shallow transformer (1 double and 2 single blocks of
 * the real 3072 width, random weights: about 0.6 B parameters, 0.7 GB in int8), and how fast MatMulNBits runs FLUX's
 * GEMM shapes and its attention next to a fp32 Gemm and this machine's FMA peak. A developer tool (not a test), run by
 * hand with the test classpath (give the JVM {@code -Xmx1g}: the weights live outside the heap):
 * <pre>
 *   FluxStepProfile step int8 1024 4096   # per-op profile of a step at 512x512 and 1024x1024 (image tokens)
 *   FluxStepProfile gemm 4                # K=3072, M=4096, N=3072, 9216, 12288, 21504: fp32 Gemm, MatMulNBits level 4, w8a8
 *   FluxStepProfile attention 1280 4352   # MultiHeadAttention against MatMul-Softmax-MatMul
 * </pre>
 * The shallow model has 1 double and 2 single blocks unless {@code -Deasel.profile.blocks=D,S} says otherwise; double
 * and single blocks do the same GEMM and attention FLOPs per token, so a full-depth step is about the fixed part
 * (embedders, final layer) plus 57/3 times the rest. {@link #open} serves A/B runs of two builds in one process.
 */
public final class FluxStepProfile {
    private static final int TEXT_TOKENS = 256;
    private static final int TIMED_STEPS = 2;

    private FluxStepProfile() {
    }

    public static void main(String[] args) throws Exception {
        int threads = Runtime.getRuntime().availableProcessors();
        if (args[0].equals("attention")) {
            attention(threads, java.util.Arrays.stream(args).skip(1).mapToLong(Long::parseLong).toArray());
            return;
        }
        if (args[0].equals("gemm")) {
            gemms(threads, args.length > 1 ? Integer.parseInt(args[1]) : 3);
            return;
        }
        System.out.printf("FMA peak before: %.1f GFLOP/s (%d threads)%n", FmaPeak.measureGflops(threads, 1.0), threads);
        for (int i = 2; i < args.length; i++) {
            Object[] session = open(args[1], Integer.parseInt(args[i]), threads);
            java.util.function.DoubleSupplier step = (java.util.function.DoubleSupplier) session[0];
            System.out.printf("untimed step: %.3f s%n", step.getAsDouble());
            double best = Double.MAX_VALUE;
            for (int r = 0; r < TIMED_STEPS; r++) best = Math.min(best, step.getAsDouble());
            System.out.printf("step: %.3f s (best of %d)%n", best, TIMED_STEPS);
            @SuppressWarnings("unchecked")
            java.util.function.Supplier<String> report = (java.util.function.Supplier<String>) session[1];
            System.out.print(report.get());
        }
        System.out.printf("FMA peak after: %.1f GFLOP/s%n", FmaPeak.measureGflops(threads, 1.0));
    }

    /**
     * A profiled session of the shallow transformer on {@code imageTokens}, for A/B runs of two builds in one process
     * (each under its own class loader): {@code [0]} is a {@link java.util.function.DoubleSupplier} running one step
     * and returning its seconds, {@code [1]} a {@link java.util.function.Supplier} of the per-op report that ends the
     * profile and closes the session. JDK types only, so that a driver can call builds it was not compiled with.
     */
    public static Object[] open(String mode, int imageTokens, int threads) throws Exception {
        // double and single blocks, "1,2" unless the property easel.profile.blocks says otherwise
        String[] blocks = System.getProperty("easel.profile.blocks", "1,2").split(",");
        FluxConfig c = new FluxConfig(24, FluxConfig.HEAD_DIM, Integer.parseInt(blocks[0]), Integer.parseInt(blocks[1]), 64, 4096, 768,
                false, FluxConfig.AXES_DIMS, FluxConfig.THETA, FluxConfig.MLP_RATIO);
        System.out.printf("shallow FLUX.1: %d double, %d single blocks, %s, %d + %d tokens, %.1f GFLOP counted%n", c.doubleBlocks(),
                c.singleBlocks(), mode, imageTokens, TEXT_TOKENS, FluxFlops.transformerStep(c, imageTokens, TEXT_TOKENS) / 1e9);
        Path folder = Files.createTempDirectory("flux-profile");
        RuntimeOptions options = RuntimeOptions.defaults().withThreads(threads).withWeights(WeightMode.valueOf(mode.toUpperCase()))
                .prepackOr(true).withProfiling(folder);
        GraphBuilder graph = FluxTransformer.graph(c, options.linears());
        OnnxModel model = OnnxModel.create(graph, random(graph), options);
        Map<String, Object> inputs = inputs(c, imageTokens);
        java.util.function.DoubleSupplier step = () -> {
            long s = System.nanoTime();
            model.run(inputs);
            return seconds(s);
        };
        java.util.function.Supplier<String> finish = () -> {
            java.io.ByteArrayOutputStream text = new java.io.ByteArrayOutputStream();
            java.io.PrintStream out = System.out;
            System.setOut(new java.io.PrintStream(text, true));
            try {
                report(ProfiledFlops.read(model.endProfiling()));
            } finally {
                System.setOut(out);
                model.close();
                deleteFolder(folder);
            }
            return text.toString();
        };
        return new Object[]{step, finish};
    }

    /** Time shares by op, then by kind: quantized GEMMs, fp32 GEMMs, attention, norms, elementwise, layout. */
    private static void report(ProfiledFlops profile) {
        double total = profile.totalSeconds();
        Map<String, Double> kinds = new TreeMap<>();
        System.out.printf("%-28s %6s %9s %7s%n", "op", "runs", "seconds", "share");
        profile.byOp().entrySet().stream().sorted((a, b) -> Double.compare(b.getValue().seconds(), a.getValue().seconds())).forEach(e -> {
            ProfiledFlops.OpTotals t = e.getValue();
            System.out.printf("%-28s %6d %9.3f %6.1f%%%n", e.getKey(), t.runs(), t.seconds(), 100 * t.seconds() / total);
            kinds.merge(kind(e.getKey()), t.seconds(), Double::sum);
        });
        System.out.println("by kind:");
        kinds.forEach((k, s) -> System.out.printf("  %-22s %9.3f s %6.1f%%%n", k, s, 100 * s / total));
    }

    private static String kind(String op) {
        return switch (op) {
            case "MatMulNBits", "MatMulIntegerToFloat" -> "quantized GEMM";
            case "QuantizeLinear", "Abs", "ReduceMax", "Max" -> "w8a8 row quantization";
            case "Gemm", "FusedGemm", "FusedMatMul" -> "fp32 GEMM";
            case "MultiHeadAttention", "Attention", "MatMul", "Softmax" -> "attention";
            case "LayerNormalization", "SimplifiedLayerNormalization", "SkipLayerNormalization", "ReduceMean", "Sqrt",
                 "Reciprocal", "RMSNormalization" -> "norms";
            case "Transpose", "Reshape", "Concat", "Split", "Slice", "Gather", "Unsqueeze", "Squeeze", "Shape", "Identity",
                 "Expand" -> "layout";
            default -> "elementwise";
        };
    }

    private static Map<String, Object> inputs(FluxConfig c, int imageTokens) {
        Map<String, Object> in = new LinkedHashMap<>();
        in.put("hidden_states", gaussian(new long[]{1, imageTokens, c.inChannels()}, 1));
        in.put("encoder_hidden_states", gaussian(new long[]{1, TEXT_TOKENS, c.contextDim()}, 2));
        in.put("pooled_projections", gaussian(new long[]{1, c.pooledDim()}, 3));
        in.put("timestep", new FloatTensor(new long[]{1}, new float[]{0.5f}));
        // rotary tables of unit-modulus pairs: the timing does not depend on which angles
        FloatTensor angles = gaussian(new long[]{imageTokens + TEXT_TOKENS, c.headDim()}, 4);
        float[] cos = new float[angles.data().length];
        float[] sin = new float[cos.length];
        for (int i = 0; i < cos.length; i++) {
            cos[i] = (float) Math.cos(angles.data()[i]);
            sin[i] = (float) Math.sin(angles.data()[i]);
        }
        in.put("rope_cos", new FloatTensor(angles.shape(), cos));
        in.put("rope_sin", new FloatTensor(angles.shape(), sin));
        return in;
    }

    /**
     * FLUX's GEMM shapes (K = 3072; N = 3072: an attention projection, 12288: the MLP input, 9216: q, k, v stacked,
     * 21504: linear1) for M = 4096 tokens (1024x1024), as a fp32 Gemm, as MatMulNBits at accuracy level 4 (int8 in
     * blocks of 32 and 128, int4 in blocks of 32) and as w8a8 (the rows' quantization included). The variants of one N are made together and run round-robin
     * {@code rounds} times, so that they see the same machine (the best round counts); one N at a time, to stay small.
     * The FMA peak is measured before and after.
     */
    private static void gemms(int threads, int rounds) {
        System.out.printf("FMA peak before: %.1f GFLOP/s (%d threads)%n", FmaPeak.measureGflops(threads, 1.0), threads);
        long m = 4096, k = 3072;
        Map<String, Object> in = Map.of("x", gaussian(new long[]{1, m, k}, 7));
        // groups run round-robin inside: the fused shapes against the separate ones, then the formats at two widths
        java.util.List<java.util.List<Map.Entry<String, Long>>> groups = java.util.List.of(
                java.util.List.of(Map.entry("int8/32", 3072L), Map.entry("int8/32", 3 * 3072L), Map.entry("int8/32", 12288L),
                        Map.entry("int8/32", 3 * 3072L + 12288)),
                java.util.List.of(Map.entry("fp32 Gemm", 3072L), Map.entry("int8/32", 3072L), Map.entry("int8/128", 3072L), Map.entry("int4/32", 3072L),
                        Map.entry("w8a8", 3072L)),
                java.util.List.of(Map.entry("fp32 Gemm", 12288L), Map.entry("int8/32", 12288L), Map.entry("int8/128", 12288L),
                        Map.entry("int4/32", 12288L), Map.entry("w8a8", 12288L)));
        java.util.List<String> lines = new java.util.ArrayList<>();
        for (java.util.List<Map.Entry<String, Long>> group : groups) {
            String[] kinds = group.stream().map(Map.Entry::getKey).toArray(String[]::new);
            long[] ns = group.stream().mapToLong(Map.Entry::getValue).toArray();
            OnnxModel[] models = new OnnxModel[kinds.length];
            for (int i = 0; i < kinds.length; i++) {
                long n = ns[i];
                GraphBuilder g = new GraphBuilder("gemm");
                Value x = g.floatInput("x", 1, m, k);
                g.output(switch (kinds[i]) {
                    case "fp32 Gemm" -> g.linear(x, "fc", k, n, true);
                    case "int8/32" -> g.quantizedLinear(x, "fc", k, n, true, BlockFormat.INT8, 4);
                    case "int8/128" -> g.quantizedLinear(x, "fc", k, n, true, new BlockFormat(8, 128), 4);
                    case "w8a8" -> new Linears(WeightMode.W8A8, 4).linear(g, x, "fc", k, n, true);
                    default -> g.quantizedLinear(x, "fc", k, n, true, BlockFormat.INT4, 4);
                }, "y");
                models[i] = OnnxModel.create(g, random(g), RuntimeOptions.defaults().withThreads(threads).withPrepack(true));
            }
            double[] best = new double[kinds.length];
            java.util.Arrays.fill(best, Double.MAX_VALUE);
            for (int r = 0; r <= rounds; r++) {
                for (int i = 0; i < kinds.length; i++) {
                    long s = System.nanoTime();
                    models[i].run(in);
                    if (r > 0) best[i] = Math.min(best[i], seconds(s)); // round 0 warms up
                }
            }
            for (int i = 0; i < kinds.length; i++) {
                models[i].close();
                long n = ns[i];
                double gflops = 2.0 * m * k * n / best[i] / 1e9;
                lines.add(String.format("M=%d K=%d N=%-5d %-10s %7.3f s %6.0f GFLOP/s", m, k, n, kinds[i], best[i], gflops));
                System.out.println(lines.getLast());
            }
            System.out.println();
        }
        System.out.printf("FMA peak after: %.1f GFLOP/s%n", FmaPeak.measureGflops(threads, 1.0));
    }

    /**
     * FLUX's joint attention alone (24 heads of 128) on 512x512's and 1024x1024's tokens: com.microsoft.MultiHeadAttention
     * against the same as plain ops (Transpose to heads, MatMul, Softmax, MatMul, Transpose back), run alternately.
     */
    private static void attention(int threads, long[] tokenCounts) {
        System.out.printf("FMA peak before: %.1f GFLOP/s (%d threads)%n", FmaPeak.measureGflops(threads, 1.0), threads);
        for (long tokens : tokenCounts) {
            Map<String, Object> in = Map.of("q", gaussian(new long[]{1, tokens, 3072}, 1), "k", gaussian(new long[]{1, tokens, 3072}, 2),
                    "v", gaussian(new long[]{1, tokens, 3072}, 3));
            String[] kinds = {"MultiHeadAttention", "MatMul-Softmax-MatMul"};
            OnnxModel[] models = new OnnxModel[2];
            for (int i = 0; i < 2; i++) {
                GraphBuilder g = new GraphBuilder("attention");
                Value q = g.floatInput("q", 1, tokens, 3072);
                Value k = g.floatInput("k", 1, tokens, 3072);
                Value v = g.floatInput("v", 1, tokens, 3072);
                if (i == 0) {
                    g.output(g.attention(q, k, v, 24), "y");
                } else {
                    Value qh = g.transpose(g.reshape(q, 0, 0, 24, 128), 0, 2, 1, 3);
                    Value kt = g.transpose(g.reshape(k, 0, 0, 24, 128), 0, 2, 3, 1);
                    Value vh = g.transpose(g.reshape(v, 0, 0, 24, 128), 0, 2, 1, 3);
                    Value scores = g.matMul(g.mul(qh, g.scalar((float) (1 / Math.sqrt(128)))), kt);
                    Value out = g.matMul(g.softmax(scores, -1), vh);
                    g.output(g.reshape(g.transpose(out, 0, 2, 1, 3), 0, 0, 3072), "y");
                }
                models[i] = OnnxModel.create(g, random(g), RuntimeOptions.defaults().withThreads(threads));
            }
            double[] best = {Double.MAX_VALUE, Double.MAX_VALUE};
            FloatTensor[] outs = new FloatTensor[2];
            for (int r = 0; r <= 3; r++) {
                for (int i = 0; i < 2; i++) {
                    long s = System.nanoTime();
                    outs[i] = models[i].runSingle(in);
                    if (r > 0) best[i] = Math.min(best[i], seconds(s));
                }
            }
            double flops = 4.0 * tokens * tokens * 3072;
            double err = 0, ref = 0;
            for (int j = 0; j < outs[0].data().length; j++) {
                err = Math.max(err, Math.abs(outs[0].data()[j] - outs[1].data()[j]));
                ref = Math.max(ref, Math.abs(outs[0].data()[j]));
            }
            for (int i = 0; i < 2; i++) {
                models[i].close();
                System.out.printf("attention over %d tokens, %-22s %.3f s, %.0f GFLOP/s%n", tokens, kinds[i], best[i], flops / best[i] / 1e9);
            }
            System.out.printf("  max|a-b|/max|a| = %.2e%n", err / ref);
        }
        System.out.printf("FMA peak after: %.1f GFLOP/s%n", FmaPeak.measureGflops(threads, 1.0));
    }

    /** Uniform weights of unit-variance outputs (bound sqrt(3 / in)), from a cheap generator seeded by the name. */
    static OnnxModel.WeightProvider random(GraphBuilder graph) {
        Map<String, long[]> shapes = graph.weights();
        return (name, arena) -> {
            long[] shape = shapes.get(name);
            long count = FloatTensor.elementCount(shape);
            MemorySegment out = arena.allocate(count * Float.BYTES, 64);
            long state = name.hashCode() * 0x9E3779B97F4A7C15L | 1;
            boolean normScale = shape.length == 1 && name.contains("norm");
            float bound = shape.length == 2 ? (float) Math.sqrt(3.0 / shape[1]) : 0.02f;
            for (long i = 0; i < count; i++) {
                state ^= state << 13;
                state ^= state >>> 7;
                state ^= state << 17;
                float u = (state >>> 40) / (float) (1L << 24) * 2 - 1;
                out.setAtIndex(ValueLayout.JAVA_FLOAT, i, normScale ? 1 + 0.1f * u : bound * u);
            }
            return out.asByteBuffer().order(ByteOrder.nativeOrder());
        };
    }

    private static FloatTensor gaussian(long[] shape, long seed) {
        java.util.Random r = new java.util.Random(seed);
        float[] v = new float[Math.toIntExact(FloatTensor.elementCount(shape))];
        for (int i = 0; i < v.length; i++) v[i] = (float) r.nextGaussian();
        return new FloatTensor(shape, v);
    }

    private static void deleteFolder(Path folder) {
        try (var files = Files.list(folder)) {
            files.forEach(p -> p.toFile().delete());
            Files.deleteIfExists(folder);
        } catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }

    private static double seconds(long since) {
        return (System.nanoTime() - since) / 1e9;
    }
}
