package dev.easel.server.support;

import dev.easel.diffusion.image.RgbImage;
import dev.easel.diffusion.pipeline.GenerationRequest;
import dev.easel.diffusion.pipeline.ImagePipeline;
import dev.easel.diffusion.pipeline.ModelDefaults;
import dev.easel.diffusion.pipeline.ProgressListener;
import dev.easel.engine.tensor.FloatTensor;
import dev.easel.server.catalog.PipelineLoader;

import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

/**
 * A real pipeline seen from the test: every call's requests are recorded, and a call can be held after its
 * first step until the test opens its gate (so that requests can be lined up behind it, or a client can leave
 * while its batch runs).
 */
public final class GatedPipeline extends DelegatingPipeline {
    /** Every {@link #generateBatch} call's requests, in call order. */
    public final List<List<GenerationRequest>> calls = new CopyOnWriteArrayList<>();
    private final Map<Integer, Gate> gates = new ConcurrentHashMap<>();
    private volatile ImagePipeline delegate;

    /** A loader that loads with {@code real} and hands out this wrapper. */
    public PipelineLoader loader(PipelineLoader real) {
        return path -> {
            delegate = real.load(path);
            return this;
        };
    }

    /** Holds call number {@code index} (0 = the first) after its first step until the gate is opened. */
    public Gate holdCall(int index) {
        return gates.computeIfAbsent(index, i -> new Gate());
    }

    public static final class Gate {
        private final CountDownLatch reached = new CountDownLatch(1);
        private final CountDownLatch open = new CountDownLatch(1);

        public void awaitReached() throws InterruptedException {
            if (!reached.await(30, TimeUnit.SECONDS)) throw new AssertionError("the held call did not start in 30 s");
        }

        public void open() {
            open.countDown();
        }

        /** Called by the held call: tells the test it is there, then waits for the gate to open. */
        void pass() {
            reached.countDown();
            try {
                if (!open.await(30, TimeUnit.SECONDS)) throw new AssertionError("the gate was not opened in 30 s");
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
    }

    @Override
    public List<List<RgbImage>> generateBatch(List<GenerationRequest> requests, ProgressListener progress) {
        Gate gate;
        synchronized (this) {
            gate = gates.get(calls.size());
            calls.add(List.copyOf(requests));
        }
        return delegate.generateBatch(requests, (step, total, latents) -> {
            if (gate != null && step == 1) {
                gate.reached.countDown();
                try {
                    if (!gate.open.await(30, TimeUnit.SECONDS)) throw new AssertionError("the gate was not opened in 30 s");
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
            }
            progress.onStep(step, total, latents);
        });
    }

    @Override
    protected ImagePipeline delegate() {
        return delegate;
    }
}
