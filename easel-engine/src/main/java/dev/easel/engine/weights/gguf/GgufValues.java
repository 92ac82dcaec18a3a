package dev.easel.engine.weights.gguf;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.List;

/**
 * GGUF metadata value types and their Java forms: UINT8, INT8, UINT16, INT16 and INT32 read as Integer; UINT32,
 * INT64 and UINT64 as Long (a UINT64 above 2^63 - 1 reads negative); FLOAT32 as Float, FLOAT64 as Double,
 * BOOL as Boolean, STRING as String, ARRAY as an unmodifiable List of its elements' forms.
 */
final class GgufValues {
    static final int UINT8 = 0, INT8 = 1, UINT16 = 2, INT16 = 3, UINT32 = 4, INT32 = 5, FLOAT32 = 6, BOOL = 7,
            STRING = 8, ARRAY = 9, UINT64 = 10, INT64 = 11, FLOAT64 = 12;

    private GgufValues() {
    }

    /** The type the writer uses for a Java value. */
    static int typeOf(Object value) {
        return switch (value) {
            case Integer i -> INT32;
            case Long l -> INT64;
            case Float f -> FLOAT32;
            case Double d -> FLOAT64;
            case Boolean b -> BOOL;
            case String s -> STRING;
            case List<?> list -> ARRAY;
            default -> throw new IllegalArgumentException("no GGUF metadata type for " + value.getClass().getSimpleName());
        };
    }

    /** Bytes {@link #write} needs for a value of the given type. */
    static long size(int type, Object value) {
        return switch (type) {
            case UINT8, INT8, BOOL -> 1;
            case UINT16, INT16 -> 2;
            case UINT32, INT32, FLOAT32 -> 4;
            case UINT64, INT64, FLOAT64 -> 8;
            case STRING -> 8 + ((String) value).getBytes(StandardCharsets.UTF_8).length;
            case ARRAY -> {
                List<?> list = (List<?>) value;
                long n = 12;
                int element = list.isEmpty() ? INT32 : typeOf(list.getFirst());
                for (Object o : list) n += size(element, o);
                yield n;
            }
            default -> throw new IllegalArgumentException("GGUF value type " + type);
        };
    }

    static void write(ByteBuffer out, int type, Object value) {
        switch (type) {
            case UINT8, INT8 -> out.put(((Number) value).byteValue());
            case BOOL -> out.put((byte) ((Boolean) value ? 1 : 0));
            case UINT16, INT16 -> out.putShort(((Number) value).shortValue());
            case UINT32, INT32 -> out.putInt(((Number) value).intValue());
            case FLOAT32 -> out.putFloat(((Number) value).floatValue());
            case UINT64, INT64 -> out.putLong(((Number) value).longValue());
            case FLOAT64 -> out.putDouble(((Number) value).doubleValue());
            case STRING -> writeString(out, (String) value);
            case ARRAY -> {
                List<?> list = (List<?>) value;
                int element = list.isEmpty() ? INT32 : typeOf(list.getFirst());
                out.putInt(element).putLong(list.size());
                for (Object o : list) write(out, element, o);
            }
            default -> throw new IllegalArgumentException("GGUF value type " + type);
        }
    }

    static void writeString(ByteBuffer out, String s) {
        byte[] bytes = s.getBytes(StandardCharsets.UTF_8);
        out.putLong(bytes.length).put(bytes);
    }
}
