package dev.easel.diffusion.pipeline;

import dev.easel.diffusion.fixtures.FixtureCase;
import dev.easel.diffusion.image.RgbImage;
import dev.easel.engine.runtime.RuntimeOptions;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * Requests merged into one batch get the images they get alone (to float rounding), on the SD 1.5 fixture model:
 * with and without guidance, with a sampler that draws noise every step (Euler a) and one that does not use it
 * (Euler), with different prompts, negative prompts, seeds and image counts; and on the SDXL fixture model, whose
 * conditioning has more inputs (pooled text embeddings, time ids) to merge.
 */
class BatchedGenerationTest {
    /**
     * Merged and alone agree to float rounding, not always bit for bit: without prepacked weights (SDXL's
     * default, to fit its memory budget) ONNX Runtime's GEMM may block a 2-row and a 4-row product
     * differently. 1e-5 of the [0, 1] range is 1/400 of an 8-bit level, so the PNGs are the same.
     */
    private static final float MAX_PIXEL_DIFFERENCE = 1e-5f;

    private static DiffusionPipeline pipeline;

    @BeforeAll
    static void load() {
        pipeline = (DiffusionPipeline) Pipelines.load(FixtureCase.requireModel("sd15"), RuntimeOptions.defaults());
    }

    @AfterAll
    static void close() {
        if (pipeline != null) pipeline.close();
    }

    static GenerationRequest request(String prompt, String negative, long seed, int n, float guidance, String sampler) {
        return new GenerationRequest(prompt, negative, 64, 48, 3, guidance, sampler, seed, n, Optional.empty(), 1f, Optional.empty());
    }

    @Test
    void withGuidanceEachRequestGetsItsOwnImages() {
        assertMergedEqualsAlone(List.of(
                request("a red cube on a table", "blurry", 11, 1, 7.5f, "euler"),
                request("a lighthouse at night", null, 22, 2, 7.5f, "euler"),
                request("a bowl of fruit", "low quality, dark", 33, 1, 7.5f, "euler")));
    }

    @Test
    void withoutGuidanceEachRequestGetsItsOwnImages() {
        assertMergedEqualsAlone(List.of(
                request("a red cube on a table", null, 5, 1, 1f, "euler"),
                request("a lighthouse at night", null, 6, 3, 0f, "euler")));
    }

    @Test
    void eulerAncestralStepNoiseComesFromEachRequestsOwnSeed() {
        assertMergedEqualsAlone(List.of(
                request("a red cube on a table", "blurry", 7, 2, 6f, "euler_a"),
                request("a lighthouse at night", null, 8, 1, 6f, "Euler a"),
                request("a bowl of fruit", "dark", 9, 1, 6f, "euler_ancestral")));
        assertMergedEqualsAlone(List.of(
                request("a red cube on a table", null, 7, 1, 1f, "euler_a"),
                request("a lighthouse at night", null, 8, 2, 1f, "euler_a")));
    }

    @Test
    void sdxlConditioningIsMergedRowForRowToo() {
        try (DiffusionPipeline sdxl = (DiffusionPipeline) Pipelines.load(FixtureCase.requireModel("sdxl"),
                RuntimeOptions.defaults())) {
            assertMergedEqualsAlone(sdxl, List.of(
                    request("portrait of a red fox wearing a scarf", null, 1, 1, 5f, "euler_a"),
                    request("a lighthouse at night", "blurry", 2, 2, 5f, "euler_a")));
            assertMergedEqualsAlone(sdxl, List.of(
                    request("portrait of a red fox wearing a scarf", null, 1, 2, 0f, "euler"),
                    request("a lighthouse at night", null, 2, 1, 0f, "euler")));
        }
    }

    @Test
    void theSameRequestTwiceInOneBatchGetsTheSameImagesTwice() {
        GenerationRequest r = request("a red cube on a table", "blurry", 3, 1, 7.5f, "euler_a");
        List<List<RgbImage>> merged = pipeline.generateBatch(List.of(r, r), ProgressListener.NONE);
        assertThat(merged.get(0).getFirst().pixels()).isEqualTo(merged.get(1).getFirst().pixels());
    }

