package dev.easel.server.hub;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.easel.server.config.ServerConfig.FileSource;

import java.io.IOException;
import java.io.InputStream;
import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpHeaders;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * A Hugging Face-compatible hub, spoken as the ecosystem's tools speak it: {@code HF_ENDPOINT} and
 * {@code HF_TOKEN}; a file's metadata from a HEAD on its resolve URL ({@code X-Linked-Size},
 * {@code X-Linked-Etag}, {@code X-Repo-Commit}), completed from the model API ({@code ?blobs=true}: sizes and
 * LFS SHA-256) where a mirror leaves headers out; downloads with {@code Range}, redirects followed by hand so
 * that the token never goes to another host (the CDN's links are signed).
 */
public final class HubClient {
    public static final String DEFAULT_ENDPOINT = "https://huggingface.co";
    private static final int MAX_REDIRECTS = 10;
    private static final Pattern SHA256 = Pattern.compile("[0-9a-f]{64}");
    private static final Pattern SHA1 = Pattern.compile("[0-9a-f]{40}");
    private static final Pattern CONTENT_RANGE = Pattern.compile("bytes (\\d+)-(\\d+)/(\\d+|\\*)");

    private final URI endpoint;
    private final Optional<String> token;
    private final HttpClient http;
    private final ObjectMapper json = new ObjectMapper();
    private final Map<String, JsonNode> repoInfo = new ConcurrentHashMap<>();

    public HubClient(URI endpoint, Optional<String> token) {
        this.endpoint = URI.create(endpoint.toString().replaceAll("/+$", ""));
        this.token = token.filter(t -> !t.isBlank());
        this.http = HttpClient.newBuilder().followRedirects(HttpClient.Redirect.NEVER)
                .connectTimeout(Duration.ofSeconds(20)).build();
    }

    /**
     * The hub as the ecosystem's tools find it: {@code configured} (the {@code hub.endpoint} key) if set, else
     * {@code HF_ENDPOINT}, else the public hub; the token from {@code HF_TOKEN}, else the token file.
     */
    public static HubClient fromEnvironment(String configured, Map<String, String> env) {
        String url = configured != null && !configured.isBlank() ? configured
                : Optional.ofNullable(env.get("HF_ENDPOINT")).filter(s -> !s.isBlank()).orElse(DEFAULT_ENDPOINT);
        return new HubClient(URI.create(url), token(env));
    }

    static Optional<String> token(Map<String, String> env) {
        String direct = env.get("HF_TOKEN");
        if (direct != null && !direct.isBlank()) return Optional.of(direct.trim());
        Path file = env.get("HF_TOKEN_PATH") != null ? Path.of(env.get("HF_TOKEN_PATH"))
                : env.get("HF_HOME") != null ? Path.of(env.get("HF_HOME"), "token")
                : Path.of(System.getProperty("user.home"), ".cache", "huggingface", "token");
        try {
            return Files.isRegularFile(file) ? Optional.of(Files.readString(file).trim()).filter(s -> !s.isEmpty()) : Optional.empty();
        } catch (IOException e) {
            return Optional.empty();
        }
    }

    public String endpoint() {
        return endpoint.toString();
    }

    public boolean hasToken() {
        return token.isPresent();
    }

    /** The resolve URL of a file at a revision (a branch, tag or commit). */
    public URI resolveUrl(String repo, String revision, String path) {
        return URI.create(endpoint + "/" + encodePath(repo) + "/resolve/" + encode(revision) + "/" + encodePath(path));
    }

    /** Size, checksum and commit of {@code f}; refusals (gated, not found) are thrown here, before any download. */
    public RemoteFile metadata(FileSource f) throws HubException, IOException {
        URI url = resolveUrl(f.repo(), f.revisionOrMain(), f.path());
        HttpResponse<Void> r = null;
        for (int hop = 0; hop <= MAX_REDIRECTS; hop++) {
            r = send(request(url, 0).method("HEAD", HttpRequest.BodyPublishers.noBody()).build(), HttpResponse.BodyHandlers.discarding());
            Optional<String> location = r.headers().firstValue("Location");
            // A redirect on the hub itself (a renamed repository) is followed; the one to the CDN carries the metadata.
            if (r.statusCode() / 100 != 3 || location.isEmpty() || r.headers().firstValue("X-Linked-Etag").isPresent()) break;
            URI next = url.resolve(location.get());
            if (!sameHost(next, endpoint)) break;
            url = next;
        }
        int status = r.statusCode();
        if (status >= 400) throw refusal(status, r.headers(), f);
        if (status / 100 != 2 && status / 100 != 3) {
            throw new HubException(HubException.Kind.BAD_ANSWER, "the hub answered HTTP " + status + " for " + f.describe());
        }
        HttpHeaders h = r.headers();
        long size = h.firstValue("X-Linked-Size").map(Long::parseLong)
                .or(() -> status == 200 ? h.firstValue("Content-Length").map(Long::parseLong) : Optional.empty())
                .orElse(-1L);
        String etag = h.firstValue("X-Linked-Etag").or(() -> h.firstValue("ETag")).map(HubClient::unquote).orElse("");
        Optional<String> commit = h.firstValue("X-Repo-Commit");
        Optional<String> sha256 = Optional.of(etag).filter(e -> SHA256.matcher(e).matches());
        Optional<String> sha1 = Optional.of(etag).filter(e -> SHA1.matcher(e).matches());
        if (sha256.isEmpty() || size < 0) {
            // A mirror that leaves the linked headers out: the model API knows sizes and LFS checksums.
            JsonNode sibling = sibling(f);
            if (sibling != null) {
                JsonNode lfs = sibling.path("lfs");
                if (lfs.hasNonNull("sha256")) sha256 = Optional.of(lfs.get("sha256").asText());
                if (size < 0 && lfs.hasNonNull("size")) size = lfs.get("size").asLong();
                if (size < 0 && sibling.hasNonNull("size")) size = sibling.get("size").asLong();
                if (sha256.isEmpty() && sha1.isEmpty() && sibling.hasNonNull("blobId")) sha1 = Optional.of(sibling.get("blobId").asText());
                if (commit.isEmpty()) commit = Optional.ofNullable(repoInfo(f).path("sha").textValue());
            }
        }
        if (size < 0) throw new HubException(HubException.Kind.BAD_ANSWER, "the hub did not say the size of " + f.describe());
        URI download = resolveUrl(f.repo(), commit.orElse(f.revisionOrMain()), f.path());
        return new RemoteFile(f, size, sha256, sha256.isPresent() ? Optional.empty() : sha1, commit, download);
    }

    /** A body being received: its first byte is at {@code start} of the file. */
    public record Transfer(long start, InputStream body) implements AutoCloseable {
        @Override
        public void close() throws IOException {
            body.close();
        }
    }

    /** GETs {@code f} from {@code offset} on (the whole file if the server ignores the range). */
    public Transfer open(RemoteFile f, long offset) throws IOException, HubException {
        URI url = f.url();
        boolean auth = true;
        for (int hop = 0; hop <= MAX_REDIRECTS; hop++) {
            HttpRequest.Builder b = auth ? request(url, offset) : anonymous(url, offset);
            HttpResponse<InputStream> r = send(b.GET().build(), HttpResponse.BodyHandlers.ofInputStream());
            int status = r.statusCode();
            if (status / 100 == 3 && r.headers().firstValue("Location").isPresent()) {
                r.body().close();
                URI next = url.resolve(r.headers().firstValue("Location").get());
                auth &= sameHost(next, endpoint);
                url = next;
                continue;
            }
            if (status >= 400) {
                r.body().close();
                if (status >= 500 || status == 408 || status == 429) throw new IOException("the hub answered HTTP " + status);
                throw refusal(status, r.headers(), f.source());
            }
            if (status == 206) {
                Matcher m = CONTENT_RANGE.matcher(r.headers().firstValue("Content-Range").orElse(""));
                long start = m.matches() ? Long.parseLong(m.group(1)) : -1;
                if (start != offset) {
                    r.body().close();
                    throw new IOException("the server sent bytes from " + start + " when asked from " + offset);
                }
                return new Transfer(start, r.body());
            }
            return new Transfer(0, r.body());
        }
        throw new IOException("more than " + MAX_REDIRECTS + " redirects for " + f.source().describe());
    }

    private HttpRequest.Builder request(URI url, long offset) {
        HttpRequest.Builder b = anonymous(url, offset);
        token.ifPresent(t -> b.header("Authorization", "Bearer " + t));
        return b;
    }

    private static HttpRequest.Builder anonymous(URI url, long offset) {
        HttpRequest.Builder b = HttpRequest.newBuilder(url).header("User-Agent", "easel/0.1.0")
                .header("Accept-Encoding", "identity").timeout(Duration.ofSeconds(60));
        if (offset > 0) b.header("Range", "bytes=" + offset + "-");
        return b;
    }

    private <T> HttpResponse<T> send(HttpRequest request, HttpResponse.BodyHandler<T> handler) throws IOException {
        try {
            return http.send(request, handler);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new java.io.InterruptedIOException("interrupted");
        }
    }

    /** The hub's refusal in words an operator can act on. */
    private HubException refusal(int status, HttpHeaders h, FileSource f) {
        String code = h.firstValue("X-Error-Code").orElse("");
        String page = endpoint + "/" + f.repo();
        boolean gated = code.equals("GatedRepo") || ((status == 401 || status == 403) && gated(f));
        if (gated && token.isEmpty()) {
            return new HubException(HubException.Kind.GATED, f.repo() + " is a gated repository: accept its licence at "
                    + page + " (logged in), then give a token of that account as HF_TOKEN (" + endpoint + "/settings/tokens)");
        }
        if (gated) {
            return new HubException(HubException.Kind.GATED, "the token in HF_TOKEN has no access to the gated repository "
                    + f.repo() + " (HTTP " + status + "): accept its licence at " + page + " with the account the token belongs to");
        }
        if (status == 401 && code.equals("RepoNotFound")) { // the hub's answer to an anonymous request for a private or missing repository
            return new HubException(HubException.Kind.NOT_FOUND, "there is no repository " + f.repo() + " on " + endpoint
                    + " (HTTP 401), or it is private: then give a token with access as HF_TOKEN");
        }
        if (status == 401 || status == 403) {
            return new HubException(HubException.Kind.DENIED, "the hub refused " + f.describe() + " (HTTP " + status + "): "
                    + (token.isEmpty() ? "the repository does not exist or is private (give a token as HF_TOKEN)"
                    : "the token in HF_TOKEN has no access to it, or the repository does not exist"));
        }
        if (status == 404) {
            String what = switch (code) {
                case "RepoNotFound" -> "there is no repository " + f.repo() + " on " + endpoint;
                case "RevisionNotFound" -> f.repo() + " has no revision '" + f.revisionOrMain() + "'";
                default -> f.repo() + " has no file '" + f.path() + "' at revision '" + f.revisionOrMain() + "'";
            };
            return new HubException(HubException.Kind.NOT_FOUND, what + " (HTTP 404)");
        }
        return new HubException(HubException.Kind.BAD_ANSWER, "the hub answered HTTP " + status + " for " + f.describe()
                + h.firstValue("X-Error-Message").map(m -> ": " + m).orElse(""));
    }

    /** Whether the model API says the repository is gated (it is public metadata, readable without a token). */
    private boolean gated(FileSource f) {
        JsonNode g = repoInfo(f).path("gated");
        return g.isTextual() || g.asBoolean(false);
    }

    private JsonNode sibling(FileSource f) {
        for (JsonNode s : repoInfo(f).path("siblings")) {
            if (f.path().equals(s.path("rfilename").asText())) return s;
        }
        return null;
    }

    /** {@code GET /api/models/{repo}/revision/{rev}?blobs=true}, once per repository and revision; empty if it fails. */
    private JsonNode repoInfo(FileSource f) {
        return repoInfo.computeIfAbsent(f.repo() + "@" + f.revisionOrMain(), k -> {
            URI url = URI.create(endpoint + "/api/models/" + encodePath(f.repo()) + "/revision/" + encode(f.revisionOrMain()) + "?blobs=true");
            try {
                HttpResponse<byte[]> r = send(request(url, 0).GET().build(), HttpResponse.BodyHandlers.ofByteArray());
                return r.statusCode() == 200 ? json.readTree(r.body()) : json.createObjectNode();
            } catch (IOException e) {
                return json.createObjectNode();
            }
        });
    }

    private static boolean sameHost(URI a, URI b) {
        return Objects.equals(a.getHost(), b.getHost()) && a.getPort() == b.getPort() && Objects.equals(a.getScheme(), b.getScheme());
    }

    private static String unquote(String etag) {
        String e = etag.startsWith("W/") ? etag.substring(2) : etag;
        return e.replace("\"", "").trim();
    }

    static String encode(String segment) {
        return URLEncoder.encode(segment, StandardCharsets.UTF_8).replace("+", "%20");
    }

    static String encodePath(String path) {
        StringBuilder sb = new StringBuilder();
        for (String part : path.split("/")) {
            if (!sb.isEmpty()) sb.append('/');
            sb.append(encode(part));
        }
        return sb.toString();
    }
}
