package dev.easel.server.hub;

import dev.easel.server.config.ServerConfig.FileSource;

import java.net.URI;
import java.util.Optional;

/**
 * A file on the hub as its metadata describes it.
 *
 * @param size    bytes
 * @param sha256  the LFS object's SHA-256 (large files)
 * @param gitSha1 the git blob id (small files kept in git itself), when there is no SHA-256
 * @param commit  the commit the revision resolved to; downloads are pinned to it
 * @param url     where to GET it (the resolve URL at {@code commit})
 */
public record RemoteFile(FileSource source, long size, Optional<String> sha256, Optional<String> gitSha1,
                         Optional<String> commit, URI url) {
}
