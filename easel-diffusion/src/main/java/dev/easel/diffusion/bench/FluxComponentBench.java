package dev.easel.diffusion.bench;

import dev.easel.diffusion.convert.CheckpointInspector;
import dev.easel.diffusion.family.Flux;
import dev.easel.diffusion.family.ModelFiles;
import dev.easel.diffusion.model.clip.ClipTextEncoder;
import dev.easel.diffusion.model.flux.FluxDenoiser;
import dev.easel.diffusion.model.t5.T5TextEncoder;
import dev.easel.diffusion.model.vae.VaeCodec;
import dev.easel.diffusion.model.vae.VaeTiling;
import dev.easel.diffusion.noise.TorchGenerator;
import dev.easel.engine.runtime.RuntimeOptions;
import dev.easel.engine.runtime.WeightMode;
import dev.easel.engine.tensor.FloatTensor;
import dev.easel.engine.weights.WeightSource;

import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Locale;
import java.util.Map;

import static dev.easel.diffusion.bench.MemoryUsage.gib;
import static dev.easel.diffusion.bench.PipelineBench.seconds;

/**
 * Where a FLUX.1 model's memory goes: one component (transformer, t5, clip, vae) loaded alone, its resident memory
 * after loading against its weights' bytes, then one run of it at the given size (a transformer step, a T5 encoding,
 * a CLIP encoding, the VAE decode whole and in tiles), with the peak of that run and what stays resident after it.
 * Inputs are random: memory and time do not depend on the values.
 */
public final class FluxComponentBench {
    private FluxComponentBench() {
    }

    public static void run(Path model, String component, int side, RuntimeOptions options, PrintWriter out) {
        WeightMode mode = options.weightMode();
        RuntimeOptions quantized = options.prepackOr(false);
        RuntimeOptions fp32 = options.withWeights(WeightMode.FP32).prepackOr(false);
        try (Flux.Parts parts = Flux.open(CheckpointInspector.inspect(model), ModelFiles.of(model))) {
            String key = switch (component) {
                case "transformer" -> "transformer";
                case "t5" -> "text_encoder_2";
                case "clip" -> "text_encoder";
                case "vae" -> "vae";
                default -> throw new IllegalArgumentException("--component: transformer, t5, clip or vae, got " + component);
            };
            long values = 0;
            try (WeightSource w = parts.weights(key)) {
                for (String n : w.names()) values += w.info(n).elementCount();
            }
            out.printf("%s: %.3f G values (%.2f GiB as fp32); %s weights; activation arena %s%n", component, values / 1e9,
                    gib(values * 4), switch (component) {
                        case "transformer" -> mode;
                        case "t5" -> Flux.t5Weights(mode);
                        default -> WeightMode.FP32;
                    },
                    Boolean.FALSE.equals(options.activationArena()) ? "off" : "on");
            snapshot(out, "before load");
            long start = System.nanoTime();
            AnonymousPeak peak = AnonymousPeak.start();
            AutoCloseable loaded;
            long written;
            try (WeightSource w = parts.weights(key)) {
                switch (component) {
                    case "transformer" -> {
                        FluxDenoiser d = new FluxDenoiser(parts.transformer(), w, quantized);
                        loaded = d;
                        written = d.weightBytes();
                    }
                    case "t5" -> {
                        T5TextEncoder t = new T5TextEncoder(parts.t5(), w, key, quantized.withWeights(Flux.t5Weights(mode)));
                        loaded = t;
                        written = t.weightBytes();
                    }
                    case "clip" -> {
                        ClipTextEncoder c = new ClipTextEncoder(parts.clipTokenizer(), parts.clipPadId(), parts.clipL(), w, key, fp32);
                        loaded = c;
                        written = c.weightBytes();
                    }
                    default -> {
                        VaeCodec v = new VaeCodec(parts.vae(), w, fp32);
                        loaded = v;
                        written = v.weightBytes();
                    }
                }
            }
            out.printf("load: %.1f s; weights as handed to ONNX Runtime: %.2f GiB; peak anonymous during load %.2f GiB%n",
                    seconds(start), gib(written), gib(peak.stop()));
            snapshot(out, "after load");
            System.gc();
            snapshot(out, "after load and GC");
            try (AutoCloseable c = loaded) {
                for (int run = 0; run < (component.equals("transformer") ? 1 : 2); run++) {
                    MemoryUsage.resetPeak();
                    AnonymousPeak p = AnonymousPeak.start();
                    start = System.nanoTime();
                    String what = runOnce(c, parts, side, run);
                    out.printf("run %d (%s): %.1f s, peak anonymous %.2f GiB, peak RSS (since reset) %.2f GiB%n", run, what,
                            seconds(start), gib(p.stop()), gib(MemoryUsage.peakRssBytes()));
                    snapshot(out, "after run " + run);
                }
            } catch (Exception e) {
                throw new IllegalStateException(e);
            }
            out.flush();
        }
    }

