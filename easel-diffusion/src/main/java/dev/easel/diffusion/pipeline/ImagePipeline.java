package dev.easel.diffusion.pipeline;

import dev.easel.diffusion.image.RgbImage;
import dev.easel.engine.tensor.FloatTensor;

import java.util.List;

/** A loaded model family ready to make images. Thread-safe for one generation at a time per instance. */
public interface ImagePipeline extends AutoCloseable {

    /** Family id: "sd15", "sdxl", "flux". */
    String family();

    /** The recipe the family runs with when a request leaves things out. */
    ModelDefaults defaults();

    /** Size constraint: width and height must be multiples of this. */
    int sizeMultiple();

    /**
     * Makes {@code request.imageCount()} images.
     *
     * @throws InvalidRequestException  for a request this model cannot run (size, steps, strength, sampler)
     * @throws GenerationCancelled      when the listener cancels
     */
    List<RgbImage> generate(GenerationRequest request, ProgressListener progress);

    /** A cheap preview of the current latents of image {@code index}, without running the VAE decoder. */
    RgbImage preview(FloatTensor latents, int index);

    /** Bytes of weights this pipeline holds in memory (for the model cache budget). */
    long memoryBytes();

    @Override
    void close();
}
