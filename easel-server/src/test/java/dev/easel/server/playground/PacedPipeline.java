package dev.easel.server.playground;

import dev.easel.server.support.DelegatingPipeline;
import dev.easel.diffusion.image.RgbImage;
import dev.easel.diffusion.pipeline.GenerationCancelled;
import dev.easel.diffusion.pipeline.GenerationRequest;
import dev.easel.diffusion.pipeline.ImagePipeline;
import dev.easel.diffusion.pipeline.ModelDefaults;
import dev.easel.diffusion.pipeline.ProgressListener;
import dev.easel.engine.tensor.FloatTensor;
import dev.easel.server.catalog.PipelineLoader;

import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * A real pipeline whose steps take at least {@link Pacing#stepMillis} (so that a browser can see its previews and
 * cancel it mid-run), and that records how its last call ended. Images are the real pipeline's, untouched.
 */
final class PacedPipeline extends DelegatingPipeline {
    /** Steps the last call finished, and how it ended: "running", "completed", "cancelled" or "failed". */
    final AtomicInteger lastSteps = new AtomicInteger();
    volatile String lastOutcome = "none";
    private final ImagePipeline delegate;
    private final Pacing pacing;

    private PacedPipeline(ImagePipeline delegate, Pacing pacing) {
        this.delegate = delegate;
        this.pacing = pacing;
    }

    /** A loader whose every model is {@code real}'s, paced by the one {@code Pacing} knob. */
    static PipelineLoader loader(PipelineLoader real, Pacing pacing) {
        return path -> pacing.track(new PacedPipeline(real.load(path), pacing));
    }

    /** The pacing and the records of every pipeline the loader made. */
    static final class Pacing {
        private final List<PacedPipeline> loaded = new CopyOnWriteArrayList<>();
        volatile long stepMillis;

        PacedPipeline track(PacedPipeline p) {
            loaded.add(p);
            return p;
        }

        /** The pipeline that ran most recently (there is one model in use at a time in these tests). */
        PacedPipeline last() {
            return loaded.getLast();
        }
    }

    @Override
    public List<List<RgbImage>> generateBatch(List<GenerationRequest> requests, ProgressListener progress) {
        lastSteps.set(0);
        lastOutcome = "running";
        try {
            List<List<RgbImage>> images = delegate.generateBatch(requests, (step, total, latents) -> {
                long pause = pacing.stepMillis;
                if (pause > 0) {
                    try {
                        Thread.sleep(pause);
                    } catch (InterruptedException e) {
                        Thread.currentThread().interrupt();
                    }
                }
                lastSteps.set(step);
                progress.onStep(step, total, latents);
            });
            lastOutcome = "completed";
            return images;
        } catch (GenerationCancelled e) {
            lastOutcome = "cancelled";
            throw e;
        } catch (RuntimeException e) {
            lastOutcome = "failed";
            throw e;
        }
    }

    @Override
    protected ImagePipeline delegate() {
        return delegate;
    }
}
