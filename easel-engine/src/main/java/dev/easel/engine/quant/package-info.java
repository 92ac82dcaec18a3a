/**
 * Block-quantized weights for ONNX Runtime's {@code com.microsoft.MatMulNBits}: the format
 * ({@link dev.easel.engine.quant.BlockFormat}: 8 or 4 bits in blocks of 32, symmetric), the weight in the operator's
 * input layout ({@link dev.easel.engine.quant.QuantizedWeight}), and the quantizer from fp32 rows
 * ({@link dev.easel.engine.quant.BlockQuantizer}). Graphs declare such weights with
 * {@link dev.easel.engine.graph.GraphBuilder#quantizedLinear}; {@link dev.easel.engine.runtime.OnnxModel} quantizes
 * each one as it binds it, or takes a source's stored blocks as they are where they map without rounding.
 */
package dev.easel.engine.quant;
