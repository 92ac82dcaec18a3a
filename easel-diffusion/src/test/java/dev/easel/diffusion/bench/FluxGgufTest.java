package dev.easel.diffusion.bench;

import dev.easel.diffusion.convert.BflFluxNames;
import dev.easel.diffusion.convert.CheckpointInspector;
import dev.easel.diffusion.family.Flux;
import dev.easel.diffusion.family.ModelFamily;
import dev.easel.diffusion.family.ModelFiles;
import dev.easel.diffusion.noise.TorchGenerator;
import dev.easel.diffusion.pipeline.DiffusionPipeline;
import dev.easel.diffusion.pipeline.GenerationRequest;
import dev.easel.diffusion.pipeline.PipelineTrace;
import dev.easel.diffusion.pipeline.Pipelines;
import dev.easel.diffusion.pipeline.ProgressListener;
import dev.easel.engine.quant.BlockFormat;
import dev.easel.engine.quant.QuantizedWeight;
import dev.easel.engine.runtime.RuntimeOptions;
import dev.easel.engine.runtime.WeightMode;
import dev.easel.engine.tensor.FloatTensor;
import dev.easel.engine.weights.SafetensorsFile;
import dev.easel.engine.weights.WeightsException;
import dev.easel.engine.weights.gguf.GgufFile;
import dev.easel.engine.weights.gguf.GgufType;
import dev.easel.engine.weights.gguf.GgufWriter;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.lang.foreign.Arena;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * FLUX.1 from GGUF files: the transformer as city96 writes it (BFL names, {@code general.architecture = flux}) and
 * the T5 encoder as llama.cpp names it, written here with our GGUF writer from a tiny random FLUX.1 of the real
 * layout, loaded through the pipeline and compared with the same model loaded from its safetensors files.
 */
class FluxGgufTest {
    /** llama.cpp's names of a T5 encoder's block parts, by transformers' (the mapping under test, written out by hand). */
    private static final Map<String, String> LLAMA_T5 = Map.of(
            "layer.0.SelfAttention.q", "attn_q", "layer.0.SelfAttention.k", "attn_k", "layer.0.SelfAttention.v", "attn_v",
            "layer.0.SelfAttention.o", "attn_o", "layer.0.SelfAttention.relative_attention_bias", "attn_rel_b",
            "layer.0.layer_norm", "attn_norm", "layer.1.DenseReluDense.wi_0", "ffn_gate", "layer.1.DenseReluDense.wi_1", "ffn_up",
            "layer.1.DenseReluDense.wo", "ffn_down", "layer.1.layer_norm", "ffn_norm");

    @TempDir
    Path dir;

    @Test
    void inspectorTellsAGgufFluxTransformerAndRefusesAT5() {
        Path transformer = RandomFlux.write(dir, "tiny", FluxBenchTest.TINY);
        Path gguf = RandomFlux.transformerGguf(transformer, FluxBenchTest.TINY, GgufType.Q8_0);
        assertThat(CheckpointInspector.inspect(gguf).family()).isEqualTo(ModelFamily.FLUX);
        Path t5 = t5Gguf(transformer, GgufType.Q8_0);
        assertThat(CheckpointInspector.component(t5)).contains(dev.easel.diffusion.convert.FluxFiles.Component.T5);
        assertThatThrownBy(() -> CheckpointInspector.inspect(t5)).hasMessageContaining("T5 text encoder");
    }

    /** q, k and v are row ranges of the stored qkv: from Q8_0 they reach MatMulNBits as the stored blocks, not requantized. */
    @Test
    void q8BlocksOfStackedQkvGoToMatMulNBitsAsStored() {
        Path transformer = RandomFlux.write(dir, "tiny", FluxBenchTest.TINY);
        Path gguf = RandomFlux.transformerGguf(transformer, FluxBenchTest.TINY, GgufType.Q8_0);
        try (GgufFile file = GgufFile.open(gguf); Arena arena = Arena.ofConfined()) {
            var view = BflFluxNames.view(file);
            long h = FluxBenchTest.TINY.transformer().hidden();
            float[] stored = floats(file.float32("double_blocks.0.img_attn.qkv.weight", arena));
            QuantizedWeight k = view.quantized("transformer_blocks.0.attn.to_k.weight", BlockFormat.INT8, arena).orElseThrow();
            assertThat(k.rows()).isEqualTo(h);
            float[] values = k.dequantize();
            for (int i = 0; i < values.length; i++) assertThat(values[i]).isEqualTo(stored[(int) (h * h) + i]);
        }
    }

