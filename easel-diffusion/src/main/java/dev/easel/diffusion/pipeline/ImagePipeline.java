package dev.easel.diffusion.pipeline;

import dev.easel.diffusion.family.ModelFamily;
import dev.easel.diffusion.image.RgbImage;
import dev.easel.engine.tensor.FloatTensor;

import java.util.List;

/** A loaded model family ready to make images. Thread-safe for one generation at a time per instance. */
public interface ImagePipeline extends AutoCloseable {

    /** The model's family: its size rule, what edits it takes. */
    ModelFamily family();

    /** The recipe the model runs with when a request leaves things out. */
    ModelDefaults defaults();

    /**
     * Makes {@code request.imageCount()} images: the one-request case of {@link #generateBatch}.
     *
     * @throws InvalidRequestException  for a request this model cannot run (size, steps, strength, sampler)
     * @throws GenerationCancelled      when the listener cancels
     */
    default List<RgbImage> generate(GenerationRequest request, ProgressListener progress) {
        return generateBatch(List.of(request), progress).getFirst();
    }

    /**
     * Runs several requests as one batch (one model call per step for all their images) and gives each its
     * images, in request order. A request gets exactly the images it gets alone: each draws its noise from its
     * own seed, and its rows of the batch never mix with the others'. Requests must agree on their
     * {@link BatchKey} (size, steps, guidance, sampler; text-to-image only); one request of any kind always runs.
     * The listener sees the whole batch's latents, rows in request order ({@code imageCount()} rows each).
     *
     * @throws IllegalArgumentException for requests that cannot run as one batch ({@link BatchKey#requireCompatible})
     * @throws InvalidRequestException  when one of the requests is one this model cannot run
     * @throws GenerationCancelled      when the listener cancels
     */
    List<List<RgbImage>> generateBatch(List<GenerationRequest> requests, ProgressListener progress);

    /** A cheap preview of the current latents of image {@code index}, without running the VAE decoder. */
    RgbImage preview(FloatTensor latents, int index);

    /** How the model's big linear layers hold their weights (fp32, int8, int4, w8a8): what {@code /v1/models} shows. */
    default dev.easel.engine.runtime.WeightMode weightMode() {
        return dev.easel.engine.runtime.WeightMode.FP32;
    }

    /** Bytes of weights this pipeline holds in memory (for the model cache budget). */
    long memoryBytes();

    @Override
    void close();
}
