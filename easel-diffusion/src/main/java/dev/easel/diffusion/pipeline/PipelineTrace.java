package dev.easel.diffusion.pipeline;

import dev.easel.engine.tensor.FloatTensor;

/**
 * Receives a pipeline's intermediates by name, named as the reference fixtures name their files
 * (e.g. {@code text.prompt_embeds}, {@code step2.model_out}, {@code vae_decoder.output}), so tests can
 * compare every stage. Production runs use {@link #NONE}.
 */
public interface PipelineTrace {
    PipelineTrace NONE = new PipelineTrace() {
        @Override
        public boolean enabled() {
            return false;
        }

        @Override
        public void record(String name, FloatTensor value) {
        }
    };

    /** False lets the pipeline skip building values only a trace needs. */
    default boolean enabled() {
        return true;
    }

    void record(String name, FloatTensor value);
}
