package dev.easel.diffusion.pipeline;

import dev.easel.engine.tensor.FloatTensor;

import java.util.Map;

/** How a family turns prompts into the denoiser's conditioning inputs. */
public interface PromptConditioner extends AutoCloseable {

    /**
     * @param negativePrompt null when the user gave none
     * @param guidance       the run's guidance: classifier-free adds the negative rows, embedded is a model input
     * @return denoiser inputs by name, every one with the batch on its first axis: rows [negative x n, prompt x n]
     *         with classifier-free guidance, else [prompt x n]
     */
    Map<String, FloatTensor> condition(String prompt, String negativePrompt, int imageCount, Guidance guidance,
                                       int width, int height, PipelineTrace trace);

    long weightBytes();

    @Override
    void close();
}
