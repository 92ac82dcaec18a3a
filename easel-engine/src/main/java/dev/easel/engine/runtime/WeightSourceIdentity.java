package dev.easel.engine.runtime;

import dev.easel.engine.weights.DerivedWeights;
import dev.easel.engine.weights.MultiFileWeights;
import dev.easel.engine.weights.RenamedWeights;
import dev.easel.engine.weights.SafetensorsFile;
import dev.easel.engine.weights.ScaledFp8Weights;
import dev.easel.engine.weights.TensorInfo;
import dev.easel.engine.weights.WeightSource;
import dev.easel.engine.weights.gguf.GgufFile;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.BasicFileAttributes;
import java.util.Arrays;
import java.util.Collection;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Optional;
import java.util.TreeSet;

/**
 * What the weights a graph binds are made of, as text for {@link PreparedModelCache}'s key: each file read (its real
 * path, size, modification time and a SHA-256 of its header, which lists every tensor's name, type, shape and
 * offset), then, for each weight, which tensor of which file it is read from and through which views (renamed,
 * reshaped, sliced, transposed, scaled fp8). A change to a file or to how a layout converter maps it changes the
 * text. Empty for a source of a kind it does not know, which is then not cached.
 */
final class WeightSourceIdentity {
    /** Bytes hashed at the start of a file whose header length is not known (GGUF keeps its tensor list there). */
    private static final int GENERIC_HEADER_BYTES = 4 << 20;

    private final Map<Path, Integer> files = new LinkedHashMap<>();

    private WeightSourceIdentity() {
    }

    static Optional<String> describe(WeightSource source, Collection<String> weights) {
        WeightSourceIdentity identity = new WeightSourceIdentity();
        StringBuilder provenance = new StringBuilder();
        try {
            for (String name : new TreeSet<>(weights)) provenance.append(name).append(" = ").append(identity.where(source, name)).append('\n');
        } catch (UnsupportedOperationException e) {
            return Optional.empty();
        }
        StringBuilder text = new StringBuilder();
        identity.files.forEach((file, index) -> text.append("file ").append(index).append(' ').append(fileIdentity(file)).append('\n'));
        return Optional.of(text.append(provenance).toString());
    }

    private String where(WeightSource source, String name) {
        return switch (source) {
            case SafetensorsFile f -> stored(f.path(), f.info(name));
            case GgufFile g -> stored(g.path(), g.info(name));
            case RenamedWeights r -> "as " + Arrays.toString(r.info(name).shape()) + " of " + where(r.base(), r.originalName(name));
            case DerivedWeights d -> d.derivation(name) + " of " + where(d.base(), d.derivation(name).source());
            case ScaledFp8Weights s -> "scaled fp8 of " + where(s.base(), name);
            case MultiFileWeights m -> where(m.parts().stream().filter(p -> p.contains(name)).findFirst()
                    .orElseThrow(() -> new IllegalArgumentException("no part of " + m.location() + " holds " + name)), name);
            default -> throw new UnsupportedOperationException(source.getClass().getName());
        };
    }

    private String stored(Path file, TensorInfo t) {
        int index = files.computeIfAbsent(file.toAbsolutePath().normalize(), f -> files.size());
        return "file " + index + " tensor " + t.name() + " " + t.dtype() + " " + Arrays.toString(t.shape())
                + " at " + t.byteOffset() + "+" + t.byteLength();
    }

    /** Real path, size, modification time and the SHA-256 of the header (safetensors) or of the first 4 MiB. */
    private static String fileIdentity(Path file) {
        try {
            Path real = file.toRealPath();
            BasicFileAttributes attributes = Files.readAttributes(real, BasicFileAttributes.class);
            try (FileChannel channel = FileChannel.open(real, StandardOpenOption.READ)) {
                long headerBytes = Math.min(channel.size(), GENERIC_HEADER_BYTES);
                if (real.getFileName().toString().endsWith(".safetensors") && channel.size() >= Long.BYTES) {
                    ByteBuffer length = ByteBuffer.allocate(Long.BYTES).order(ByteOrder.LITTLE_ENDIAN);
                    channel.read(length, 0);
                    headerBytes = Math.min(channel.size(), Long.BYTES + Math.max(0, length.getLong(0)));
                }
                return real + " size " + attributes.size() + " mtime " + attributes.lastModifiedTime().toInstant()
                        + " header " + HexFormat.of().formatHex(Checksums.sha256(channel, 0, headerBytes));
            }
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read " + file + " to key the prepared-model cache", e);
        }
    }
}
