package dev.easel.server.cli;

import dev.easel.server.catalog.ModelCatalog;
import dev.easel.server.catalog.ModelEntry;
import dev.easel.server.config.ServerConfig;
import dev.easel.server.config.ServerConfig.FileSource;
import dev.easel.server.hub.Bytes;
import dev.easel.server.hub.HubClient;
import dev.easel.server.hub.HubException;
import dev.easel.server.hub.RemoteFile;

import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.util.List;
import java.util.Optional;

/**
 * {@code easel models} and {@code easel pull --list}: every catalog model, installed or not, with each of its
 * files (in place or missing, its size: on disk, else as the hub says unless offline) and its source.
 */
final class ModelListing {
    private ModelListing() {
    }

    static void print(ServerConfig config, Optional<HubClient> hub, PrintWriter out) {
        ModelCatalog catalog = new ModelCatalog(config, Clock.systemUTC());
        out.println("Models dir: " + config.modelsDir().toAbsolutePath()
                + hub.map(h -> "    hub: " + h.endpoint()).orElse("    (offline: sizes of missing files not asked)"));
        for (var e : config.catalog().entrySet()) {
            String id = e.getKey();
            ModelEntry entry = catalog.find(id).orElseThrow();
            List<FileSource> files = e.getValue().filesOrEmpty();
            long missingBytes = 0;
            boolean sizesKnown = true;
            StringBuilder lines = new StringBuilder();
            int missing = 0;
            for (FileSource f : files) {
                Path target = config.modelsDir().resolve(f.target()).normalize();
                String size;
                String state;
                if (Files.exists(target)) {
                    state = "in place";
                    size = Bytes.format(sizeOnDisk(target));
                } else {
                    missing++;
                    Remote r = remote(hub, f);
                    state = "missing" + r.note;
                    size = Bytes.format(r.size);
                    if (r.size < 0) sizesKnown = false;
                    else missingBytes += r.size;
                }
                lines.append(String.format("    %-36s %9s  %-9s  %s%n", f.target(), size, state, f.describe()));
            }
            String status = entry.installed()
                    ? "installed" + (missing > 0 ? ", " + missing + " file(s) missing" : "")
                    : "not installed";
            if (missing > 0 && !files.isEmpty()) {
                status += ": " + (sizesKnown && hub.isPresent() ? Bytes.format(missingBytes) + " to download, " : "")
                        + "`easel pull " + id + "`";
            } else if (!entry.installed() && files.isEmpty()) {
                status += ": no files listed; put its checkpoint in the models dir";
            }
            out.printf("%-34s %-8s %s%n", id, entry.tier().id(), status);
            out.print(lines);
        }
        List<String> others = catalog.all().stream().filter(m -> !m.catalogued()).map(ModelEntry::id).toList();
        if (!others.isEmpty()) out.println("Other checkpoints in the models dir: " + String.join(", ", others));
        out.flush();
    }

    private record Remote(long size, String note) {
    }

    private static Remote remote(Optional<HubClient> hub, FileSource f) {
        if (hub.isEmpty()) return new Remote(-1, "");
        try {
            RemoteFile r = hub.get().metadata(f);
            return new Remote(r.size(), "");
        } catch (HubException e) {
            return new Remote(-1, e.kind() == HubException.Kind.GATED ? " (gated)" : " (" + e.kind().name().toLowerCase().replace('_', ' ') + ")");
        } catch (IOException e) {
            return new Remote(-1, " (hub unreachable)");
        }
    }

    private static long sizeOnDisk(Path p) {
        try (var files = Files.walk(p)) {
            return files.filter(Files::isRegularFile).mapToLong(f -> f.toFile().length()).sum();
        } catch (IOException e) {
            return -1;
        }
    }
}
