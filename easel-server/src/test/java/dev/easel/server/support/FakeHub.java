package dev.easel.server.support;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;

import java.io.IOException;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.URLDecoder;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * A Hugging Face-compatible hub on 127.0.0.1 for the tests, answering as the public hub does: the model API
 * ({@code /api/models/{repo}/revision/{rev}?blobs=true}: commit, gated, siblings with size and LFS sha256), the
 * resolve endpoint (HEAD and GET: a 302 to the CDN with {@code X-Linked-Size}, {@code X-Linked-Etag} and
 * {@code X-Repo-Commit} for LFS files, the bytes with their git blob id as ETag for small ones; 401/403 with
 * {@code X-Error-Code: GatedRepo} for a gated repository without a token with access; 404 with
 * {@code EntryNotFound}), and a separate "CDN" server (another port: another origin) serving blobs with
 * {@code Range}. Every CDN transfer is recorded; a transfer can be cut off part way, and a served byte corrupted.
 */
public final class FakeHub implements AutoCloseable {

    /** One CDN answer: from which byte, how many bytes were written, and whether a token came with it. */
    public record Transfer(String sha256, long from, long bytes, boolean authorized) {
    }

    private record Blob(String path, byte[] bytes, String sha256, String gitSha1, boolean lfs) {
    }

    private static final class Repo {
        final String commit;
        final Map<String, Blob> files = new LinkedHashMap<>();
        Set<String> tokens; // null = not gated

        Repo(String commit) {
            this.commit = commit;
        }
    }

    private static final Pattern RESOLVE = Pattern.compile("/([^/]+/[^/]+)/resolve/([^/]+)/(.+)");
    private static final Pattern API = Pattern.compile("/api/models/([^/]+/[^/]+)/revision/([^/]+)");

    private final HttpServer hub;
    private final HttpServer cdn;
    private final ObjectMapper json = new ObjectMapper();
    private final Map<String, Repo> repos = new ConcurrentHashMap<>();
    private final Map<String, Blob> blobs = new ConcurrentHashMap<>();
    private final Map<String, Long> cutOnce = new ConcurrentHashMap<>();
    private final Map<String, Long> corrupt = new ConcurrentHashMap<>();
    private final List<Transfer> transfers = Collections.synchronizedList(new ArrayList<>());
    private final List<String> requests = Collections.synchronizedList(new ArrayList<>());
    private final Random random = new Random(7);
    private volatile boolean linkedHeaders = true;
    private volatile int chunk = Integer.MAX_VALUE;
    private volatile long chunkPauseMillis;

