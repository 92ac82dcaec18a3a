package dev.easel.diffusion.pipeline;

import dev.easel.engine.tensor.FloatTensor;

import java.util.Map;

/** How a family turns prompts into the denoiser's conditioning inputs. */
public interface PromptConditioner extends AutoCloseable {

    /**
     * @param negativePrompt null when the user gave none
     * @param guidance       whether classifier-free guidance is on
     * @return denoiser inputs by name, batch rows [negative x n, prompt x n] with guidance, else [prompt x n]
     */
    Map<String, FloatTensor> condition(String prompt, String negativePrompt, int imageCount, boolean guidance,
                                       int width, int height, PipelineTrace trace);

    long weightBytes();

    @Override
    void close();
}
