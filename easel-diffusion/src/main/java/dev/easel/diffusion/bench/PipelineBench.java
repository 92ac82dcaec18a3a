package dev.easel.diffusion.bench;

import dev.easel.diffusion.convert.CheckpointInspector;
import dev.easel.diffusion.convert.DetectedCheckpoint;
import dev.easel.diffusion.convert.DiffusersFolder;
import dev.easel.diffusion.family.ModelFamily;
import dev.easel.diffusion.family.StableDiffusion15;
import dev.easel.diffusion.family.StableDiffusionParts;
import dev.easel.diffusion.family.StableDiffusionXL;
import dev.easel.diffusion.model.unet.UNet2DCondition;
import dev.easel.diffusion.model.unet.UNetConfig;
import dev.easel.diffusion.model.vae.AutoencoderKL;
import dev.easel.diffusion.model.vae.TiledDecoding;
import dev.easel.diffusion.model.vae.VaeCodec;
import dev.easel.diffusion.model.vae.VaeConfig;
import dev.easel.diffusion.model.vae.VaeTiling;
import dev.easel.diffusion.model.ComponentLoader;
import dev.easel.diffusion.pipeline.DiffusionPipeline;
import dev.easel.diffusion.pipeline.GenerationRequest;
import dev.easel.diffusion.pipeline.PipelineTrace;
import dev.easel.diffusion.pipeline.Pipelines;
import dev.easel.diffusion.pipeline.ProgressListener;
import dev.easel.diffusion.noise.TorchGenerator;
import dev.easel.engine.bench.FmaPeak;
import dev.easel.engine.runtime.OnnxModel;
import dev.easel.engine.runtime.ProfiledFlops;
import dev.easel.engine.runtime.RuntimeOptions;
import dev.easel.engine.runtime.WeightMode;
import dev.easel.engine.tensor.FloatTensor;
import dev.easel.engine.weights.WeightSource;

import java.io.IOException;
import java.io.PrintWriter;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

import static dev.easel.diffusion.bench.MemoryUsage.gib;

/**
 * Times a real-size text-to-image run on a random-weight checkpoint (SD 1.5 with guidance; SDXL as Lightning runs
 * it): text encoding, seconds per UNet step, VAE decode, peak RSS, and achieved GFLOP/s (FLOPs counted from ONNX
 * Runtime's profile of the executed graphs) over this machine's FMA peak, measured in the same run.
 */
public final class PipelineBench {
    private PipelineBench() {
    }

    public record Settings(Path cache, int width, int height, int steps, RuntimeOptions options) {
    }

    /**
     * The FMA peak at the start of a bench, printed. Its warm-up's garbage briefly grows the heap, so the peak RSS is
     * measured from after it: the model's, not the measurement's.
     */
    static double measureFmaPeak(Settings s, PrintWriter out) {
        out.printf("FMA peak (%d threads, %d-lane vectors): measuring...%n", s.options().threads(), FmaPeak.vectorLanes());
        out.flush();
        double peak = FmaPeak.measureGflops(s.options().threads(), 1.0);
        out.printf("FMA peak: %.1f GFLOP/s%n", peak);
        MemoryUsage.resetPeak();
        return peak;
    }

