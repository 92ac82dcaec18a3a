package dev.easel.server.support;

import dev.easel.diffusion.image.RgbImage;
import dev.easel.diffusion.pipeline.GenerationRequest;
import dev.easel.diffusion.pipeline.ImagePipeline;
import dev.easel.diffusion.pipeline.ProgressListener;
import dev.easel.engine.tensor.FloatTensor;
import dev.easel.server.catalog.PipelineLoader;

import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;

/**
 * Fake pipelines for several nodes in one JVM that hold any call running a chosen prompt after its first step,
 * whichever node claimed it, until the test opens that prompt's gate; every call is recorded with the node that made it.
 */
public final class PromptGates {
    /** A pipeline call: the node that made it and its requests. */
    public record Call(String node, List<GenerationRequest> requests) {
        public List<String> prompts() {
            return requests.stream().map(GenerationRequest::prompt).toList();
        }
    }

    public final List<Call> calls = new CopyOnWriteArrayList<>();
    /** When each preview was made ({@link System#nanoTime}), on whichever node, in order. */
    public final List<Long> previewNanos = new CopyOnWriteArrayList<>();
    /** How long each denoising step of every node's fake takes. */
    public volatile long stepMillis;
    private final Map<String, GatedPipeline.Gate> gates = new ConcurrentHashMap<>();

    /** Holds the call that runs {@code prompt} after its first step until the gate opens. */
    public GatedPipeline.Gate hold(String prompt) {
        return gates.computeIfAbsent(prompt, p -> new GatedPipeline.Gate());
    }

    /** The node whose call ran {@code prompt}, or null. */
    public String ranOn(String prompt) {
        return calls.stream().filter(c -> c.prompts().contains(prompt)).map(Call::node).findFirst().orElse(null);
    }

    /** The prompts of every call in call order, one string per call ("a+b" for a batch). */
    public List<String> order() {
        return calls.stream().map(c -> String.join("+", c.prompts())).toList();
    }

    /** The loader of node {@code node}: fake pipelines with these gates. */
    public PipelineLoader loader(String node) {
        return path -> new Pipeline(node, new FakePipeline());
    }

    private final class Pipeline extends DelegatingPipeline {
        private final String node;
        private final FakePipeline fake;

        Pipeline(String node, FakePipeline fake) {
            this.node = node;
            this.fake = fake;
        }

        @Override
        protected ImagePipeline delegate() {
            return fake;
        }

        @Override
        public List<List<RgbImage>> generateBatch(List<GenerationRequest> requests, ProgressListener progress) {
            calls.add(new Call(node, List.copyOf(requests)));
            fake.stepMillis = stepMillis;
            GatedPipeline.Gate gate = requests.stream().map(r -> gates.get(r.prompt())).filter(g -> g != null).findFirst().orElse(null);
            return fake.generateBatch(requests, (step, total, latents) -> {
                if (gate != null && step == 1) gate.pass();
                progress.onStep(step, total, latents);
            });
        }

        @Override
        public RgbImage preview(FloatTensor latents, int index) {
            previewNanos.add(System.nanoTime());
            return fake.preview(latents, index);
        }
    }
}
