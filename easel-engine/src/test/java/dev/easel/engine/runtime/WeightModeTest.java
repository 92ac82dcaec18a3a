package dev.easel.engine.runtime;

import dev.easel.engine.graph.GraphBuilder;
import dev.easel.engine.graph.Value;
import dev.easel.engine.quant.BlockFormat;
import org.junit.jupiter.api.Test;

import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class WeightModeTest {
    @Test
    void modesParseByTheirNamesInAnyCaseAndRefuseOthersNamingTheChoices() {
        assertThat(WeightMode.parse("fp32")).isEqualTo(WeightMode.FP32);
        assertThat(WeightMode.parse(" INT8")).isEqualTo(WeightMode.INT8);
        assertThat(WeightMode.parse("int4")).isEqualTo(WeightMode.INT4);
        assertThat(WeightMode.parse("W8A8")).isEqualTo(WeightMode.W8A8);
        assertThat(WeightMode.W8A8.format()).as("one scale per channel: no blocks").isEmpty();
        assertThat(WeightMode.W8A8.quantized()).isTrue();
        assertThat(WeightMode.INT4.format()).contains(BlockFormat.INT4);
        assertThat(WeightMode.FP32.format()).isEmpty();
        assertThatThrownBy(() -> WeightMode.parse("q8_0")).hasMessageContaining("fp32, int8, int4 or w8a8").hasMessageContaining("q8_0");
    }

    @Test
    void bytesPerValueCountTheIntegersAndTheBlockScale() {
        assertThat(WeightMode.INT8.bytesPerValue()).isEqualTo(1 + 4 / 32.0);
        assertThat(WeightMode.INT4.bytesPerValue()).isEqualTo(0.5 + 4 / 32.0);
        assertThat(WeightMode.FP32.bytesPerValue()).isEqualTo(4);
        assertThat(WeightMode.W8A8.bytesPerValue()).isEqualTo(1);
    }

    @Test
    void quantizedWeightsAlwaysPrepackAndRefuseAnExplicitNo() {
        RuntimeOptions int8 = RuntimeOptions.defaults().withWeights(WeightMode.INT8);
        assertThat(int8.prepackOr(false).prepackWeights()).isTrue();
        assertThat(RuntimeOptions.defaults().withWeights(WeightMode.FP32).prepackOr(false).prepackWeights()).isFalse();
        assertThatThrownBy(() -> int8.withPrepack(false)).hasMessageContaining("int8 weights need prepacking");
        assertThatThrownBy(() -> RuntimeOptions.defaults().withPrepack(false).withWeights(WeightMode.INT4))
                .hasMessageContaining("int4 weights need prepacking");
    }

    @Test
    void theCallersModeWinsOverTheFamilysAndNoneMeansFp32() {
        assertThat(RuntimeOptions.defaults().weightMode()).isEqualTo(WeightMode.FP32);
        assertThat(RuntimeOptions.defaults().weightsOr(WeightMode.INT8).weights()).isEqualTo(WeightMode.INT8);
        assertThat(RuntimeOptions.defaults().withWeights(WeightMode.INT4).weightsOr(WeightMode.INT8).weights()).isEqualTo(WeightMode.INT4);
        assertThat(RuntimeOptions.defaults().linears()).isEqualTo(Linears.FP32);
        assertThat(RuntimeOptions.defaults().withWeights(WeightMode.INT8).withAccuracyLevel(0).linears())
                .isEqualTo(new Linears(WeightMode.INT8, 0));
        assertThatThrownBy(() -> RuntimeOptions.defaults().withAccuracyLevel(5)).hasMessageContaining("0 to 4");
    }

    @Test
    void linearsQuantizeOnlyLayersWhoseInFeaturesFillWholeBlocks() {
        Linears int8 = new Linears(WeightMode.INT8, 4);
        GraphBuilder g = new GraphBuilder("t");
        Value x = g.floatInput("x", "n", 64);
        Value y = int8.linear(g, x, "a", 64, 48, true);   // 64 = 2 blocks: quantized
        y = int8.linear(g, y, "b", 48, 32, false);        // 48 is not a multiple of 32: fp32
        Value[] qkv = int8.fusedLinear(g, y, 32, 32, "q", "k", "v");
        g.output(qkv[2], "out");
        Map<String, BlockFormat> quantized = g.quantizedWeights();
        assertThat(quantized).containsOnlyKeys("a.weight", "q.weight", "k.weight", "v.weight");
        assertThat(quantized.values()).containsOnly(BlockFormat.INT8);
        assertThat(g.weights()).containsKeys("a.bias", "b.weight");
        assertThat(g.weights().get("a.weight")).containsExactly(48, 64);

        GraphBuilder fp32 = new GraphBuilder("t");
        Linears.FP32.linear(fp32, fp32.floatInput("x", "n", 64), "a", 64, 48, true);
        assertThat(fp32.quantizedWeights()).isEmpty();
    }
}
