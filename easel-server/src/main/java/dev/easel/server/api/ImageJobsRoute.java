package dev.easel.server.api;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.easel.server.auth.ApiKey;
import dev.easel.server.storage.ApiKeyStore;
import dev.easel.server.storage.JobStore.JobRecord;
import io.javalin.http.Context;

import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Locale;
import java.util.Optional;

/**
 * Async jobs, our extension in OpenAI's style:
 * {@code POST /v1/images/jobs} (a generation body, or an edit: {@code "operation": "edit"} or any body with an image)
 * answers 202 with the job; {@code GET /v1/images/jobs/{id}} its status, and when it ended its result (the body the
 * synchronous call returns) or error; {@code DELETE} cancels it; {@code GET /v1/images/jobs} lists the key's jobs.
 * A key sees only its own jobs: others' are 404, as if they did not exist.
 */
final class ImageJobsRoute {
    private final ImageService service;
    private final JobRecords records;
    private final ApiKeyStore keys;
    private final RequestReader reader;
    private final ImagesGenerationsRoute generations;
    private final ImagesEditsRoute edits;
    private final ObjectMapper json;
    /** With a shared database: jobs that any node may be running; null on SQLite. */
    private final ClaimedJobs claimed;

    ImageJobsRoute(ImageService service, JobRecords records, ApiKeyStore keys, RequestReader reader,
                   ImagesGenerationsRoute generations, ImagesEditsRoute edits, ObjectMapper json, ClaimedJobs claimed) {
        this.claimed = claimed;
        this.service = service;
        this.records = records;
        this.keys = keys;
        this.reader = reader;
        this.generations = generations;
        this.edits = edits;
        this.json = json;
    }

    void create(Context ctx) {
        ApiKey key = Routes.key(ctx);
        RequestFields fields = reader.read(ctx);
        String operation = ImageParams.string(fields, "operation", 32).map(s -> s.strip().toLowerCase(Locale.ROOT))
                .orElse(fields.images().isEmpty() ? "generation" : "edit");
        PreparedJob prep = switch (operation) {
            case "generation", "generate", "generations" -> generations.prepare(key, fields);
            case "edit", "edits" -> edits.prepare(key, fields);
            default -> throw ApiException.invalidValue("operation", "Invalid operation '" + operation + "': use generation or edit.");
        };
        ApiKeyStore.Webhook hook = keys.webhook(key.id());
        Optional<String> url = ImageParams.string(fields, "webhook_url", 2048).map(String::strip).filter(s -> !s.isEmpty())
                .or(hook::url);
        String secret = null;
        if (url.isPresent()) {
            String refused = records.webhooks().targets().refusal(url.get());
            if (refused != null) {
                throw ApiException.badRequest("webhook_url", "invalid_webhook_url", "The webhook URL is refused: " + refused + ".");
            }
            secret = hook.secret().orElseThrow(() -> ApiException.badRequest("webhook_url", "webhook_secret_missing",
                    "This key has no webhook signing secret yet: create one with POST /v1/webhook/secret (shown once), then submit again."));
        }
        JobRecord r = service.submitAsync(ctx, prep, url.orElse(null), secret);
        ctx.status(202).contentType("application/json").json(records.body(r));
    }

    void get(Context ctx) {
        ctx.json(records.body(own(ctx)));
    }

    void list(Context ctx) {
        ApiKey key = Routes.key(ctx);
        int limit = Optional.ofNullable(ctx.queryParam("limit")).map(JobsParams::limit).orElse(20);
        Optional<Instant> before = Optional.ofNullable(ctx.queryParam("before")).map(JobsParams::before);
        List<JobRecord> jobs = records.store().list(key.id(), limit + 1, before);
        ObjectNode body = json.createObjectNode();
        body.put("object", "list");
        ArrayNode data = body.putArray("data");
        jobs.stream().limit(limit).forEach(r -> data.add(records.body(r)));
        body.put("has_more", jobs.size() > limit);
        ctx.json(body);
    }

    /** Cancels a job: a queued one at once, a running one at its next step (wherever it runs). */
    void cancel(Context ctx) {
        JobRecord r = own(ctx);
        if (!r.state().ended()) {
            Optional<JobRecords.Live> live = records.live(r.id());
            if (live.isPresent()) {
                live.get().job().cancel("cancelled by the client");
                records.awaitEnd(live.get(), Duration.ofSeconds(5));
            } else if (claimed == null || !claimed.cancelQueued(r)) {
                records.store().requestCancel(r.id()); // a node runs it: it stops at its next step
                r = awaitEnd(r.id(), Duration.ofSeconds(5));
            }
            r = records.find(r.id()).orElse(r);
        }
        ctx.json(records.body(r));
    }

    /** Reads a job's record until it has ended, for at most {@code timeout}. */
    private JobRecord awaitEnd(String id, Duration timeout) {
        long deadline = System.nanoTime() + timeout.toNanos();
        JobRecord r = records.find(id).orElseThrow();
        while (!r.state().ended() && System.nanoTime() < deadline) {
            try {
                Thread.sleep(20);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                break;
            }
            r = records.find(id).orElseThrow();
        }
        return r;
    }

    private JobRecord own(Context ctx) {
        ApiKey key = Routes.key(ctx);
        String id = ctx.pathParam("id");
        return records.find(id).filter(r -> r.keyId().equals(key.id())).orElseThrow(() ->
                ApiException.notFound(null, "job_not_found", "No job '" + id + "' for this key."));
    }

    private static final class JobsParams {
        static int limit(String s) {
            try {
                int n = Integer.parseInt(s.strip());
                if (n >= 1 && n <= 100) return n;
            } catch (NumberFormatException ignored) {
                // below
            }
            throw ApiException.invalidValue("limit", "'limit' must be an integer from 1 to 100.");
        }

        static Instant before(String s) {
            try {
                return Instant.ofEpochSecond(Long.parseLong(s.strip()));
            } catch (NumberFormatException e) {
                throw ApiException.invalidValue("before", "'before' must be a Unix time in seconds.");
            }
        }
    }
}
