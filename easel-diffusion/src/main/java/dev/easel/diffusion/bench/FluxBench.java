package dev.easel.diffusion.bench;

import dev.easel.diffusion.convert.CheckpointInspector;
import dev.easel.diffusion.convert.DetectedCheckpoint;
import dev.easel.diffusion.family.Flux;
import dev.easel.diffusion.family.ModelFamily;
import dev.easel.diffusion.family.ModelFiles;
import dev.easel.diffusion.model.flux.FluxConfig;
import dev.easel.diffusion.model.t5.T5Config;
import dev.easel.diffusion.noise.TorchGenerator;
import dev.easel.diffusion.pipeline.DiffusionPipeline;
import dev.easel.diffusion.pipeline.GenerationRequest;
import dev.easel.diffusion.pipeline.PipelineTrace;
import dev.easel.diffusion.pipeline.Pipelines;
import dev.easel.diffusion.pipeline.ProgressListener;
import dev.easel.engine.bench.FmaPeak;
import dev.easel.engine.tensor.FloatTensor;

import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Optional;

import static dev.easel.diffusion.bench.MemoryUsage.gib;
import static dev.easel.diffusion.bench.PipelineBench.seconds;

/**
 * FLUX.1 text-to-image (schnell's recipe: no guidance, flow-matching Euler) on the real-size random-weight
 * FLUX.1-schnell ({@link RandomFlux}) or on a given transformer file with its components beside it (safetensors or
 * GGUF): load, text encoding (CLIP-L and T5), seconds per transformer step, VAE decode, peak RSS (the kernel's
 * high-water mark, which counts the pages of the mapped checkpoint files it may drop at will, and the sampled peak of
 * anonymous memory, which it may not), and GFLOP/s over this machine's FMA peak measured in the same run. FLOPs are
 * counted from the model's shapes ({@link FluxFlops}).
 */
public final class FluxBench {
    private FluxBench() {
    }

