package dev.easel.diffusion.model.flux;

import dev.easel.engine.graph.GraphBuilder;
import dev.easel.engine.onnx.proto.Onnx.AttributeProto;
import dev.easel.engine.onnx.proto.Onnx.NodeProto;
import dev.easel.engine.runtime.Linears;
import dev.easel.engine.runtime.WeightMode;
import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.Map;
import java.util.stream.Collectors;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The shape of the quantized FLUX graph that makes a step fast: each stream's q, k, v and each single block's q, k, v
 * and MLP input (BFL's {@code qkv} and {@code linear1}) run as one MatMulNBits over their stacked rows, the per-head
 * norms and the rotary embedding as one kernel each, with no Transpose, Gather or Mul-heavy chains around attention.
 */
class FluxTransformerGraphTest {
    /** 2 heads of 128 (256 wide, a multiple of the 32-value blocks), 1 double and 2 single blocks. */
    private static final FluxConfig SMALL = new FluxConfig(2, FluxConfig.HEAD_DIM, 1, 2, 64, 64, 32, false, FluxConfig.AXES_DIMS,
            FluxConfig.THETA, FluxConfig.MLP_RATIO);

    @Test
    void qkvAndLinear1RunAsOneMatMulNBitsEach() {
        GraphBuilder g = FluxTransformer.graph(SMALL, new Linears(WeightMode.INT8, 4));
        List<NodeProto> nodes = g.build().getGraph().getNodeList();
        long h = SMALL.hidden();
        List<Long> widths = nodes.stream().filter(n -> n.getOpType().equals("MatMulNBits")).map(n -> attribute(n, "N")).toList();
        // double block: img and txt modulation, qkv, output projection, MLP in and out; single block: modulation, linear1, linear2
        assertThat(widths).hasSize(10 + 2 * 3);
        assertThat(widths.stream().filter(n -> n == 3 * h)).hasSize(2 + 2); // two qkv stacks, two single blocks' modulations
        assertThat(widths.stream().filter(n -> n == 3 * h + SMALL.mlpHidden())).hasSize(2);
        String a = "single_transformer_blocks.1.attn.";
        assertThat(g.stacks()).containsEntry(a + "to_q.weight+" + a + "to_k.weight+" + a + "to_v.weight+single_transformer_blocks.1.proj_mlp.weight",
                List.of(a + "to_q.weight", a + "to_k.weight", a + "to_v.weight", "single_transformer_blocks.1.proj_mlp.weight"));
        // every weight keeps its diffusers name and shape, for checkpoint validation
        assertThat(g.weights().get("transformer_blocks.0.attn.add_k_proj.weight")).containsExactly(h, h);
        assertThat(g.quantizedWeights()).containsKey("single_transformer_blocks.0.proj_mlp.weight");
    }

    @Test
    void w8a8QuantizesEachInputOnceAndRunsAnIntegerGemmPerLayer() {
        GraphBuilder g = FluxTransformer.graph(SMALL, new Linears(WeightMode.W8A8, 4));
        Map<String, Long> ops = g.build().getGraph().getNodeList().stream()
                .collect(Collectors.groupingBy(NodeProto::getOpType, Collectors.counting()));
        // the same linears as int8's 16 MatMulNBits, with each stack's layers apart: a double block's two qkv stacks
        // hold 3 layers each, each single block's linear1 stack 4 (q, k, v, MLP in)
        assertThat(ops.get("MatMulIntegerToFloat")).isEqualTo(16 + 2 * 2 + 2 * 3);
        // one quantization per distinct input: those 16 products read 16 inputs
        assertThat(ops.get("QuantizeLinear")).isEqualTo(16);
        assertThat(ops).doesNotContainKey("MatMulNBits");
        assertThat(g.channelQuantizedWeights()).contains("single_transformer_blocks.0.proj_mlp.weight",
                "transformer_blocks.0.attn.add_k_proj.weight").doesNotContain("x_embedder.weight", "proj_out.weight");
        assertThat(g.quantizedWeights()).isEmpty();
    }

    @Test
    void normsAndRotationAreSingleKernelsWithNoTransposeOrGather() {
        Map<String, Long> ops = FluxTransformer.graph(SMALL, new Linears(WeightMode.INT8, 4)).build().getGraph().getNodeList().stream()
                .collect(Collectors.groupingBy(NodeProto::getOpType, Collectors.counting()));
        // q and k of both streams in the double block, q and k in each single block
        assertThat(ops.get("SimplifiedLayerNormalization")).isEqualTo(4 + 2 * 2);
        // q and k of each attention
        assertThat(ops.get("RotaryEmbedding")).isEqualTo(2 * 3);
        assertThat(ops).doesNotContainKeys("Transpose", "Gather", "ReduceMean", "Sqrt", "Reciprocal");
    }

    private static long attribute(NodeProto node, String name) {
        return node.getAttributeList().stream().filter(x -> x.getName().equals(name)).mapToLong(AttributeProto::getI).findFirst()
                .orElseThrow();
    }
}
