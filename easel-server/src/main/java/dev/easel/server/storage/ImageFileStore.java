package dev.easel.server.storage;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.FileTime;
import java.security.SecureRandom;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.Base64;
import java.util.Optional;
import java.util.regex.Pattern;

/**
 * Images answered with {@code response_format=url}: written under {@code <data-dir>/images/} with an
 * unguessable name (256 random bits), served without authentication for a limited time (like a signed
 * link), then deleted.
 */
public final class ImageFileStore {
    private static final Logger log = LoggerFactory.getLogger(ImageFileStore.class);
    private static final Pattern NAME = Pattern.compile("[A-Za-z0-9_-]{43}\\.(png|jpeg|webp)");
    private static final SecureRandom RANDOM = new SecureRandom();

    private final Path dir;
    private final Duration ttl;
    private final Clock clock;

    public ImageFileStore(Path dataDir, Duration ttl, Clock clock) {
        this.dir = dataDir.resolve("images");
        this.ttl = ttl;
        this.clock = clock;
        try {
            Files.createDirectories(dir);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot create " + dir, e);
        }
    }

    /** A stored image: the file name to put in the link and when the link stops working. */
    public record Stored(String name, Instant expiresAt) {
    }

    public record Found(byte[] bytes, String contentType, Instant expiresAt) {
    }

    public Stored store(byte[] bytes, String extension) {
        byte[] token = new byte[32];
        RANDOM.nextBytes(token);
        String name = Base64.getUrlEncoder().withoutPadding().encodeToString(token) + "." + extension;
        Path tmp = dir.resolve(name + ".tmp");
        try {
            Files.write(tmp, bytes);
            Instant now = clock.instant();
            Files.setLastModifiedTime(tmp, FileTime.from(now));
            Files.move(tmp, dir.resolve(name), StandardCopyOption.ATOMIC_MOVE);
            return new Stored(name, now.plus(ttl));
        } catch (IOException e) {
            throw new UncheckedIOException("cannot store an image in " + dir, e);
        }
    }

    /** The image under {@code name} if it exists and has not expired. */
    public Optional<Found> find(String name) {
        if (name == null || !NAME.matcher(name).matches()) return Optional.empty();
        Path file = dir.resolve(name);
        try {
            Instant expires = Files.getLastModifiedTime(file).toInstant().plus(ttl);
            if (!clock.instant().isBefore(expires)) {
                Files.deleteIfExists(file);
                return Optional.empty();
            }
            String ext = name.substring(name.lastIndexOf('.') + 1);
            return Optional.of(new Found(Files.readAllBytes(file), "image/" + ext, expires));
        } catch (NoSuchFileException e) {
            return Optional.empty();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** Deletes expired images (and leftovers of interrupted writes); returns how many. */
    public int sweep() {
        Instant cutoff = clock.instant().minus(ttl);
        int removed = 0;
        try (DirectoryStream<Path> files = Files.newDirectoryStream(dir)) {
            for (Path f : files) {
                try {
                    if (Files.getLastModifiedTime(f).toInstant().isBefore(cutoff)
                            || (f.getFileName().toString().endsWith(".tmp")
                            && Files.getLastModifiedTime(f).toInstant().isBefore(clock.instant().minusSeconds(600)))) {
                        Files.deleteIfExists(f);
                        removed++;
                    }
                } catch (IOException e) {
                    log.warn("cannot remove expired image {}: {}", f.getFileName(), e.getMessage());
                }
            }
        } catch (IOException e) {
            log.warn("cannot sweep {}: {}", dir, e.getMessage());
        }
        return removed;
    }

    public Duration ttl() {
        return ttl;
    }
}