    public static void runStableDiffusion15(Settings s, PrintWriter out) {
        double peak = measureFmaPeak(s, out);

        long t0 = System.nanoTime();
        Path checkpoint = RandomCheckpoint.stableDiffusion15(s.cache());
        out.printf("random-weight SD 1.5 checkpoint: %s (%.1f s)%n", checkpoint, seconds(t0));
        out.flush();

        Map<String, Double> at = new LinkedHashMap<>();
        long loadStart = System.nanoTime();
        FloatTensor lastLatents;
        FloatTensor context;
        try (DiffusionPipeline pipeline = (DiffusionPipeline) Pipelines.load(checkpoint, s.options())) {
            out.printf("load (%s weights): %.1f s, RSS %.2f GiB (peak so far %.2f GiB)%n", pipeline.weightMode(), seconds(loadStart), gib(MemoryUsage.rssBytes()), gib(MemoryUsage.peakRssBytes()));
            GenerationRequest request = new GenerationRequest("a photograph of an astronaut riding a horse",
                    "blurry, low quality", s.width(), s.height(), s.steps(), 7.5f, "euler", 42, 1,
                    Optional.empty(), 1f, Optional.empty());
            Map<String, FloatTensor> kept = new HashMap<>();
            long runStart = System.nanoTime();
            pipeline.generate(request, ProgressListener.NONE, new TorchGenerator(42), new PipelineTrace() {
                @Override
                public void record(String name, FloatTensor value) {
                    at.put(name, seconds(runStart));
                    if (name.equals("model_in.encoder_hidden_states") || name.endsWith(".latents")) kept.put(name, value);
                }
            });
            lastLatents = kept.get("step" + (s.steps() - 1) + ".latents");
            context = kept.get("model_in.encoder_hidden_states");
        }
        long peakRss = MemoryUsage.peakRssBytes();
        double text = at.get("model_in.encoder_hidden_states");
        double[] step = new double[s.steps()];
        for (int i = 0; i < s.steps(); i++) step[i] = at.get("step" + i + ".model_out") - at.get("step" + i + ".model_in.sample");
        double decode = at.get("vae_decoder.output") - at.get("step" + (s.steps() - 1) + ".latents");

        out.printf("%nSD 1.5 %dx%d, CFG (batch 2), %d steps%n", s.width(), s.height(), s.steps());
        out.printf("text encoding (prompt + negative): %.2f s%n", text);
        double best = Double.MAX_VALUE;
        for (int i = 0; i < step.length; i++) {
            out.printf("UNet step %d: %.2f s%n", i, step[i]);
            if (i > 0 || step.length == 1) best = Math.min(best, step[i]);
        }
        out.printf("VAE decode: %.2f s%n", decode);
        out.printf("peak RSS: %.2f GiB%n", gib(peakRss));
        out.flush();

        // FLOPs of the executed graphs: one profiled UNet step and one profiled decode, on their own.
        ProfiledFlops unetFlops;
        ProfiledFlops vaeFlops;
        try (StableDiffusionParts parts = StableDiffusion15.open(CheckpointInspector.inspect(checkpoint))) {
            RuntimeOptions profiled = s.options().weightsOr(WeightMode.FP32).prepackOr(true).withProfiling(Files.createTempDirectory("easel-profile"));
            unetFlops = profiledUNetStep(parts, profiled, Map.of("sample", FloatTensor.concat(lastLatents, lastLatents),
                    "timestep", new FloatTensor(new long[]{2}, new float[]{500, 500}), "encoder_hidden_states", context));
            vaeFlops = profiledDecode(parts, profiled, lastLatents, Optional.empty());
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        // The machine may be shared: measure the peak again and keep the better figure.
        peak = Math.max(peak, FmaPeak.measureGflops(s.options().threads(), 1.0));
        out.printf("FMA peak (best of the measurements before and after): %.1f GFLOP/s%n", peak);
        report(out, "UNet step", unetFlops, best, peak);
        report(out, "VAE decode", vaeFlops, decode, peak);
        out.printf("%nsummary: UNet %.2f s/step = %.0f GFLOP/s = %.0f%% of the %.0f GFLOP/s FMA peak; VAE decode %.2f s; peak RSS %.2f GiB%n",
                best, unetFlops.totalFlops() / best / 1e9, 100 * unetFlops.totalFlops() / best / 1e9 / peak, peak, decode, gib(peakRss));
        out.flush();
    }

    /**
     * SDXL text-to-image as SDXL Lightning runs it (no guidance, Euler on trailing timesteps) on the real-size
     * random-weight SDXL checkpoint, or on {@code checkpoint} when given (any SDXL single file or diffusers folder,
     * e.g. a tiny test model to check that the bench runs): text encoding, seconds per UNet step, VAE decode whole
     * and tiled (time and peak RSS each), peak RSS, and achieved GFLOP/s over the FMA peak for the UNet and both
     * decodes, FLOPs counted from ONNX Runtime's profiles.
     */
    public static void runStableDiffusionXL(Settings s, Optional<Path> checkpoint, PrintWriter out) {
        checkpoint.ifPresent(PipelineBench::requireSdxl);
        double peak = measureFmaPeak(s, out);

        long t0 = System.nanoTime();
        Path model = checkpoint.orElseGet(() -> RandomCheckpoint.stableDiffusionXL(s.cache()));
        out.printf("%s SDXL checkpoint: %s (%.1f s)%n", checkpoint.isPresent() ? "given" : "random-weight", model, seconds(t0));
        out.flush();
        DetectedCheckpoint detected = requireSdxl(model);

        Map<String, Double> at = new LinkedHashMap<>();
        Map<String, FloatTensor> kept = new HashMap<>();
        String last = "step" + (s.steps() - 1) + ".latents";
        long loadStart = System.nanoTime();
        try (DiffusionPipeline pipeline = (DiffusionPipeline) Pipelines.load(model, s.options())) {
            out.printf("load (%s weights, prepacking %s): %.1f s, RSS %.2f GiB (peak so far %.2f GiB)%n", pipeline.weightMode(),
                    s.options().weightsOr(WeightMode.FP32).prepackOr(false).prepackWeights() ? "on" : "off", seconds(loadStart),
                    gib(MemoryUsage.rssBytes()), gib(MemoryUsage.peakRssBytes()));
            GenerationRequest request = new GenerationRequest("a photograph of an astronaut riding a horse", null,
                    s.width(), s.height(), s.steps(), 0f, "euler", 42, 1, Optional.empty(), 1f, Optional.empty());
            long runStart = System.nanoTime();
            pipeline.generate(request, ProgressListener.NONE, new TorchGenerator(42), new PipelineTrace() {
                @Override
                public void record(String name, FloatTensor value) {
                    at.put(name, seconds(runStart));
                    if (name.startsWith("model_in.") || name.equals(last)) kept.put(name, value);
                }
            });
        }
        long peakRss = MemoryUsage.peakRssBytes();
        double text = at.get("model_in.time_ids");
        double[] step = new double[s.steps()];
        for (int i = 0; i < s.steps(); i++) step[i] = at.get("step" + i + ".model_out") - at.get("step" + i + ".model_in.sample");
        double pipelineDecode = at.get("vae_decoder.output") - at.get(last);
        FloatTensor latents = kept.get(last);

        out.printf("%nSDXL %dx%d, no guidance (batch 1), %d steps%n", s.width(), s.height(), s.steps());
        out.printf("text encoding (CLIP-L + OpenCLIP-G): %.2f s%n", text);
        double best = Double.MAX_VALUE;
        for (int i = 0; i < step.length; i++) {
            out.printf("UNet step %d: %.2f s%n", i, step[i]);
            if (i > 0 || step.length == 1) best = Math.min(best, step[i]);
        }
        VaeTiling byMemory = dev.easel.engine.runtime.SystemMemory.availableBytes().stream()
                .mapToObj(VaeTiling::forAvailableMemory).findFirst().orElse(VaeTiling.DEFAULT);
        boolean tiledByDefault = byMemory.tiles(latents.dim(2), latents.dim(3));
        out.printf("VAE decode in the pipeline (%s): %.2f s%n", tiledByDefault ? "tiled, " + byMemory : "whole, as the memory available allows", pipelineDecode);
        out.printf("peak RSS of the run: %.2f GiB%n", gib(peakRss));
        out.flush();

        try (StableDiffusionParts parts = StableDiffusionXL.open(detected)) {
            // Both decodes on their own, each after resetting the peak, so that each one's memory shows.
            FloatTensor z = unscale(latents, parts.vae());
            Decode whole;
            Decode tiled;
            try (WeightSource w = parts.weights("vae"); VaeCodec vae = new VaeCodec(parts.vae(), w, s.options().withWeights(WeightMode.FP32).prepackOr(false))) {
                tiled = timedDecode(() -> vae.decodeTiled(z, VaeTiling.DEFAULT));
                whole = timedDecode(() -> vae.decodeWhole(z));
            }
            out.printf("VAE decode whole: %.2f s, peak RSS %.2f GiB over the %.2f GiB before%n", whole.seconds(),
                    gib(whole.peakRss() - whole.rssBefore()), gib(whole.rssBefore()));
            out.printf("VAE decode tiled (%s, %dx%d tiles): %.2f s, peak RSS %.2f GiB over the %.2f GiB before%n", VaeTiling.DEFAULT,
                    VaeTiling.DEFAULT.split((int) z.dim(2)).count(), VaeTiling.DEFAULT.split((int) z.dim(3)).count(),
                    tiled.seconds(), gib(tiled.peakRss() - tiled.rssBefore()), gib(tiled.rssBefore()));
            out.flush();

            // FLOPs of the executed graphs: one profiled UNet step and each decode, on their own.
            RuntimeOptions profiled = s.options().weightsOr(WeightMode.FP32).prepackOr(false).withProfiling(Files.createTempDirectory("easel-profile"));
            Map<String, FloatTensor> inputs = new HashMap<>();
            inputs.put("sample", latents);
            inputs.put("timestep", new FloatTensor(new long[]{1}, new float[]{500}));
            for (String name : List.of("encoder_hidden_states", "text_embeds", "time_ids")) inputs.put(name, kept.get("model_in." + name));
            ProfiledFlops unetFlops = profiledUNetStep(parts, profiled, inputs);
            ProfiledFlops wholeFlops = profiledDecode(parts, profiled, z, Optional.empty());
            ProfiledFlops tiledFlops = profiledDecode(parts, profiled, z, Optional.of(VaeTiling.DEFAULT));
            // The machine may be shared: measure the peak again and keep the better figure.
            peak = Math.max(peak, FmaPeak.measureGflops(s.options().threads(), 1.0));
            out.printf("FMA peak (best of the measurements before and after): %.1f GFLOP/s%n", peak);
            report(out, "UNet step", unetFlops, best, peak);
            report(out, "VAE decode, whole", wholeFlops, whole.seconds(), peak);
            report(out, "VAE decode, tiled", tiledFlops, tiled.seconds(), peak);
            out.printf("%nsummary: UNet %.2f s/step = %.0f GFLOP/s = %.0f%% of the %.0f GFLOP/s FMA peak; "
                            + "VAE decode whole %.2f s (+%.2f GiB), tiled %.2f s (+%.2f GiB); peak RSS of the run %.2f GiB%n",
                    best, unetFlops.totalFlops() / best / 1e9, 100 * unetFlops.totalFlops() / best / 1e9 / peak, peak,
                    whole.seconds(), gib(whole.peakRss() - whole.rssBefore()), tiled.seconds(), gib(tiled.peakRss() - tiled.rssBefore()),
                    gib(peakRss));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        out.flush();
    }

    /** FLOPs of one UNet call on {@code inputs}, counted from ONNX Runtime's profile. */
    private static ProfiledFlops profiledUNetStep(StableDiffusionParts parts, RuntimeOptions profiled, Map<String, FloatTensor> inputs) {
        try (WeightSource w = parts.weights("unet");
             OnnxModel unet = ComponentLoader.load("unet", UNet2DCondition.graph(parts.unet(), profiled.linears()), w, profiled)) {
            unet.runSingle(inputs);
            return ProfiledFlops.read(unet.endProfiling());
        }
    }

    /** FLOPs of decoding the un-scaled latents {@code z}, whole or in tiles, counted from ONNX Runtime's profile. */
    private static ProfiledFlops profiledDecode(StableDiffusionParts parts, RuntimeOptions profiled, FloatTensor z,
                                                Optional<VaeTiling> tiling) {
        try (WeightSource w = parts.weights("vae");
             OnnxModel decoder = ComponentLoader.load("vae", AutoencoderKL.decoder(parts.vae()), w, profiled.withWeights(WeightMode.FP32))) {
            if (tiling.isPresent()) {
                TiledDecoding.decode(z, tiling.get(), 1 << (parts.vae().levels() - 1), tile -> decoder.run(Map.of("latent", tile)));
            } else {
                decoder.runSingle(Map.of("latent", z));
            }
            return ProfiledFlops.read(decoder.endProfiling());
        }
    }

    private static DetectedCheckpoint requireSdxl(Path model) {
        DetectedCheckpoint detected = CheckpointInspector.inspect(model);
        if (detected.family() != ModelFamily.SDXL) {
            throw new IllegalArgumentException(model + " is a " + detected.family().displayName() + " checkpoint, not SDXL");
        }
        return detected;
    }

    private record Decode(double seconds, long rssBefore, long peakRss) {
    }

    /**
     * Times one decode, with the RSS before it and the peak during it (where the peak can be reset, Linux; else the
     * process's peak so far).
     */
    private static Decode timedDecode(java.util.function.Supplier<Map<String, FloatTensor>> decode) {
        System.gc();
        MemoryUsage.resetPeak();
        long before = MemoryUsage.rssBytes();
        long start = System.nanoTime();
        decode.get();
        return new Decode(seconds(start), before, MemoryUsage.peakRssBytes());
    }

    private static FloatTensor unscale(FloatTensor latents, VaeConfig vae) {
        float[] z = new float[latents.size()];
        for (int i = 0; i < z.length; i++) z[i] = latents.data()[i] / vae.scalingFactor() + vae.shiftFactor();
        return new FloatTensor(latents.shape(), z);
    }

    private static void report(PrintWriter out, String what, ProfiledFlops flops, double seconds, double peak) {
        double gflops = flops.totalFlops() / seconds / 1e9;
        out.printf("%n%s: %.3f TFLOP counted, %.2f s measured -> %.0f GFLOP/s (%.0f%% of peak)%n", what,
                flops.totalFlops() / 1e12, seconds, gflops, 100 * gflops / peak);
        flops.byOp().entrySet().stream()
                .sorted((a, b) -> Double.compare(b.getValue().seconds(), a.getValue().seconds()))
                .limit(8)
                .forEach(e -> out.printf("  %-22s %5d runs %8.3f s (profiled) %8.1f GFLOP%n", e.getKey(), e.getValue().runs(),
                        e.getValue().seconds(), e.getValue().flops() / 1e9));
    }

    /** Seconds since {@code since} (a System.nanoTime() reading). */
    static double seconds(long since) {
        return (System.nanoTime() - since) / 1e9;
    }
}
