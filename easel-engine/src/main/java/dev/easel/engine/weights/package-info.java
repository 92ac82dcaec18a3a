/**
 * Weight files. {@link dev.easel.engine.weights.SafetensorsFile} memory-maps a {@code .safetensors} file and
 * validates its header; models read weights through {@link dev.easel.engine.weights.WeightSource}, which hands
 * out each tensor as a fresh 64-byte aligned fp32 direct buffer for ONNX Runtime, converting fp16, bf16 and
 * fp8 on the way ({@link dev.easel.engine.weights.DType}). Sharded or split checkpoints are united by
 * {@link dev.easel.engine.weights.MultiFileWeights}; converters rename and reshape without copying through
 * {@link dev.easel.engine.weights.RenamedWeights}. {@link dev.easel.engine.weights.SafetensorsWriter} streams
 * files to disk, for random-weight checkpoints of real size. GGUF files are read by
 * {@link dev.easel.engine.weights.gguf.GgufFile}; a source may hand block-quantized tensors over as stored
 * ({@link dev.easel.engine.weights.WeightSource#quantized}).
 */
package dev.easel.engine.weights;