    public FakeHub() throws IOException {
        hub = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 0);
        cdn = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 0);
        hub.createContext("/", this::hub);
        cdn.createContext("/", this::cdn);
        hub.setExecutor(java.util.concurrent.Executors.newVirtualThreadPerTaskExecutor());
        cdn.setExecutor(java.util.concurrent.Executors.newVirtualThreadPerTaskExecutor());
        hub.start();
        cdn.start();
    }

    public String url() {
        return "http://127.0.0.1:" + hub.getAddress().getPort();
    }

    /** Puts a file in a repository; files ending in .json or .txt are kept in git, the rest in LFS. */
    public FakeHub file(String repo, String path, byte[] bytes) {
        Repo r = repos.computeIfAbsent(repo, k -> new Repo(hex(random, 20)));
        boolean lfs = !(path.endsWith(".json") || path.endsWith(".txt"));
        Blob b = new Blob(path, bytes, digest("SHA-256", bytes, null), digest("SHA-1", bytes, "blob " + bytes.length + "\0"), lfs);
        r.files.put(path, b);
        blobs.put(b.sha256(), b);
        return this;
    }

    /** Makes a repository gated: only these tokens (of accounts that accepted the licence) may download. */
    public FakeHub gated(String repo, String... tokens) {
        repos.get(repo).tokens = Set.of(tokens);
        return this;
    }

    /** The next CDN transfer of this file stops after {@code bytes} bytes (the connection is dropped). */
    public void cutOnce(String repo, String path, long bytes) {
        cutOnce.put(repos.get(repo).files.get(path).sha256(), bytes);
    }

    /** Every CDN transfer of this file sends the byte at {@code offset} flipped. */
    public void corrupt(String repo, String path, long offset) {
        corrupt.put(repos.get(repo).files.get(path).sha256(), offset);
    }

    /** Answers resolve without the X-Linked-* headers, as a plain mirror might: metadata then comes from the model API. */
    public void withoutLinkedHeaders() {
        linkedHeaders = false;
    }

    /** The CDN sends {@code bytes} at a time with a pause between: a slow download, to watch it in flight. */
    public void throttle(int bytes, long pauseMillis) {
        chunk = bytes;
        chunkPauseMillis = pauseMillis;
    }

    public List<Transfer> transfers() {
        synchronized (transfers) {
            return List.copyOf(transfers);
        }
    }

    /** "METHOD path" of every request the hub (not the CDN) got. */
    public List<String> requests() {
        synchronized (requests) {
            return List.copyOf(requests);
        }
    }

    /** The CDN transfers of one file, in order. */
    public List<Transfer> transfersOf(String repo, String path) {
        String sha = repos.get(repo).files.get(path).sha256();
        return transfers().stream().filter(t -> t.sha256().equals(sha)).toList();
    }

    public long bytesServed(String repo, String path) {
        String sha = repos.get(repo).files.get(path).sha256();
        return transfers().stream().filter(t -> t.sha256().equals(sha)).mapToLong(Transfer::bytes).sum();
    }

    private void hub(HttpExchange x) throws IOException {
        try (x) {
            String path = x.getRequestURI().getRawPath();
            requests.add(x.getRequestMethod() + " " + x.getRequestURI());
            Matcher api = API.matcher(path);
            Matcher resolve = RESOLVE.matcher(path);
            if (api.matches()) {
                modelInfo(x, decode(api.group(1)), decode(api.group(2)));
            } else if (resolve.matches()) {
                resolve(x, decode(resolve.group(1)), decode(resolve.group(2)), decode(resolve.group(3)));
            } else {
                error(x, 404, null, "not found");
            }
        }
    }

    private void modelInfo(HttpExchange x, String repoId, String revision) throws IOException {
        Repo repo = repos.get(repoId);
        if (repo == null || !(revision.equals("main") || revision.equals(repo.commit))) {
            error(x, repo == null ? 401 : 404, repo == null ? "RepoNotFound" : "RevisionNotFound", "not found");
            return;
        }
        ObjectNode info = json.createObjectNode();
        info.put("id", repoId);
        info.put("sha", repo.commit);
        if (repo.tokens != null) info.put("gated", "manual");
        else info.put("gated", false);
        ArrayNode siblings = info.putArray("siblings");
        for (Blob b : repo.files.values()) {
            ObjectNode s = siblings.addObject();
            s.put("rfilename", b.path());
            s.put("size", b.bytes().length);
            s.put("blobId", b.gitSha1());
            if (b.lfs()) {
                ObjectNode lfs = s.putObject("lfs");
                lfs.put("sha256", b.sha256());
                lfs.put("size", b.bytes().length);
                lfs.put("pointerSize", 134);
            }
        }
        byte[] body = json.writeValueAsBytes(info);
        x.getResponseHeaders().set("Content-Type", "application/json");
        x.sendResponseHeaders(200, body.length);
        x.getResponseBody().write(body);
    }

    private void resolve(HttpExchange x, String repoId, String revision, String file) throws IOException {
        Repo repo = repos.get(repoId);
        String auth = x.getRequestHeaders().getFirst("Authorization");
        String token = auth != null && auth.startsWith("Bearer ") ? auth.substring(7) : null;
        if (repo == null) {
            error(x, token == null ? 401 : 404, "RepoNotFound", "Repository Not Found for url: " + x.getRequestURI());
            return;
        }
        if (repo.tokens != null && token == null) {
            error(x, 401, "GatedRepo", "Access to model " + repoId + " is restricted. You must have access to it and be authenticated to access it. Please log in.");
            return;
        }
        if (repo.tokens != null && !repo.tokens.contains(token)) {
            error(x, 403, "GatedRepo", "Access to model " + repoId + " is restricted and you are not in the authorized list. Visit " + url() + "/" + repoId + " to ask for access.");
            return;
        }
        if (!(revision.equals("main") || revision.equals(repo.commit))) {
            error(x, 404, "RevisionNotFound", "Invalid rev id: " + revision);
            return;
        }
        Blob b = repo.files.get(file);
        if (b == null) {
            error(x, 404, "EntryNotFound", file + " does not exist on \"" + revision + "\"");
            return;
        }
        var h = x.getResponseHeaders();
        h.set("X-Repo-Commit", repo.commit);
        boolean head = x.getRequestMethod().equals("HEAD");
        if (b.lfs()) {
            if (linkedHeaders) {
                h.set("X-Linked-Size", String.valueOf(b.bytes().length));
                h.set("X-Linked-Etag", "\"" + b.sha256() + "\"");
            }
            h.set("ETag", "\"" + b.sha256() + "\"");
            h.set("Location", "http://127.0.0.1:" + cdn.getAddress().getPort() + "/repos/" + b.sha256() + "?X-Amz-Signature=fake");
            x.sendResponseHeaders(302, -1);
            return;
        }
        h.set("ETag", "\"" + b.gitSha1() + "\"");
        if (head) {
            h.set("Content-Length", String.valueOf(b.bytes().length));
            x.sendResponseHeaders(200, -1);
        } else {
            x.sendResponseHeaders(200, b.bytes().length);
            x.getResponseBody().write(b.bytes());
        }
    }

    private void cdn(HttpExchange x) throws IOException {
        try (x) {
            String sha = x.getRequestURI().getPath().replaceFirst("^/repos/", "");
            Blob b = blobs.get(sha);
            if (b == null) {
                x.sendResponseHeaders(404, -1);
                return;
            }
            long from = 0;
            String range = x.getRequestHeaders().getFirst("Range");
            Matcher m = range == null ? null : Pattern.compile("bytes=(\\d+)-").matcher(range);
            if (m != null && m.matches()) from = Long.parseLong(m.group(1));
            int size = b.bytes().length;
            if (from >= size) {
                x.getResponseHeaders().set("Content-Range", "bytes */" + size);
                x.sendResponseHeaders(416, -1);
                return;
            }
            x.getResponseHeaders().set("Accept-Ranges", "bytes");
            x.getResponseHeaders().set("ETag", "\"cdn-" + sha.substring(0, 8) + "\"");
            if (from > 0) {
                x.getResponseHeaders().set("Content-Range", "bytes " + from + "-" + (size - 1) + "/" + size);
                x.sendResponseHeaders(206, size - from);
            } else {
                x.sendResponseHeaders(200, size);
            }
            byte[] body = b.bytes().clone();
            Long flip = corrupt.get(sha);
            if (flip != null) body[flip.intValue()] ^= 0x5A;
            Long cut = cutOnce.remove(sha);
            long end = cut != null ? Math.min(size, cut) : size;
            boolean authorized = x.getRequestHeaders().containsKey("Authorization");
            OutputStream out = x.getResponseBody();
            long written = 0;
            try {
                for (long pos = from; pos < end; ) {
                    int n = (int) Math.min(chunk, end - pos);
                    out.write(body, (int) pos, n);
                    out.flush();
                    pos += n;
                    written += n;
                    if (pos < end && chunkPauseMillis > 0) Thread.sleep(chunkPauseMillis);
                }
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            } finally {
                transfers.add(new Transfer(sha, from, written, authorized));
            }
        } catch (IOException e) {
            // a cut transfer: the connection is dropped, as a network failure would
        }
    }

    private void error(HttpExchange x, int status, String code, String message) throws IOException {
        if (code != null) x.getResponseHeaders().set("X-Error-Code", code);
        x.getResponseHeaders().set("X-Error-Message", message);
        byte[] body = json.writeValueAsBytes(Map.of("error", message));
        if (x.getRequestMethod().equals("HEAD")) {
            x.sendResponseHeaders(status, -1);
        } else {
            x.sendResponseHeaders(status, body.length);
            x.getResponseBody().write(body);
        }
    }

    private static String decode(String s) {
        return URLDecoder.decode(s.replace("+", "%2B"), StandardCharsets.UTF_8);
    }

    private static String digest(String algorithm, byte[] bytes, String prefix) {
        try {
            MessageDigest md = MessageDigest.getInstance(algorithm);
            if (prefix != null) md.update(prefix.getBytes(StandardCharsets.US_ASCII));
            return HexFormat.of().formatHex(md.digest(bytes));
        } catch (java.security.NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    private static String hex(Random random, int bytes) {
        byte[] b = new byte[bytes];
        random.nextBytes(b);
        return HexFormat.of().formatHex(b);
    }

    /** Deterministic pseudo-random content of {@code n} bytes. */
    public static byte[] content(int n, long seed) {
        byte[] b = new byte[n];
        new Random(seed).nextBytes(b);
        return b;
    }

    @Override
    public void close() {
        hub.stop(0);
        cdn.stop(0);
    }
}
