package dev.easel.diffusion.model.t5;

import dev.easel.diffusion.fixtures.FixtureCase;
import dev.easel.diffusion.model.ComponentLoader;
import dev.easel.engine.runtime.RuntimeOptions;
import dev.easel.engine.tensor.FloatTensor;
import dev.easel.engine.weights.DType;
import dev.easel.engine.weights.RenamedWeights;
import dev.easel.engine.weights.SafetensorsFile;
import dev.easel.engine.weights.SafetensorsWriter;
import dev.easel.engine.weights.TensorData;
import dev.easel.engine.weights.WeightSource;
import dev.easel.engine.weights.WeightsException;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

class T5EncoderTest {
    private static final String COMPONENT = "text_encoder_2";
    /** A small T5 of its own, for checkpoints written here: 2 heads x 8, 2 layers, a 100-token vocabulary. */
    private static final T5Config SMALL = new T5Config(16, 8, 2, 24, 2, 32, 128, 100, 1e-6f,
            T5Config.FeedForward.GATED_GELU_TANH);

    @TempDir
    Path temp;

    /** The text_encoder_2 folders of the fixtures that hold a T5 encoder (config.json model_type t5). */
    private static List<Path> fixtureT5Folders() {
        List<Path> out = new ArrayList<>();
        for (Path family : FixtureCase.families()) {
            Path folder = family.resolve("diffusers").resolve(COMPONENT);
            if (Files.isRegularFile(folder.resolve("config.json"))
                    && "t5".equals(FixtureCase.readJson(folder.resolve("config.json")).path("model_type").asText())) {
                out.add(folder);
            }
        }
        assumeTrue(!out.isEmpty(), "no family of the fixtures has a T5 " + COMPONENT);
        return out;
    }

    private static Path weightsFile(Path folder) {
        Path file = folder.resolve("model.safetensors");
        assumeTrue(Files.isRegularFile(file), folder + " has no model.safetensors");
        return file;
    }

    @Test
    void inferFromTheTensorsEqualsTheConfigJson() {
        for (Path folder : fixtureT5Folders()) {
            T5Config declared = T5Config.fromHuggingFace(FixtureCase.readJson(folder.resolve("config.json")));
            try (SafetensorsFile w = SafetensorsFile.open(weightsFile(folder))) {
                T5Config inferred = ComponentLoader.inferConfig(COMPONENT, w, T5Config::infer);
                assertThat(inferred).as(folder.toString()).isEqualTo(declared);
                // the parameter list is exactly what a transformers T5EncoderModel file holds
                assertThat(T5Encoder.parameters(inferred).keySet()).as(folder.toString())
                        .containsExactlyInAnyOrderElementsOf(w.names());
            }
        }
    }

    /** The embedding stored only as encoder.embed_tokens.weight is the same model. */
    @Test
    void embeddingUnderTheEncodersNameIsAccepted() {
        Path folder = fixtureT5Folders().getFirst();
        T5Config config = T5Config.fromHuggingFace(FixtureCase.readJson(folder.resolve("config.json")));
        long[] ids = {100, 7, 31000, 5, 1, 0, 0, 0};
        try (SafetensorsFile w = SafetensorsFile.open(weightsFile(folder))) {
            Map<String, String> names = new LinkedHashMap<>();
            for (String n : w.names()) names.put(n.equals("shared.weight") ? "encoder.embed_tokens.weight" : n, n);
            WeightSource renamed = new RenamedWeights(w, "embedding as encoder.embed_tokens", names, Map.of());
            assertThat(ComponentLoader.inferConfig(COMPONENT, renamed, T5Config::infer)).isEqualTo(config);
            try (T5TextEncoder reference = new T5TextEncoder(config, w, COMPONENT, RuntimeOptions.defaults());
                 T5TextEncoder other = new T5TextEncoder(config, renamed, COMPONENT, RuntimeOptions.defaults())) {
                FloatTensor expected = reference.encode(ids);
                assertThat(expected.shape()).containsExactly(1, ids.length, config.dModel());
                assertThat(other.encode(ids).data()).containsExactly(expected.data());
            }
        }
    }

    @Test
    void aMissingTensorIsNamed() {
        Map<String, long[]> params = new LinkedHashMap<>(T5Encoder.parameters(SMALL));
        String missing = "encoder.block.1.layer.1.DenseReluDense.wo.weight";
        params.remove(missing);
        Path file = writeRandom("missing.safetensors", params);
        try (SafetensorsFile w = SafetensorsFile.open(file)) {
            assertThatThrownBy(() -> new T5TextEncoder(SMALL, w, COMPONENT, RuntimeOptions.defaults()))
                    .isInstanceOf(WeightsException.class)
                    .hasMessageContaining(file.toString())
                    .hasMessageContaining("tensor '" + missing + "' is missing");
        }
    }

