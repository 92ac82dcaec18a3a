package dev.easel.server.hub;

import dev.easel.server.config.ServerConfig;
import dev.easel.server.config.ServerConfig.FileSource;

import java.util.List;
import java.util.Optional;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/** What {@code easel pull} was asked for: a catalog id, or one file as {@code owner/name[@revision]:path}. */
public record PullTarget(String label, Optional<String> catalogId, List<FileSource> files) {
    private static final Pattern FILE = Pattern.compile("([\\w.-]+/[\\w.-]+)(?:@([^:]+))?:(.+)");

    /** Reads {@code spec}; empty when it is neither a catalog id with sources nor a hub file. */
    public static Optional<PullTarget> parse(String spec, ServerConfig config, String as) throws PullException {
        ServerConfig.ModelConfig entry = config.catalog().get(spec);
        if (entry != null) {
            if (entry.filesOrEmpty().isEmpty()) {
                throw new PullException("the catalog entry '" + spec + "' lists no files to pull (catalog." + spec
                        + ".files); put its checkpoint in the models dir by hand");
            }
            return Optional.of(new PullTarget(spec, Optional.of(spec), entry.filesOrEmpty()));
        }
        Matcher m = FILE.matcher(spec);
        if (!m.matches()) return Optional.empty();
        FileSource f = new FileSource(m.group(1), m.group(2), m.group(3), as);
        String target = f.target();
        if (target.startsWith("/") || List.of(target.split("/")).contains("..")) {
            throw new PullException("--as must be a path inside the models dir, got '" + target + "'");
        }
        return Optional.of(new PullTarget(spec, Optional.empty(), List.of(f)));
    }
}
