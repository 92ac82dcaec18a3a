/**
 * GGUF files: {@link dev.easel.engine.weights.gguf.GgufFile} memory-maps one and serves its tensors as a
 * {@link dev.easel.engine.weights.WeightSource} (dequantized to fp32, or as MatMulNBits blocks where Q8_0/Q4_0/Q5_0
 * map exactly); {@link dev.easel.engine.weights.gguf.GgufType} lists the supported ggml types with their block
 * formats (one codec per format in {@code LegacyBlocks} and {@code KBlocks}); {@link dev.easel.engine.weights.gguf.GgufWriter}
 * writes files from fp32 values for tests and benchmarks.
 */
package dev.easel.engine.weights.gguf;