    private static String runOnce(AutoCloseable component, Flux.Parts parts, int side, int run) {
        TorchGenerator random = new TorchGenerator(run);
        switch (component) {
            case FluxDenoiser d -> {
                int tokens = (side / 16) * (side / 16);
                int text = parts.textTokens();
                Map<String, FloatTensor> conditioning = new HashMap<>();
                conditioning.put(FluxDenoiser.ENCODER_HIDDEN_STATES, random.next(1, text, parts.transformer().contextDim()));
                conditioning.put(FluxDenoiser.POOLED_PROJECTIONS, random.next(1, parts.transformer().pooledDim()));
                float[] img = new float[tokens * 3];
                for (int t = 0; t < tokens; t++) {
                    img[t * 3 + 1] = t / (side / 16);
                    img[t * 3 + 2] = t % (side / 16);
                }
                conditioning.put(FluxDenoiser.IMG_IDS, new FloatTensor(new long[]{1, tokens, 3}, img));
                conditioning.put(FluxDenoiser.TXT_IDS, new FloatTensor(new long[]{1, text, 3}, new float[text * 3]));
                if (parts.guidanceDistilled()) conditioning.put(FluxDenoiser.GUIDANCE, new FloatTensor(new long[]{1}, new float[]{3.5f}));
                d.predict(random.next(1, tokens, 64), 1f, conditioning);
                return "transformer step, " + side + "x" + side + ", " + tokens + " image + " + text + " text tokens";
            }
            case T5TextEncoder t -> {
                long[] ids = new long[parts.textTokens()];
                for (int i = 0; i < ids.length; i++) ids[i] = 100 + i;
                t.encode(ids);
                return "T5 encoding, " + ids.length + " tokens";
            }
            case ClipTextEncoder c -> {
                c.encode("a photograph of an astronaut riding a horse");
                return "CLIP-L encoding";
            }
            case VaeCodec v -> {
                FloatTensor latents = random.next(1, (int) parts.vae().latentChannels(), side / 8, side / 8);
                if (run == 0) v.decodeWhole(latents);
                else v.decodeTiled(latents, VaeTiling.DEFAULT);
                return "VAE decode " + side + "x" + side + (run == 0 ? " whole" : " in tiles");
            }
            default -> throw new IllegalArgumentException(component.toString());
        }
    }

    /** Resident memory by kind, this process's high-water mark and the Java heap. */
    static void snapshot(PrintWriter out, String when) {
        Runtime rt = Runtime.getRuntime();
        out.printf(Locale.ROOT, "  %s: RSS %.2f GiB (anonymous %.2f, file %.2f, shmem %.2f), high-water %.2f GiB; Java heap %.2f used of %.2f GiB committed%n",
                when, gib(MemoryUsage.rssBytes()), gib(MemoryUsage.anonymousRssBytes()), gib(MemoryUsage.statusField("RssFile:")), gib(MemoryUsage.statusField("RssShmem:")),
                gib(MemoryUsage.peakRssBytes()), gib(rt.totalMemory() - rt.freeMemory()), gib(rt.totalMemory()));
        out.flush();
    }
}