    /**
     * A GGUF model and a safetensors model holding the GGUF's own values, in the mode the GGUF's blocks give: the
     * same images. Quantizing Q8_0's or Q4_0's values again gives back the same integers and scales (the block's
     * extreme is exactly 127 or -8 steps), so the stored blocks and the load-time quantizer must agree to the bit.
     */
    @Test
    void q8AndQ4FilesRunExactlyAsTheirValuesQuantizedAtLoad() throws java.io.IOException {
        Path transformer = RandomFlux.write(dir, "tiny", FluxBenchTest.TINY);
        for (GgufType type : List.of(GgufType.Q8_0, GgufType.Q4_0)) {
            WeightMode mode = type == GgufType.Q8_0 ? WeightMode.INT8 : WeightMode.INT4;
            Path gguf = RandomFlux.transformerGguf(transformer, FluxBenchTest.TINY, type);
            Path t5 = t5Gguf(transformer, type);
            ModelFiles ggufFiles = new ModelFiles(gguf, Optional.empty(), Optional.empty(), Optional.of(t5));
            Map<String, FloatTensor> fromGguf = run(ggufFiles, RuntimeOptions.defaults().withWeights(mode), mode);
            Path values = Files.createDirectories(dir.resolve("values-" + type));
            Path valuesTransformer = asSafetensors(gguf, values.resolve(RandomFlux.TRANSFORMER), n -> n);
            Path valuesT5 = asSafetensors(t5, values.resolve(RandomFlux.T5), FluxGgufTest::hfName);
            Map<String, FloatTensor> fromValues = run(new ModelFiles(valuesTransformer, Optional.of(transformer.resolveSibling(RandomFlux.AE)),
                    Optional.of(transformer.resolveSibling(RandomFlux.CLIP_L)), Optional.of(valuesT5)), RuntimeOptions.defaults().withWeights(mode), mode);
            for (String stage : List.of("text.prompt_embeds", "step0.model_out", "step1.model_out", "vae_decoder.output")) {
                assertThat(fromGguf.get(stage).data()).as(type + " " + stage).containsExactly(fromValues.get(stage).data());
            }
            // Against the bf16/fp16 files the GGUF was made from, in the same mode with fp32 compute: the same integers,
            // the scales rounded to fp16 (2^-11 relative at most per weight, compounded over the layers of a path).
            RuntimeOptions fp32Compute = RuntimeOptions.defaults().withAccuracyLevel(0);
            Map<String, FloatTensor> fromOriginal = run(new ModelFiles(transformer, Optional.empty(), Optional.empty(),
                    Optional.of(transformer.resolveSibling(RandomFlux.T5))), fp32Compute.withWeights(mode), mode);
            Map<String, FloatTensor> fromGgufFp32Compute = run(ggufFiles, fp32Compute.withWeights(mode), mode);
            for (String stage : List.of("text.prompt_embeds", "step1.model_out", "vae_decoder.output")) {
                assertThat(relativeError(fromGgufFp32Compute.get(stage), fromOriginal.get(stage))).as(type + " " + stage).isLessThan(1e-2);
            }
            // No --weights: the mode the blocks give (Q8_0's run w8a8 where the CPU allows, quantized again per channel:
            // another computation than the blocks as stored; QuantizedAccuracyTest measures how far each mode is from fp32).
            WeightMode byDefault = Flux.quantizedDefault(mode);
            Map<String, FloatTensor> fromGgufByDefault = run(ggufFiles, RuntimeOptions.defaults(), byDefault);
            if (byDefault != mode) {
                assertThat(relativeError(fromGgufByDefault.get("step0.model_out"), fromGguf.get("step0.model_out")))
                        .as(type + " as " + byDefault + " against its blocks as stored").isPositive();
            }
        }
    }

    @Test
    void aTensorOfTheWrongShapeIsRefusedNamingFileAndTensor() {
        Path transformer = RandomFlux.write(dir, "tiny", FluxBenchTest.TINY);
        Path bad = transformer.resolveSibling("bad.gguf");
        List<GgufWriter.Entry> entries = new ArrayList<>();
        FluxBenchTest.TINY.transformerParameters().forEach((name, shape) -> {
            long[] s = name.equals("double_blocks.0.img_attn.proj.weight") ? new long[]{shape[0], shape[1] + 32} : shape;
            GgufType type = s.length == 2 ? GgufType.Q8_0 : GgufType.F32;
            entries.add(new GgufWriter.Entry(name, type, s, RandomCheckpoint.chunks(name, s, 1)));
        });
        GgufWriter.write(bad, Map.of("general.architecture", "flux"), entries);
        assertThatThrownBy(() -> Pipelines.load(bad, RuntimeOptions.defaults()).close())
                .isInstanceOf(WeightsException.class)
                .hasMessageContaining("bad.gguf").hasMessageContaining("double_blocks.0.img_attn.proj.weight");
    }