    @Test
    void incompatibleRequestsAreRefusedNamingWhatDiffers() {
        GenerationRequest base = request("a", null, 1, 1, 7.5f, "euler");
        assertThatThrownBy(() -> pipeline.generateBatch(List.of(base,
                new GenerationRequest("b", null, 64, 48, 4, 7.5f, "euler", 2, 1, Optional.empty(), 1f, Optional.empty())),
                ProgressListener.NONE))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("request 1").hasMessageContaining("steps differ (3 vs 4)");
        assertThatThrownBy(() -> pipeline.generateBatch(List.of(base, request("b", null, 2, 1, 1f, "euler")), ProgressListener.NONE))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("guidance scale differs (7.5 vs 0.0)");
        assertThatThrownBy(() -> pipeline.generateBatch(List.of(base,
                new GenerationRequest("b", null, 64, 64, 3, 7.5f, "ddim", 2, 1, Optional.empty(), 1f, Optional.empty())),
                ProgressListener.NONE))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("height differs (48 vs 64)").hasMessageContaining("sampler differs (euler vs ddim)");
        RgbImage source = new RgbImage(64, 48, new float[64 * 48 * 3]);
        GenerationRequest edit = new GenerationRequest("b", null, 64, 48, 3, 7.5f, "euler", 2, 1, Optional.of(source), 0.5f, Optional.empty());
        assertThatThrownBy(() -> pipeline.generateBatch(List.of(base, edit), ProgressListener.NONE))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("request 1").hasMessageContaining("edit");
        assertThatThrownBy(() -> pipeline.generateBatch(List.of(), ProgressListener.NONE)).isInstanceOf(IllegalArgumentException.class);
    }

    @Test
    void anEditAloneIsABatchOfOne() {
        RgbImage source = new RgbImage(64, 48, new float[64 * 48 * 3]);
        GenerationRequest edit = new GenerationRequest("b", null, 64, 48, 4, 7.5f, "euler", 2, 1, Optional.of(source), 0.5f, Optional.empty());
        assertThat(edit.batchKey()).isEmpty();
        List<List<RgbImage>> out = pipeline.generateBatch(List.of(edit), ProgressListener.NONE);
        assertThat(out).hasSize(1);
        assertThat(out.getFirst().getFirst().pixels()).isEqualTo(pipeline.generate(edit, ProgressListener.NONE).getFirst().pixels());
    }

    @Test
    void keysIgnoreWhatOnlyChangesRowsAndSpellingsOfTheSameThing() {
        assertThat(request("a", "x", 1, 1, 7.5f, "Euler a").batchKey())
                .isEqualTo(request("b", null, 2, 3, 7.5f, "euler_ancestral").batchKey());
        assertThat(request("a", null, 1, 1, 0f, "euler").batchKey()).isEqualTo(request("a", null, 1, 1, 1f, "euler").batchKey());
        assertThat(request("a", null, 1, 1, 7f, "euler").batchKey()).isNotEqualTo(request("a", null, 1, 1, 7.5f, "euler").batchKey());
    }

    /** Runs the requests alone, then as one batch (one model call per step), and compares every pixel. */
    private static void assertMergedEqualsAlone(List<GenerationRequest> requests) {
        assertMergedEqualsAlone(pipeline, requests);
    }

    private static void assertMergedEqualsAlone(DiffusionPipeline pipeline, List<GenerationRequest> requests) {
        List<List<RgbImage>> alone = new ArrayList<>();
        for (GenerationRequest r : requests) alone.add(pipeline.generate(r, ProgressListener.NONE));

        int totalImages = requests.stream().mapToInt(GenerationRequest::imageCount).sum();
        List<Long> rowsPerStep = new ArrayList<>();
        List<List<RgbImage>> merged = pipeline.generateBatch(requests, (step, total, latents) -> rowsPerStep.add(latents.dim(0)));
        assertThat(rowsPerStep).as("one batch of every image, each step").hasSize(3).containsOnly((long) totalImages);

        assertThat(merged).hasSize(requests.size());
        for (int i = 0; i < requests.size(); i++) {
            assertThat(merged.get(i)).hasSize(requests.get(i).imageCount());
            for (int k = 0; k < requests.get(i).imageCount(); k++) {
                float[] m = merged.get(i).get(k).pixels();
                float[] a = alone.get(i).get(k).pixels();
                assertThat(m).hasSameSizeAs(a);
                float worst = 0;
                for (int p = 0; p < m.length; p++) worst = Math.max(worst, Math.abs(m[p] - a[p]));
                assertThat(worst).as("request %d image %d, merged vs alone, max difference in [0, 1] pixel values", i, k)
                        .isLessThanOrEqualTo(MAX_PIXEL_DIFFERENCE);
            }
        }
        // and the requests did not all come out alike (the comparison above could not be passed by a constant)
        assertThat(merged.get(0).getFirst().pixels()).isNotEqualTo(merged.get(1).getFirst().pixels());
    }
}
