package dev.easel.diffusion.family;

import dev.easel.engine.runtime.SystemMemory;
import dev.easel.engine.runtime.WeightMode;
import dev.easel.engine.weights.DType;
import dev.easel.engine.weights.SafetensorsWriter;
import dev.easel.engine.weights.TensorData;
import dev.easel.engine.weights.SafetensorsFile;
import dev.easel.engine.weights.WeightsException;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

class MemoryCheckTest {
    @TempDir
    Path temp;

    @Test
    void countsEveryWeightAsFp32WhateverItIsStoredAs() throws Exception {
        Path file = temp.resolve("w.safetensors");
        SafetensorsWriter.write(file, List.of(
                new SafetensorsWriter.Entry("a", DType.F16, new long[]{3, 4}, TensorData.floats(DType.F16, new float[12])),
                new SafetensorsWriter.Entry("b", DType.F32, new long[]{5}, TensorData.floats(DType.F32, new float[5]))));
        try (SafetensorsFile f = SafetensorsFile.open(file)) {
            assertThat(MemoryCheck.fp32Bytes(f)).isEqualTo((12 + 5) * 4L);
        }
    }

    @Test
    void quantizedWeightsCountAtTheirModesBytesAndTheRestAsFp32() {
        dev.easel.engine.graph.GraphBuilder g = new dev.easel.engine.graph.GraphBuilder("m");
        dev.easel.engine.graph.Value x = g.floatInput("x", 1, "tokens", 64);
        g.output(new dev.easel.engine.runtime.Linears(WeightMode.W8A8, 4).linear(g, x, "fc", 64, 32, true), "y");
        // 32 x 64 int8 values at one byte each (w8a8), the 32 biases fp32
        assertThat(MemoryCheck.loadedBytes(g, WeightMode.W8A8)).isEqualTo(32 * 64 + 32 * 4L);
        assertThat(MemoryCheck.residentBytes(g, WeightMode.W8A8)).isEqualTo((long) (32 * 64 * 1.01 + 32 * 4));
    }

    @Test
    void flux8BitDefaultsToW8a8WhereTheCpuHasAnExactIntegerGemmAndT5NeverRunsW8a8() {
        assertThat(Flux.quantizedDefault(WeightMode.INT4)).isEqualTo(WeightMode.INT4);
        assertThat(Flux.quantizedDefault(WeightMode.INT8))
                .isEqualTo(dev.easel.engine.runtime.CpuFeatures.integerDotProduct() ? WeightMode.W8A8 : WeightMode.INT8);
        assertThat(Flux.t5Weights(WeightMode.W8A8)).isEqualTo(WeightMode.INT8);
        assertThat(Flux.t5Weights(WeightMode.INT4)).isEqualTo(WeightMode.INT4);
    }

    @Test
    void aModelAboveTheAvailableMemoryIsRefusedWithBothFigures() {
        assumeTrue(SystemMemory.availableBytes().isPresent(), "this system does not report its available memory");
        assertThatThrownBy(() -> MemoryCheck.requireFits("the FLUX.1 model big.safetensors", Long.MAX_VALUE / 2))
                .isInstanceOf(WeightsException.class)
                .hasMessageContaining("big.safetensors").hasMessageContaining("GiB available").hasMessageContaining("fp32");
        MemoryCheck.requireFits("a tiny model", 1024);
    }
}
