package dev.easel.diffusion.bench;

import dev.easel.diffusion.convert.DiffusersFolder;
import dev.easel.diffusion.model.unet.UNet2DCondition;
import dev.easel.diffusion.model.unet.UNetConfig;
import dev.easel.diffusion.model.vae.AutoencoderKL;
import dev.easel.diffusion.model.vae.VaeConfig;
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
import dev.easel.engine.tensor.FloatTensor;
import dev.easel.engine.weights.WeightSource;

import java.io.IOException;
import java.io.PrintWriter;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Optional;

/**
 * Times a real-size text-to-image run with guidance on a random-weight checkpoint: text encoding,
 * seconds per UNet step, VAE decode, peak RSS, and achieved GFLOP/s (FLOPs counted from ONNX Runtime's
 * profile of the executed graphs) over this machine's FMA peak, measured in the same run.
 */
public final class PipelineBench {
    private PipelineBench() {
    }

    public record Settings(Path cache, int width, int height, int steps, RuntimeOptions options) {
    }

    public static void runStableDiffusion15(Settings s, PrintWriter out) {
        out.printf("FMA peak (%d threads, %d-lane vectors): measuring...%n", s.options().threads(), FmaPeak.vectorLanes());
        out.flush();
        double peak = FmaPeak.measureGflops(s.options().threads(), 1.0);
        out.printf("FMA peak: %.1f GFLOP/s%n", peak);

        long t0 = System.nanoTime();
        Path checkpoint = RandomCheckpoint.stableDiffusion15(s.cache());
        out.printf("random-weight SD 1.5 checkpoint: %s (%.1f s)%n", checkpoint, seconds(t0));
        out.flush();

        Map<String, Double> at = new LinkedHashMap<>();
        long loadStart = System.nanoTime();
        FloatTensor lastLatents;
        FloatTensor context;
        try (DiffusionPipeline pipeline = (DiffusionPipeline) Pipelines.load(checkpoint, s.options())) {
            out.printf("load: %.1f s, RSS %.2f GiB (peak so far %.2f GiB)%n", seconds(loadStart), gib(MemoryUsage.rssBytes()), gib(MemoryUsage.peakRssBytes()));
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
        DiffusersFolder folder = DiffusersFolder.open(checkpoint);
        try {
            RuntimeOptions profiled = s.options().withProfiling(Files.createTempDirectory("easel-profile"));
            try (WeightSource w = folder.weights("unet");
                 OnnxModel unet = ComponentLoader.load("unet", UNet2DCondition.graph(UNetConfig.fromDiffusers(folder.config("unet"))), w, profiled)) {
                unet.runSingle(Map.of("sample", FloatTensor.concat(lastLatents, lastLatents),
                        "timestep", new FloatTensor(new long[]{2}, new float[]{500, 500}), "encoder_hidden_states", context));
                unetFlops = ProfiledFlops.read(unet.endProfiling());
            }
            try (WeightSource w = folder.weights("vae");
                 OnnxModel decoder = ComponentLoader.load("vae", AutoencoderKL.decoder(VaeConfig.fromDiffusers(folder.config("vae"))), w, profiled)) {
                decoder.runSingle(Map.of("latent", lastLatents));
                vaeFlops = ProfiledFlops.read(decoder.endProfiling());
            }
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

    private static double seconds(long since) {
        return (System.nanoTime() - since) / 1e9;
    }

    private static double gib(long bytes) {
        return bytes / (1024.0 * 1024 * 1024);
    }
}