    @Test
    void aT5OfAnotherWidthIsRejectedNamingTheTensors() {
        T5Config wider = new T5Config(24, SMALL.dKv(), SMALL.heads(), SMALL.dFf(), SMALL.layers(),
                SMALL.relativeAttentionNumBuckets(), 128, SMALL.vocabSize(), 1e-6f, SMALL.feedForward());
        Path file = writeRandom("wider.safetensors", T5Encoder.parameters(wider));
        try (SafetensorsFile w = SafetensorsFile.open(file)) {
            assertThatThrownBy(() -> new T5TextEncoder(SMALL, w, COMPONENT, RuntimeOptions.defaults()))
                    .isInstanceOf(WeightsException.class)
                    .hasMessageContaining("tensor 'encoder.block.0.layer.0.SelfAttention.k.weight' has shape [16, 24], expected [16, 16]");
        }
    }

    @Test
    void oneTensorOfTheWrongWidthIsNamed() {
        Map<String, long[]> params = new LinkedHashMap<>(T5Encoder.parameters(SMALL));
        String odd = "encoder.block.1.layer.1.DenseReluDense.wi_1.weight";
        params.put(odd, new long[]{SMALL.dFf() + 8, SMALL.dModel()});
        Path file = writeRandom("odd.safetensors", params);
        try (SafetensorsFile w = SafetensorsFile.open(file)) {
            T5Config inferred = ComponentLoader.inferConfig(COMPONENT, w, T5Config::infer);
            assertThat(inferred).isEqualTo(SMALL);
            assertThatThrownBy(() -> new T5TextEncoder(inferred, w, COMPONENT, RuntimeOptions.defaults()))
                    .isInstanceOf(WeightsException.class)
                    .hasMessageContaining("tensor '" + odd + "' has shape [32, 16], expected [24, 16]");
        }
    }

    @Test
    void queryRowsThatDoNotSplitIntoTheHeadsAreReported() {
        Map<String, long[]> params = new LinkedHashMap<>(T5Encoder.parameters(SMALL));
        String bias = "encoder.block.0.layer.0.SelfAttention.relative_attention_bias.weight";
        params.put(bias, new long[]{32, 3});
        Path file = writeRandom("heads.safetensors", params);
        try (SafetensorsFile w = SafetensorsFile.open(file)) {
            assertThatThrownBy(() -> ComponentLoader.inferConfig(COMPONENT, w, T5Config::infer))
                    .isInstanceOf(WeightsException.class)
                    .hasMessageContaining("tensor '" + bias + "' [32, 3]")
                    .hasMessageContaining("16 query rows do not split into 3 heads");
        }
    }

    @Test
    void xxlHasTheParameterCountOfT5XxlsEncoder() {
        long total = T5Encoder.parameters(T5Config.xxl()).values().stream()
                .mapToLong(FloatTensor::elementCount).sum();
        assertThat(total).isEqualTo(4_762_310_656L);
        assertThat(T5Config.xxl().innerDim()).isEqualTo(4096);
    }

    /**
     * Buckets of the bidirectional scheme with 32 buckets and max distance 128, worked out by hand: 16 per
     * direction (keys after the query from 16), exact below 8, then 8 + floor(8 log(d/8) / log 16) up to 15.
     */
    @Test
    void positionBucketsFollowT5sBidirectionalScheme() {
        int length = 600;
        long[] buckets = T5Encoder.positionBuckets(length, 32, 128);
        int query = 550;
        Map<Integer, Long> expected = new LinkedHashMap<>();
        expected.put(0, 0L);
        expected.put(1, 17L);
        expected.put(-1, 1L);
        expected.put(-7, 7L);
        expected.put(7, 23L);
        expected.put(-8, 8L);
        expected.put(-11, 8L);
        expected.put(-12, 9L);
        expected.put(-16, 10L);
        expected.put(-22, 10L);
        expected.put(-23, 11L);
        expected.put(-32, 12L);
        expected.put(-45, 12L);
        expected.put(-46, 13L);
        expected.put(-64, 14L);
        expected.put(-90, 14L);
        expected.put(-91, 15L);
        expected.put(-128, 15L);
        expected.put(-550, 15L);
        expected.put(32, 28L);
        expected.put(49, 29L);
        expected.forEach((relative, bucket) ->
                assertThat(buckets[query * length + query + relative]).as("relative position " + relative).isEqualTo(bucket));
        // the bucket depends only on key - query
        assertThat(buckets[3 * length + 10]).isEqualTo(buckets[103 * length + 110]);
        assertThat(buckets[599 * length]).isEqualTo(15L);
        assertThat(buckets[599]).isEqualTo(31L);
    }

    /** A checkpoint of random fp16 values with these tensors. */
    private Path writeRandom(String name, Map<String, long[]> params) {
        SplittableRandom random = new SplittableRandom(7);
        List<SafetensorsWriter.Entry> entries = new ArrayList<>();
        for (Map.Entry<String, long[]> p : params.entrySet()) {
            entries.add(new SafetensorsWriter.Entry(p.getKey(), DType.F16, p.getValue(),
                    TensorData.generated(DType.F16, FloatTensor.elementCount(p.getValue()), (chunk, n) -> {
                        for (int i = 0; i < n; i++) chunk[i] = (float) random.nextGaussian() * 0.1f;
                    })));
        }
        Path file = temp.resolve(name);
        SafetensorsWriter.write(file, entries);
        return file;
    }
}
