package dev.easel.engine.graph;

import com.google.protobuf.ByteString;
import dev.easel.engine.quant.BlockFormat;
import dev.easel.engine.onnx.proto.Onnx.AttributeProto;
import dev.easel.engine.onnx.proto.Onnx.GraphProto;
import dev.easel.engine.onnx.proto.Onnx.ModelProto;
import dev.easel.engine.onnx.proto.Onnx.NodeProto;
import dev.easel.engine.onnx.proto.Onnx.OperatorSetIdProto;
import dev.easel.engine.onnx.proto.Onnx.StringStringEntryProto;
import dev.easel.engine.onnx.proto.Onnx.TensorProto;
import dev.easel.engine.onnx.proto.Onnx.TensorShapeProto;
import dev.easel.engine.onnx.proto.Onnx.TypeProto;
import dev.easel.engine.onnx.proto.Onnx.ValueInfoProto;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Emits an ONNX graph from Java. Weights are declared by name and shape only: their data is bound
 * when the session is created ({@link dev.easel.engine.runtime.OnnxModel}), so the proto stays tiny.
 * Small constants (shapes, axes, scalars) are embedded.
 *
 * <p>Layer helpers ({@link #linear}, {@link #conv2d}, {@link #groupNorm} ...) take a weight prefix in
 * the canonical (diffusers-style) naming, so a model's code reads like its parameter list.
 */
public final class GraphBuilder {
    public static final int OPSET = 21;
    private static final String MS_DOMAIN = "com.microsoft";
    private static final int FLOAT = TensorProto.DataType.FLOAT_VALUE;
    private static final int INT64 = TensorProto.DataType.INT64_VALUE;
    private static final int UINT8 = TensorProto.DataType.UINT8_VALUE;
    private static final int INT8 = TensorProto.DataType.INT8_VALUE;

    /** Suffixes of the two initializers a block-quantized weight {@code name} is bound as (MatMulNBits' B and scales). */
    public static final String BLOCKS_SUFFIX = "#blocks";
    public static final String SCALES_SUFFIX = "#scales";
    /** Suffix of the int8 initializer a channel-quantized weight is bound as (MatMulIntegerToFloat's B; scales as above). */
    public static final String INT8_SUFFIX = "#int8";

    /** The location a weight declaration names until a session binds it (see {@link dev.easel.engine.runtime.OnnxModel}). */
    public static final String UNBOUND_WEIGHTS_FILE = "unbound";

    private final GraphProto.Builder graph = GraphProto.newBuilder();
    private final Map<String, long[]> weights = new LinkedHashMap<>();
    private final Map<String, BlockFormat> quantized = new LinkedHashMap<>();
    private final java.util.Set<String> channelQuantized = new java.util.LinkedHashSet<>();
    /** Initializers that hold several weights' rows one after the other (see {@link #stackedWeight}), to those weights. */
    private final Map<String, List<String>> stacks = new LinkedHashMap<>();
    private final java.util.Set<String> stacked = new java.util.HashSet<>();
    private int counter;

    public GraphBuilder(String name) {
        graph.setName(name);
    }

    // ---- declarations -------------------------------------------------------------------------

    /** A float input; a negative dimension is dynamic and gets the name {@code dimNames[i]}. */
    public Value floatInput(String name, Object... dims) {
        return input(name, FLOAT, dims);
    }

    public Value longInput(String name, Object... dims) {
        return input(name, INT64, dims);
    }

    private Value input(String name, int elemType, Object... dims) {
        graph.addInput(valueInfo(name, elemType, dims));
        return new Value(name);
    }

    /** Marks {@code value} as a float graph output called {@code name}. */
    public void output(Value value, String name) {
        Value named = value.name().equals(name) ? value : identity(value, name);
        graph.addOutput(valueInfo(named.name(), FLOAT));
    }

    /** A weight of the given shape, bound by name when the session is created. */
    public Value weight(String name, long... shape) {
        requireUnstacked(name);
        if (quantized.containsKey(name) || channelQuantized.contains(name)) {
            throw new IllegalStateException("weight " + name + " is declared both quantized and fp32");
        }
        if (isNew(name, shape)) declareExternal(name, FLOAT, shape);
        return new Value(name);
    }

    /**
     * A [rows, columns] weight bound block-quantized, as MatMulNBits' inputs: {@code name#blocks} (uint8
     * [rows, blocksPerRow, blobSize]) and {@code name#scales} (fp32 [rows * blocksPerRow]). {@link #weights()}
     * still lists {@code name} with its logical shape, so checkpoints are validated as for fp32 weights.
     *
     * @return the blocks and scales values
     */
    public Value[] quantizedWeight(String name, long rows, long columns, BlockFormat format) {
        requireUnstacked(name);
        if (weights.containsKey(name) && !format.equals(quantized.get(name))) {
            throw new IllegalStateException("weight " + name + " is declared both as " + format + " and as "
                    + (quantized.containsKey(name) ? quantized.get(name) : "fp32"));
        }
        if (isNew(name, new long[]{rows, columns})) {
            quantized.put(name, format);
            long blocks = format.blocksPerRow(columns);
            declareExternal(name + BLOCKS_SUFFIX, UINT8, new long[]{rows, blocks, format.blobSize()});
            declareExternal(name + SCALES_SUFFIX, FLOAT, new long[]{rows * blocks});
        }
        return new Value[]{new Value(name + BLOCKS_SUFFIX), new Value(name + SCALES_SUFFIX)};
    }

    /**
     * A [rows, columns] weight (a Linear's [out, in]) bound channel-quantized, as MatMulIntegerToFloat's inputs:
     * {@code name#int8} (int8 [columns, rows]: transposed, so that it is B of x times B) and {@code name#scales}
     * (fp32 [rows], one per output channel). {@link #weights()} still lists {@code name} with its logical shape.
     *
     * @return the int8 values and the scales
     */
    public Value[] channelQuantizedWeight(String name, long rows, long columns) {
        requireUnstacked(name);
        if (weights.containsKey(name) && !channelQuantized.contains(name)) {
            throw new IllegalStateException("weight " + name + " is declared both channel-quantized and otherwise");
        }
        if (isNew(name, new long[]{rows, columns})) {
            channelQuantized.add(name);
            declareExternal(name + INT8_SUFFIX, INT8, new long[]{columns, rows});
            declareExternal(name + SCALES_SUFFIX, FLOAT, new long[]{rows});
        }
        return new Value[]{new Value(name + INT8_SUFFIX), new Value(name + SCALES_SUFFIX)};
    }

    /**
     * Lists weight {@code name} with its logical shape; false when it was listed before (a layer may read it twice).
     *
     * @throws IllegalStateException when it was listed with another shape
     */
    private boolean isNew(String name, long[] shape) {
        long[] previous = weights.putIfAbsent(name, shape.clone());
        if (previous != null && !Arrays.equals(previous, shape)) {
            throw new IllegalStateException("weight " + name + " declared with shapes " + Arrays.toString(previous)
                    + " and " + Arrays.toString(shape));
        }
        return previous == null;
    }

    /**
     * Several weights bound as one fp32 initializer holding their rows one after the other: shapes [rows_i, rest...]
     * with the same trailing dimensions become [sum of rows_i, rest...]. Each weight is still listed in
     * {@link #weights()} under its own name and shape (checkpoints are validated as for separate weights), and is
     * written straight into its rows of the initializer when a session binds it: nothing is concatenated in the graph
     * or copied twice. A weight belongs to one stack at most and is never also bound alone.
     */
    public Value stackedWeight(List<String> names, List<long[]> shapes) {
        long[] stackShape = stackShape(names, shapes);
        String name = declareStack(names, shapes);
        if (name != null) declareExternal(name, FLOAT, stackShape);
        else if (names.stream().anyMatch(quantized::containsKey)) {
            throw new IllegalStateException("weights " + names + " are stacked both block-quantized and fp32");
        }
        return new Value(String.join(STACK_SEPARATOR, names));
    }

    /**
     * As {@link #stackedWeight}, block-quantized: weights [rows_i, columns] bound as one [sum of rows_i, columns]
     * weight in MatMulNBits' layout (a block never spans rows, so each weight's blocks and scales are a contiguous
     * range of the stack's). Each weight comes as its source stores it ({@link #quantizedWeight}).
     *
     * @return the blocks and scales values
     */
    public Value[] stackedQuantizedWeight(List<String> names, long[] rows, long columns, BlockFormat format) {
        List<long[]> shapes = new java.util.ArrayList<>();
        for (long r : rows) shapes.add(new long[]{r, columns});
        long total = stackShape(names, shapes)[0];
        String name = declareStack(names, shapes);
        if (name != null) {
            names.forEach(n -> quantized.put(n, format));
            long blocks = format.blocksPerRow(columns);
            declareExternal(name + BLOCKS_SUFFIX, UINT8, new long[]{total, blocks, format.blobSize()});
            declareExternal(name + SCALES_SUFFIX, FLOAT, new long[]{total * blocks});
        } else if (!names.stream().allMatch(n -> format.equals(quantized.get(n)))) {
            throw new IllegalStateException("weights " + names + " are stacked both as " + format + " and otherwise");
        }
        String stack = String.join(STACK_SEPARATOR, names);
        return new Value[]{new Value(stack + BLOCKS_SUFFIX), new Value(stack + SCALES_SUFFIX)};
    }

    /** Joins the names of a stack's weights into the stack's initializer name. */
    public static final String STACK_SEPARATOR = "+";

    private static long[] stackShape(List<String> names, List<long[]> shapes) {
        if (names.size() < 2 || names.size() != shapes.size()) {
            throw new IllegalArgumentException("a stack needs two weights or more, each with a shape: " + names);
        }
        long[] total = shapes.get(0).clone();
        for (int i = 1; i < shapes.size(); i++) {
            long[] s = shapes.get(i);
            if (s.length != total.length || s.length == 0
                    || !Arrays.equals(Arrays.copyOfRange(s, 1, s.length), Arrays.copyOfRange(total, 1, total.length))) {
                throw new IllegalArgumentException("weights " + names + " differ in more than their rows: cannot stack them");
            }
            total[0] += s[0];
        }
        return total;
    }

    /**
     * Registers a stack's weights; returns the stack's initializer name when it is new, null when the same stack was
     * declared before (a layer may read it twice).
     */
    private String declareStack(List<String> names, List<long[]> shapes) {
        String name = String.join(STACK_SEPARATOR, names);
        if (stacks.containsKey(name)) {
            for (int i = 0; i < names.size(); i++) {
                if (!Arrays.equals(weights.get(names.get(i)), shapes.get(i))) {
                    throw new IllegalStateException("weight " + names.get(i) + " stacked with shapes "
                            + Arrays.toString(weights.get(names.get(i))) + " and " + Arrays.toString(shapes.get(i)));
                }
            }
            return null;
        }
        for (int i = 0; i < names.size(); i++) {
            String n = names.get(i);
            if (weights.containsKey(n)) {
                throw new IllegalStateException("weight " + n + " is already declared " + (stacked.contains(n) ? "in another stack" : "alone")
                        + ": it cannot also be stacked in " + name);
            }
            weights.put(n, shapes.get(i).clone());
            stacked.add(n);
        }
        stacks.put(name, List.copyOf(names));
        return name;
    }

    private void requireUnstacked(String name) {
        if (stacked.contains(name)) {
            throw new IllegalStateException("weight " + name + " is stacked with others: it cannot also be bound alone");
        }
    }

    /**
     * The stacks of this graph ({@link #stackedWeight}, {@link #stackedQuantizedWeight}): each stack's initializer name
     * (before the blocks and scales suffixes, when quantized) to its weights, in the order their rows are stacked.
     */
    public Map<String, List<String>> stacks() {
        return java.util.Collections.unmodifiableMap(new LinkedHashMap<>(stacks));
    }

    /** Declared as external data: shape and type without the bytes. OnnxModel points it at the data when it creates the session. */
    private void declareExternal(String name, int dataType, long[] shape) {
        long bytes = dev.easel.engine.tensor.FloatTensor.elementCount(shape) * (dataType == UINT8 || dataType == INT8 ? 1 : Float.BYTES);
        TensorProto.Builder declared = TensorProto.newBuilder().setName(name).setDataType(dataType)
                .setDataLocation(TensorProto.DataLocation.EXTERNAL)
                .addExternalData(entry("location", UNBOUND_WEIGHTS_FILE))
                .addExternalData(entry("offset", "0"))
                .addExternalData(entry("length", Long.toString(bytes)));
        for (long d : shape) declared.addDims(d);
        graph.addInitializer(declared);
    }

    /** Weights this graph needs, name to shape, in declaration order. */
    public Map<String, long[]> weights() {
        return Map.copyOf(weights);
    }

    /** The weights of {@link #weights()} that are bound channel-quantized ({@link #channelQuantizedWeight}). */
    public java.util.Set<String> channelQuantizedWeights() {
        return java.util.Set.copyOf(channelQuantized);
    }

    /** The weights of {@link #weights()} that are bound block-quantized, with their format. */
    public Map<String, BlockFormat> quantizedWeights() {
        return Map.copyOf(quantized);
    }

    public Value constant(float... values) {
        return constantTensor(FLOAT, new long[]{values.length}, floatBytes(values));
    }

    public Value scalar(float value) {
        return constantTensor(FLOAT, new long[0], floatBytes(value));
    }

    public Value constantLongs(long... values) {
        ByteBuffer b = ByteBuffer.allocate(values.length * 8).order(ByteOrder.LITTLE_ENDIAN);
        for (long v : values) b.putLong(v);
        return constantTensor(INT64, new long[]{values.length}, b.array());
    }

    /** A float constant of any shape (small tables such as sinusoid frequencies). */
    public Value constantTensor(long[] shape, float[] values) {
        return constantTensor(FLOAT, shape, floatBytes(values));
    }

    private Value constantTensor(int type, long[] shape, byte[] raw) {
        String name = fresh("const");
        TensorProto.Builder t = TensorProto.newBuilder().setName(name).setDataType(type).setRawData(ByteString.copyFrom(raw));
        for (long d : shape) t.addDims(d);
        graph.addInitializer(t);
        return new Value(name);
    }

    // ---- raw nodes ----------------------------------------------------------------------------

    /** Adds a node with one output. Attributes alternate name, value (Long, Float, String, long[], float[]). */
    public Value op(String opType, List<Value> inputs, Object... attributes) {
        return ops(opType, "", inputs, 1, attributes)[0];
    }

    public Value msOp(String opType, List<Value> inputs, Object... attributes) {
        return ops(opType, MS_DOMAIN, inputs, 1, attributes)[0];
    }

    public Value[] ops(String opType, String domain, List<Value> inputs, int outputs, Object... attributes) {
        NodeProto.Builder node = NodeProto.newBuilder().setOpType(opType).setDomain(domain).setName(fresh(opType));
        for (Value v : inputs) node.addInput(v == null ? "" : v.name());
        Value[] out = new Value[outputs];
        for (int i = 0; i < outputs; i++) {
            out[i] = new Value(fresh(opType.toLowerCase()));
            node.addOutput(out[i].name());
        }
        for (int i = 0; i < attributes.length; i += 2) {
            node.addAttribute(attribute((String) attributes[i], attributes[i + 1]));
        }
        graph.addNode(node);
        return out;
    }

    // ---- elementwise and shape ops ------------------------------------------------------------

    public Value add(Value a, Value b) { return op("Add", List.of(a, b)); }
    public Value sub(Value a, Value b) { return op("Sub", List.of(a, b)); }
    public Value mul(Value a, Value b) { return op("Mul", List.of(a, b)); }
    public Value div(Value a, Value b) { return op("Div", List.of(a, b)); }
    public Value matMul(Value a, Value b) { return op("MatMul", List.of(a, b)); }
    public Value sigmoid(Value x) { return op("Sigmoid", List.of(x)); }
    public Value sin(Value x) { return op("Sin", List.of(x)); }
    public Value cos(Value x) { return op("Cos", List.of(x)); }
    public Value shape(Value x) { return op("Shape", List.of(x)); }
    public Value identity(Value x, String name) {
        graph.addNode(NodeProto.newBuilder().setOpType("Identity").setName(fresh("Identity")).addInput(x.name()).addOutput(name));
        return new Value(name);
    }

    public Value silu(Value x) {
        return mul(x, sigmoid(x));
    }

    /** GELU with the exact erf form ({@code approximate="none"}) or the tanh approximation. */
    public Value gelu(Value x, boolean tanhApproximation) {
        return op("Gelu", List.of(x), "approximate", tanhApproximation ? "tanh" : "none");
    }

    /** CLIP's quick_gelu: x * sigmoid(1.702 x). */
    public Value quickGelu(Value x) {
        return mul(x, sigmoid(mul(x, scalar(1.702f))));
    }

    public Value softmax(Value x, int axis) {
        return op("Softmax", List.of(x), "axis", (long) axis);
    }

    public Value reshape(Value x, long... shape) {
        return op("Reshape", List.of(x, constantLongs(shape)));
    }

    public Value reshapeLike(Value x, Value shape) {
        return op("Reshape", List.of(x, shape));
    }

    public Value transpose(Value x, long... perm) {
        return op("Transpose", List.of(x), "perm", perm);
    }

    public Value concat(int axis, Value... parts) {
        return op("Concat", List.of(parts), "axis", (long) axis);
    }

    /** Splits {@code x} along {@code axis} into {@code count} equal parts. */
    public Value[] split(Value x, int axis, int count) {
        return ops("Split", "", List.of(x), count, "axis", (long) axis, "num_outputs", (long) count);
    }

    /** Splits {@code x} along {@code axis} into parts of the given sizes. */
    public Value[] split(Value x, int axis, long... sizes) {
        return ops("Split", "", List.of(x, constantLongs(sizes)), sizes.length, "axis", (long) axis);
    }

    public Value slice(Value x, long start, long end, long axis) {
        return op("Slice", List.of(x, constantLongs(start), constantLongs(end), constantLongs(axis)));
    }

    public Value gather(Value data, Value indices, int axis) {
        return op("Gather", List.of(data, indices), "axis", (long) axis);
    }

    /** Nearest-neighbour upsampling by 2 in both spatial axes (diffusers' Upsample2D). */
    public Value upsampleNearest2x(Value x) {
        return op("Resize", java.util.Arrays.asList(x, null, constant(1f, 1f, 2f, 2f)), "mode", "nearest",
                "coordinate_transformation_mode", "asymmetric", "nearest_mode", "floor");
    }

    // ---- layers (weights named by prefix) -----------------------------------------------------

    /**
     * y = x W^T + b over the last axis of x (rank 2 or 3); W is stored [out, in] as in PyTorch.
     * Runs as Gemm with transB so no transposed copy of the weight is ever made.
     */
    public Value linear(Value x, String prefix, long in, long out, boolean bias) {
        Value w = weight(prefix + ".weight", out, in);
        List<Value> inputs = bias ? List.of(reshape(x, -1, in), w, weight(prefix + ".bias", out)) : List.of(reshape(x, -1, in), w);
        Value y = op("Gemm", inputs, "transB", 1L);
        Value leading = op("Shape", List.of(x), "end", -1L);
        return reshapeLike(y, concat(0, leading, constantLongs(out)));
    }

    /**
     * As {@link #linear}, with the weight block-quantized: ONNX Runtime's {@code com.microsoft.MatMulNBits},
     * which computes x W^T over W stored [out, in] (its N = out, K = in), so no transpose either.
     *
     * @param accuracyLevel MatMulNBits' {@code accuracy_level}: 0 computes in fp32 over the dequantized weight;
     *                      4 quantizes the activations per block to int8 and runs integer kernels (VNNI on x86)
     */
    public Value quantizedLinear(Value x, String prefix, long in, long out, boolean bias, BlockFormat format, int accuracyLevel) {
        Value[] w = quantizedWeight(prefix + ".weight", out, in, format);
        List<Value> inputs = bias
                ? Arrays.asList(x, w[0], w[1], null, null, weight(prefix + ".bias", out))
                : List.of(x, w[0], w[1]);
        return msOp("MatMulNBits", inputs, "K", in, "N", out, "bits", (long) format.bits(),
                "block_size", (long) format.blockSize(), "accuracy_level", (long) accuracyLevel);
    }

    /**
     * Several bias-free linear layers of the same input as one GEMM over their concatenated weights
     * (e.g. attention's q, k, v: one wide product runs faster than three narrow ones), split again.
     */
    public Value[] fusedLinear(Value x, long in, long out, String... prefixes) {
        Value[] weights = new Value[prefixes.length];
        for (int i = 0; i < prefixes.length; i++) weights[i] = weight(prefixes[i] + ".weight", out, in);
        Value y = op("Gemm", List.of(reshape(x, -1, in), concat(0, weights)), "transB", 1L);
        Value leading = op("Shape", List.of(x), "end", -1L);
        Value shaped = reshapeLike(y, concat(0, leading, constantLongs(out * prefixes.length)));
        return split(shaped, -1, prefixes.length);
    }

    /**
     * Several linear layers of the same input ({@code in} features; out features {@code outs[i]}) as one Gemm over
     * their stacked weights ({@link #stackedWeight}) and biases, split again: one wide product instead of several
     * narrow ones, with nothing concatenated at run time.
     */
    public Value[] stackedLinear(Value x, List<String> prefixes, long in, long[] outs, boolean bias) {
        List<long[]> shapes = new java.util.ArrayList<>();
        for (long out : outs) shapes.add(new long[]{out, in});
        Value w = stackedWeight(suffixed(prefixes, ".weight"), shapes);
        long total = Arrays.stream(outs).sum();
        List<Value> inputs = bias ? List.of(reshape(x, -1, in), w, stackedBias(prefixes, outs)) : List.of(reshape(x, -1, in), w);
        Value y = op("Gemm", inputs, "transB", 1L);
        Value leading = op("Shape", List.of(x), "end", -1L);
        return split(reshapeLike(y, concat(0, leading, constantLongs(total))), -1, outs);
    }

    /** As {@link #stackedLinear}, over one block-quantized stack ({@link #stackedQuantizedWeight}): one MatMulNBits. */
    public Value[] stackedQuantizedLinear(Value x, List<String> prefixes, long in, long[] outs, boolean bias, BlockFormat format,
                                          int accuracyLevel) {
        Value[] w = stackedQuantizedWeight(suffixed(prefixes, ".weight"), outs, in, format);
        long total = Arrays.stream(outs).sum();
        List<Value> inputs = bias ? Arrays.asList(x, w[0], w[1], null, null, stackedBias(prefixes, outs)) : List.of(x, w[0], w[1]);
        Value y = msOp("MatMulNBits", inputs, "K", in, "N", total, "bits", (long) format.bits(),
                "block_size", (long) format.blockSize(), "accuracy_level", (long) accuracyLevel);
        return split(y, -1, outs);
    }

    /**
     * Activations quantized for {@link #channelQuantizedLinear}: {@code values} uint8 [tokens, in] (each row's int8
     * values plus 128), {@code zeroPoint} that 128 (uint8 scalar), {@code scales} fp32 [tokens, 1] (each row's
     * max|x| / 127), {@code leading} the input's shape without its last axis. One quantization serves every layer that
     * reads the same input.
     */
    public record QuantizedRows(Value values, Value zeroPoint, Value scales, Value leading) {
    }

    /**
     * Quantizes {@code x} (last axis {@code in}) to int8 row by row, symmetrically: {@code scale = max|row| / 127},
     * {@code q = round(x / scale)} (ties to even). An all-zero row gets a tiny scale instead of zero, so its values
     * quantize to 0.
     */
    public QuantizedRows quantizeRows(Value x, long in) {
        Value rows = reshape(x, -1, in);
        Value amax = op("ReduceMax", List.of(op("Abs", List.of(rows)), constantLongs(-1)), "keepdims", 0L);
        Value scales = op("Max", List.of(div(amax, scalar(127f)), scalar(Float.MIN_NORMAL)));
        Value zeroPoint = constantTensor(UINT8, new long[0], new byte[]{(byte) 128});
        Value zeroPoints = op("Expand", List.of(zeroPoint, shape(scales)));
        Value values = op("QuantizeLinear", List.of(rows, scales, zeroPoints), "axis", 0L);
        Value leading = op("Shape", List.of(x), "end", -1L);
        return new QuantizedRows(values, zeroPoint, op("Unsqueeze", List.of(scales, constantLongs(1))), leading);
    }

    /**
     * A linear layer over channel-quantized weights ({@link #channelQuantizedWeight}) and row-quantized activations
     * ({@link #quantizeRows}): ONNX Runtime's integer GEMM (MatMulIntegerToFloat, uint8 x int8 with int32 sums, the
     * VNNI and AMX kernels) scaled by each output channel's scale, then by each row's, plus the bias.
     */
    public Value channelQuantizedLinear(QuantizedRows x, String prefix, long in, long out, boolean bias) {
        Value[] w = channelQuantizedWeight(prefix + ".weight", out, in);
        // The row scales come after the product (the op takes one scale for A), so A's scale here is 1.
        Value sums = msOp("MatMulIntegerToFloat", List.of(x.values(), w[0], scalar(1f), w[1], x.zeroPoint()));
        Value y = mul(sums, x.scales());
        if (bias) y = add(y, weight(prefix + ".bias", out));
        return reshapeLike(y, concat(0, x.leading(), constantLongs(out)));
    }

    private Value stackedBias(List<String> prefixes, long[] outs) {
        List<long[]> shapes = new java.util.ArrayList<>();
        for (long out : outs) shapes.add(new long[]{out});
        return stackedWeight(suffixed(prefixes, ".bias"), shapes);
    }

    private static List<String> suffixed(List<String> prefixes, String suffix) {
        return prefixes.stream().map(p -> p + suffix).toList();
    }

    public Value conv2d(Value x, String prefix, long in, long out, int kernel, int stride, int padding) {
        Value w = weight(prefix + ".weight", out, in, kernel, kernel);
        Value b = weight(prefix + ".bias", out);
        return op("Conv", List.of(x, w, b), "kernel_shape", new long[]{kernel, kernel},
                "strides", new long[]{stride, stride}, "pads", new long[]{padding, padding, padding, padding});
    }

    /** Layer normalization over the last axis. */
    public Value layerNorm(Value x, String prefix, long channels, float epsilon) {
        return op("LayerNormalization", List.of(x, weight(prefix + ".weight", channels), weight(prefix + ".bias", channels)),
                "axis", -1L, "epsilon", epsilon);
    }

    /**
     * RMS normalization over the last axis with a learned scale (no mean subtraction, no bias):
     * {@code x / sqrt(mean(x^2) + epsilon) * weight}, as one kernel (ONNX Runtime's SimplifiedLayerNormalization, one
     * pass over x instead of seven elementwise ops). The weight is named in full (e.g. FLUX.1's per-head
     * {@code attn.norm_q.weight}).
     */
    public Value rmsNormLastAxis(Value x, String weightName, long channels, float epsilon) {
        return op("SimplifiedLayerNormalization", List.of(x, weight(weightName, channels)), "axis", -1L, "epsilon", epsilon);
    }

    /**
     * Group normalization of NCHW input, written as Reshape + InstanceNormalization + affine, the
     * form ONNX Runtime runs fastest on CPU.
     */
    public Value groupNorm(Value x, String prefix, long channels, int groups, float epsilon) {
        float[] ones = new float[groups];
        Arrays.fill(ones, 1f);
        Value grouped = reshape(x, 0, groups, -1);
        Value normalized = op("InstanceNormalization",
                List.of(grouped, constant(ones), constant(new float[groups])), "epsilon", epsilon);
        Value restored = reshapeLike(normalized, shape(x));
        Value scale = reshape(weight(prefix + ".weight", channels), channels, 1, 1);
        Value bias = reshape(weight(prefix + ".bias", channels), channels, 1, 1);
        return add(mul(restored, scale), bias);
    }

    /**
     * Fused scaled-dot-product attention over (batch, tokens, heads*headDim) inputs
     * (ONNX Runtime's com.microsoft.MultiHeadAttention).
     */
    public Value attention(Value q, Value k, Value v, int heads) {
        return msOp("MultiHeadAttention", List.of(q, k, v), "num_heads", (long) heads);
    }

    // ---- output -------------------------------------------------------------------------------

    public ModelProto build() {
        return ModelProto.newBuilder()
                .setIrVersion(10)
                .setProducerName("easel")
                .addOpsetImport(OperatorSetIdProto.newBuilder().setVersion(OPSET))
                .addOpsetImport(OperatorSetIdProto.newBuilder().setDomain(MS_DOMAIN).setVersion(1))
                .setGraph(graph)
                .build();
    }

    // ---- helpers ------------------------------------------------------------------------------

    private String fresh(String stem) {
        return stem + "_" + (counter++);
    }

    private static ValueInfoProto valueInfo(String name, int elemType, Object... dims) {
        TypeProto.Tensor.Builder tensor = TypeProto.Tensor.newBuilder().setElemType(elemType);
        if (dims.length > 0) {
            TensorShapeProto.Builder shape = TensorShapeProto.newBuilder();
            for (Object d : dims) {
                TensorShapeProto.Dimension.Builder dim = TensorShapeProto.Dimension.newBuilder();
                if (d instanceof String symbol) dim.setDimParam(symbol);
                else dim.setDimValue(((Number) d).longValue());
                shape.addDim(dim);
            }
            tensor.setShape(shape);
        }
        return ValueInfoProto.newBuilder().setName(name).setType(TypeProto.newBuilder().setTensorType(tensor)).build();
    }

    private static StringStringEntryProto entry(String key, String value) {
        return StringStringEntryProto.newBuilder().setKey(key).setValue(value).build();
    }

    private static AttributeProto attribute(String name, Object value) {
        AttributeProto.Builder a = AttributeProto.newBuilder().setName(name);
        switch (value) {
            case Long l -> a.setType(AttributeProto.AttributeType.INT).setI(l);
            case Integer i -> a.setType(AttributeProto.AttributeType.INT).setI(i);
            case Float f -> a.setType(AttributeProto.AttributeType.FLOAT).setF(f);
            case String s -> a.setType(AttributeProto.AttributeType.STRING).setS(ByteString.copyFromUtf8(s));
            case long[] ls -> {
                a.setType(AttributeProto.AttributeType.INTS);
                for (long l : ls) a.addInts(l);
            }
            case float[] fs -> {
                a.setType(AttributeProto.AttributeType.FLOATS);
                for (float f : fs) a.addFloats(f);
            }
            default -> throw new IllegalArgumentException("unsupported attribute " + name + " = " + value);
        }
        return a.build();
    }

    private static byte[] floatBytes(float... values) {
        ByteBuffer b = ByteBuffer.allocate(values.length * 4).order(ByteOrder.LITTLE_ENDIAN);
        for (float v : values) b.putFloat(v);
        return b.array();
    }
}