    private static Map<String, FloatTensor> run(ModelFiles files, RuntimeOptions options, WeightMode expected) {
        Map<String, FloatTensor> stages = new HashMap<>();
        try (DiffusionPipeline pipeline = (DiffusionPipeline) Pipelines.load(files, options)) {
            assertThat(pipeline.weightMode()).isEqualTo(expected);
            pipeline.generate(new GenerationRequest("a lighthouse at dusk", null, 32, 32, 2, 0f, "euler", 7, 1,
                    Optional.empty(), 1f, Optional.empty()), ProgressListener.NONE, new TorchGenerator(7), new PipelineTrace() {
                @Override
                public void record(String name, FloatTensor value) {
                    stages.put(name, value);
                }
            });
        }
        return stages;
    }

    /** The model's T5 (fp16 safetensors beside the transformer) as a llama.cpp GGUF: its blocks' linears in {@code type}. */
    private static Path t5Gguf(Path transformer, GgufType type) {
        Path out = transformer.resolveSibling("t5-" + type + ".gguf");
        List<GgufWriter.Entry> entries = new ArrayList<>();
        try (SafetensorsFile t5 = SafetensorsFile.open(transformer.resolveSibling(RandomFlux.T5)); Arena arena = Arena.ofConfined()) {
            for (String name : t5.names()) {
                long[] shape = t5.info(name).shape();
                // the block linears quantized; the embedding (gathered, fp32 in every mode) and the norms as stored
                GgufType stored = name.startsWith("encoder.block.") && shape.length == 2 && shape[1] % 32 == 0 ? type
                        : shape.length == 2 ? GgufType.F16 : GgufType.F32;
                entries.add(GgufWriter.Entry.of(llamaName(name), stored, shape, floats(t5.float32(name, arena))));
            }
        }
        Map<String, Object> metadata = new LinkedHashMap<>();
        metadata.put("general.architecture", "t5encoder");
        GgufWriter.write(out, metadata, entries);
        assertThat(Files.isRegularFile(out)).isTrue();
        return out;
    }

    /** A GGUF file's tensors, dequantized, as an F32 safetensors file under {@code rename}'s names. */
    private static Path asSafetensors(Path gguf, Path out, java.util.function.UnaryOperator<String> rename) {
        List<dev.easel.engine.weights.SafetensorsWriter.Entry> entries = new ArrayList<>();
        try (GgufFile file = GgufFile.open(gguf); Arena arena = Arena.ofConfined()) {
            for (String name : file.names()) {
                entries.add(new dev.easel.engine.weights.SafetensorsWriter.Entry(rename.apply(name), dev.easel.engine.weights.DType.F32,
                        file.info(name).shape(), dev.easel.engine.weights.TensorData.floats(dev.easel.engine.weights.DType.F32,
                        floats(file.float32(name, arena)))));
            }
            dev.easel.engine.weights.SafetensorsWriter.write(out, entries);
        }
        return out;
    }

    private static String hfName(String llama) {
        for (String hf : HF_T5_NAMES) if (llamaName(hf).equals(llama)) return hf;
        throw new IllegalArgumentException(llama);
    }

    private static final List<String> HF_T5_NAMES = dev.easel.diffusion.model.t5.T5Encoder.parameters(FluxBenchTest.TINY.t5()).keySet().stream().toList();

    private static String llamaName(String hf) {
        if (hf.equals("shared.weight")) return "token_embd.weight";
        if (hf.equals("encoder.final_layer_norm.weight")) return "enc.output_norm.weight";
        String rest = hf.substring("encoder.block.".length());
        int dot = rest.indexOf('.');
        String part = rest.substring(dot + 1, rest.length() - ".weight".length());
        return "enc.blk." + rest.substring(0, dot) + "." + LLAMA_T5.get(part) + ".weight";
    }

    private static float[] floats(ByteBuffer b) {
        float[] out = new float[b.remaining() / Float.BYTES];
        b.asFloatBuffer().get(out);
        return out;
    }

    private static double relativeError(FloatTensor a, FloatTensor b) {
        double diff = 0;
        double scale = 0;
        for (int i = 0; i < b.size(); i++) {
            diff = Math.max(diff, Math.abs(a.data()[i] - b.data()[i]));
            scale = Math.max(scale, Math.abs(b.data()[i]));
        }
        return diff / scale;
    }
}