    public static void run(PipelineBench.Settings s, Optional<Path> checkpoint, PrintWriter out) {
        double peak = PipelineBench.measureFmaPeak(s, out);

        long t0 = System.nanoTime();
        if (checkpoint.isEmpty()) {
            out.printf("random-weight FLUX.1-schnell: %.1f GiB of files (bf16 transformer, fp16 T5-XXL, CLIP-L, AE); disk free under %s: %.1f GiB%n",
                    gib(RandomFlux.Shapes.schnell().bytes()), s.cache().toAbsolutePath(), gib(usableSpace(s.cache())));
            out.flush();
        }
        Path model = checkpoint.orElseGet(() -> RandomFlux.schnell(s.cache()));
        out.printf("%s FLUX.1 transformer: %s (%.1f s)%n", checkpoint.isPresent() ? "given" : "random-weight", model, seconds(t0));
        out.flush();
        DetectedCheckpoint detected = CheckpointInspector.inspect(model);
        if (detected.family() != ModelFamily.FLUX) {
            throw new IllegalArgumentException(model + " is a " + detected.family().displayName() + " checkpoint, not FLUX.1");
        }
        FluxConfig transformer;
        T5Config t5;
        int textTokens;
        try (Flux.Parts parts = Flux.open(detected, ModelFiles.of(model))) {
            transformer = parts.transformer();
            t5 = parts.t5();
            textTokens = parts.textTokens();
        }

        AnonymousPeak anonymous = AnonymousPeak.start();
        Map<String, Double> at = new LinkedHashMap<>();
        Map<String, Long> phasePeaks = new LinkedHashMap<>();
        long loadStart = System.nanoTime();
        double load;
        String mode;
        try (DiffusionPipeline pipeline = (DiffusionPipeline) Pipelines.load(model, s.options())) {
            load = seconds(loadStart);
            mode = pipeline.weightMode().toString();
            out.printf("load (%s weights): %.1f s, RSS %.2f GiB (anonymous %.2f GiB; peak so far %.2f GiB, anonymous %.2f GiB)%n", mode, load,
                    gib(MemoryUsage.rssBytes()), gib(MemoryUsage.anonymousRssBytes()), gib(MemoryUsage.peakRssBytes()), gib(anonymous.peak()));
            out.flush();
            GenerationRequest request = new GenerationRequest("a photograph of an astronaut riding a horse", null,
                    s.width(), s.height(), s.steps(), 0f, "euler", 42, 1, Optional.empty(), 1f, Optional.empty());
            anonymous.peakAndRestart();
            long runStart = System.nanoTime();
            pipeline.generate(request, ProgressListener.NONE, new TorchGenerator(42), new PipelineTrace() {
                @Override
                public void record(String name, FloatTensor value) {
                    at.putIfAbsent(name, seconds(runStart));
                    if (name.endsWith(".model_out") || name.equals("model_in.encoder_hidden_states") || name.equals("vae_decoder.output")) {
                        // the peak of the phase that ends here: text encoding, a step, the decode
                        long phasePeak = anonymous.peakAndRestart();
                        phasePeaks.put(name, phasePeak);
                        out.printf("  %s at %.1f s (RSS %.2f GiB, anonymous %.2f GiB; peak anonymous since the last mark %.2f GiB)%n",
                                name, seconds(runStart), gib(MemoryUsage.rssBytes()), gib(MemoryUsage.anonymousRssBytes()), gib(phasePeak));
                        out.flush();
                    } else if (name.equals("step0.model_in.hidden_states")) {
                        anonymous.peakAndRestart();
                    }
                }
            });
        }
        long peakRss = MemoryUsage.peakRssBytes();
        long peakAnonymous = anonymous.stop();

        double text = at.get("model_in.encoder_hidden_states");
        double[] step = new double[s.steps()];
        for (int i = 0; i < s.steps(); i++) step[i] = at.get("step" + i + ".model_out") - at.get("step" + i + ".model_in.hidden_states");
        double decode = at.get("vae_decoder.output") - at.get("step" + (s.steps() - 1) + ".model_out");

        long imageTokens = (long) (s.width() / 16) * (s.height() / 16);
        double stepFlops = FluxFlops.transformerStep(transformer, imageTokens, textTokens);
        double t5Flops = FluxFlops.t5(t5, textTokens);
        peak = Math.max(peak, FmaPeak.measureGflops(s.options().threads(), 1.0));

        out.printf("%nFLUX.1 %dx%d (%d image + %d text tokens), %s weights, %d steps%n", s.width(), s.height(), imageTokens, textTokens,
                mode, s.steps());
        out.printf("FMA peak (best of the measurements before and after): %.1f GFLOP/s%n", peak);
        out.printf("load: %.1f s%n", load);
        out.printf("text encoding (CLIP-L + T5, %.2f TFLOP in T5; T5's load included where it is loaded for each prompt): %.2f s "
                + "= %.0f GFLOP/s; peak anonymous memory %.2f GiB%n", t5Flops / 1e12, text, t5Flops / text / 1e9,
                gib(phasePeaks.getOrDefault("model_in.encoder_hidden_states", -1L)));
        double best = Double.MAX_VALUE;
        for (int i = 0; i < step.length; i++) {
            out.printf("transformer step %d: %.2f s, peak anonymous memory %.2f GiB%n", i, step[i],
                    gib(phasePeaks.getOrDefault("step" + i + ".model_out", -1L)));
            if (i > 0 || step.length == 1) best = Math.min(best, step[i]);
        }
        out.printf("VAE decode: %.2f s, peak anonymous memory %.2f GiB%n", decode, gib(phasePeaks.getOrDefault("vae_decoder.output", -1L)));
        out.printf("peak RSS: %.2f GiB (high-water mark, mapped checkpoint pages included); peak anonymous memory: %.2f GiB (sampled)%n",
                gib(peakRss), gib(peakAnonymous));
        double gflops = stepFlops / best / 1e9;
        out.printf("%nsummary: %s, %dx%d: transformer %.2f s/step (%.1f TFLOP counted from the shapes) = %.0f GFLOP/s = %.0f%% of the "
                        + "%.0f GFLOP/s FMA peak; T5 %.2f s; VAE decode %.2f s; load %.1f s; peak RSS %.2f GiB, anonymous %.2f GiB%n",
                mode, s.width(), s.height(), best, stepFlops / 1e12, gflops, 100 * gflops / peak, peak, text, decode, load,
                gib(peakRss), gib(peakAnonymous));
        out.flush();
    }

    private static long usableSpace(Path cache) {
        try {
            Path existing = cache.toAbsolutePath();
            while (existing != null && !Files.exists(existing)) existing = existing.getParent();
            return existing == null ? -1 : Files.getFileStore(existing).getUsableSpace();
        } catch (java.io.IOException e) {
            return -1;
        }
    }
}
