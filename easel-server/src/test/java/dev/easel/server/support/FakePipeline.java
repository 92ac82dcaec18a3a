package dev.easel.server.support;

import dev.easel.diffusion.family.ModelFamily;
import dev.easel.diffusion.image.RgbImage;
import dev.easel.diffusion.pipeline.BatchKey;
import dev.easel.diffusion.pipeline.GenerationRequest;
import dev.easel.diffusion.pipeline.ImagePipeline;
import dev.easel.diffusion.pipeline.InvalidRequestException;
import dev.easel.diffusion.pipeline.ModelDefaults;
import dev.easel.diffusion.pipeline.ProgressListener;
import dev.easel.engine.tensor.FloatTensor;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * An in-test pipeline for the queue, limits and HTTP tests: images are flat colors derived from the seed
 * (so reproducibility is checkable), each step can take a set time, and every request and batch is recorded.
 */
public class FakePipeline implements ImagePipeline {
    public volatile long stepMillis;
    /** A prompt the fake refuses as invalid (to test how errors reach each request of a batch). */
    public static final String REJECTED_PROMPT = "reject me";
    public final List<GenerationRequest> requests = new CopyOnWriteArrayList<>();
    /** Every pipeline call's requests, in call order. */
    public final List<List<GenerationRequest>> batches = new CopyOnWriteArrayList<>();
    public final AtomicInteger stepsRun = new AtomicInteger();
    public final AtomicBoolean closed = new AtomicBoolean();
    private final long memoryBytes;

    public FakePipeline(long stepMillis, long memoryBytes) {
        this.stepMillis = stepMillis;
        this.memoryBytes = memoryBytes;
    }

    public FakePipeline() {
        this(0, 1 << 20);
    }

    @Override
    public ModelFamily family() {
        return ModelFamily.SD15;
    }

    @Override
    public ModelDefaults defaults() {
        return new ModelDefaults(512, 512, 4, 7.5f, "euler", 0.75f);
    }

    @Override
    public List<List<RgbImage>> generateBatch(List<GenerationRequest> batch, ProgressListener progress) {
        BatchKey.requireCompatible(batch);
        for (GenerationRequest r : batch) {
            if ("bogus".equals(r.sampler())) throw new InvalidRequestException("sampler", "unknown sampler 'bogus'");
            if (REJECTED_PROMPT.equals(r.prompt())) throw new InvalidRequestException("prompt", "this prompt is refused");
            if (r.initImage().isPresent() && (r.initImage().get().width() != r.width() || r.initImage().get().height() != r.height())) {
                throw new IllegalStateException("init image size differs from the request size");
            }
        }
        batches.add(List.copyOf(batch));
        requests.addAll(batch);
        GenerationRequest r = batch.getFirst();
        int rows = batch.stream().mapToInt(GenerationRequest::imageCount).sum();
        int steps = r.initImage().isPresent() ? Math.max(1, Math.round(r.steps() * r.strength())) : r.steps();
        // row i of the latents holds i, so previews show which row they were made from
        FloatTensor latents = FloatTensor.zeros(rows, 4, r.height() / 8, r.width() / 8);
        int plane = latents.size() / rows;
        for (int i = 0; i < rows; i++) java.util.Arrays.fill(latents.data(), i * plane, (i + 1) * plane, i);
        for (int s = 1; s <= steps; s++) {
            if (stepMillis > 0) {
                try {
                    Thread.sleep(stepMillis);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
            }
            stepsRun.incrementAndGet();
            progress.onStep(s, steps, latents);
        }
        List<List<RgbImage>> out = new ArrayList<>();
        for (GenerationRequest q : batch) {
            List<RgbImage> images = new ArrayList<>();
            for (int i = 0; i < q.imageCount(); i++) images.add(flat(q.width(), q.height(), color(q.seed(), i)));
            out.add(images);
        }
        return out;
    }

    /** The color image {@code index} of a run with {@code seed} has. */
    public static float[] color(long seed, int index) {
        long h = (seed + 1) * 0x9E3779B97F4A7C15L + index * 0xC2B2AE3D27D4EB4FL;
        return new float[]{((h >>> 8) & 0xff) / 255f, ((h >>> 16) & 0xff) / 255f, ((h >>> 24) & 0xff) / 255f};
    }

    static RgbImage flat(int w, int h, float[] rgb) {
        float[] px = new float[w * h * 3];
        for (int i = 0; i < w * h; i++) {
            px[i * 3] = rgb[0];
            px[i * 3 + 1] = rgb[1];
            px[i * 3 + 2] = rgb[2];
        }
        return new RgbImage(w, h, px);
    }

    /** A flat image whose red level is the value of the latents' row {@code index} / 10 (the fake's latents hold the row number). */
    @Override
    public RgbImage preview(FloatTensor latents, int index) {
        float row = latents.data()[index * (latents.size() / (int) latents.dim(0))];
        return flat((int) latents.dim(3), (int) latents.dim(2), new float[]{row / 10f, 0.5f, 0.5f});
    }

    @Override
    public long memoryBytes() {
        return memoryBytes;
    }

    @Override
    public void close() {
        closed.set(true);
    }
}
