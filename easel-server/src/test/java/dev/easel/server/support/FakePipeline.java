package dev.easel.server.support;

import dev.easel.diffusion.image.RgbImage;
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
 * (so reproducibility is checkable), each step can take a set time, and every request is recorded.
 */
public class FakePipeline implements ImagePipeline {
    public volatile long stepMillis;
    public final List<GenerationRequest> requests = new CopyOnWriteArrayList<>();
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
    public String family() {
        return "sd15";
    }

    @Override
    public ModelDefaults defaults() {
        return new ModelDefaults(512, 512, 4, 7.5f, "euler");
    }

    @Override
    public int sizeMultiple() {
        return 8;
    }

    @Override
    public List<RgbImage> generate(GenerationRequest r, ProgressListener progress) {
        if ("bogus".equals(r.sampler())) throw new InvalidRequestException("sampler", "unknown sampler 'bogus'");
        if (r.initImage().isPresent() && (r.initImage().get().width() != r.width() || r.initImage().get().height() != r.height())) {
            throw new IllegalStateException("init image size differs from the request size");
        }
        requests.add(r);
        int steps = r.initImage().isPresent() ? Math.max(1, Math.round(r.steps() * r.strength())) : r.steps();
        FloatTensor latents = FloatTensor.zeros(r.imageCount(), 4, r.height() / 8, r.width() / 8);
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
        List<RgbImage> images = new ArrayList<>();
        for (int i = 0; i < r.imageCount(); i++) images.add(flat(r.width(), r.height(), color(r.seed(), i)));
        return images;
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

    @Override
    public RgbImage preview(FloatTensor latents, int index) {
        return flat((int) latents.dim(3), (int) latents.dim(2), new float[]{0.5f, 0.5f, 0.5f});
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
