package dev.easel.server.webhooks;

import dev.easel.server.storage.JobStore;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.security.SecureRandom;
import java.time.Clock;
import java.time.Duration;
import java.util.HexFormat;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;

/**
 * Sends a job's end to its webhook: a signed POST (Standard Webhooks headers), retried with exponential backoff
 * on a non-2xx answer or a network error, each attempt recorded on the job. The target is checked against
 * {@link WebhookTargets} before every attempt; redirects are not followed. Neither the secret nor the signature
 * is ever logged.
 */
public final class WebhookSender implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(WebhookSender.class);
    private static final SecureRandom RANDOM = new SecureRandom();

    private final JobStore jobs;
    private final WebhookTargets targets;
    private final int maxAttempts;
    private final long initialBackoffMillis;
    private final Duration timeout;
    private final Clock clock;
    private final HttpClient http;
    private final ScheduledExecutorService timer =
            Executors.newSingleThreadScheduledExecutor(Thread.ofPlatform().daemon().name("easel-webhooks").factory());

    public WebhookSender(JobStore jobs, WebhookTargets targets, int maxAttempts, long initialBackoffMillis,
                         Duration timeout, Clock clock) {
        this.jobs = jobs;
        this.targets = targets;
        this.maxAttempts = maxAttempts;
        this.initialBackoffMillis = initialBackoffMillis;
        this.timeout = timeout;
        this.clock = clock;
        this.http = HttpClient.newBuilder()
                .connectTimeout(timeout)
                .followRedirects(HttpClient.Redirect.NEVER)
                .executor(Executors.newVirtualThreadPerTaskExecutor())
                .build();
    }

    public WebhookTargets targets() {
        return targets;
    }

    /** Starts delivering {@code body} for job {@code jobId}; returns at once. */
    public void send(String jobId, String url, String secret, String body) {
        byte[] id = new byte[16];
        RANDOM.nextBytes(id);
        Delivery d = new Delivery(jobId, url, secret, body, "msg_" + HexFormat.of().formatHex(id));
        timer.execute(() -> Thread.ofVirtual().start(() -> attempt(d, 1)));
    }

    private record Delivery(String jobId, String url, String secret, String body, String messageId) {
    }

    private void attempt(Delivery d, int attempt) {
        Integer status = null;
        String error = null;
        String refused = targets.refusal(d.url());
        if (refused != null) {
            jobs.webhookAttempt(d.jobId(), "failed", attempt - 1, null, "refused: " + refused, null);
            log.warn("webhook of job {} not sent: {}", d.jobId(), refused);
            return;
        }
        try {
            long timestamp = clock.instant().getEpochSecond();
            HttpRequest request = HttpRequest.newBuilder(URI.create(d.url()))
                    .timeout(timeout)
                    .header("Content-Type", "application/json")
                    .header("User-Agent", "Easel-Webhooks/1")
                    .header("webhook-id", d.messageId())
                    .header("webhook-timestamp", String.valueOf(timestamp))
                    .header("webhook-signature", WebhookSigner.sign(d.secret(), d.messageId(), timestamp, d.body()))
                    .POST(HttpRequest.BodyPublishers.ofString(d.body(), StandardCharsets.UTF_8))
                    .build();
            HttpResponse<Void> response = http.send(request, HttpResponse.BodyHandlers.discarding());
            status = response.statusCode();
            if (status >= 200 && status < 300) {
                jobs.webhookAttempt(d.jobId(), "delivered", attempt, status, null, clock.instant());
                return;
            }
            error = "answered " + status;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return;
        } catch (Exception e) {
            error = e.getClass().getSimpleName() + (e.getMessage() == null ? "" : ": " + e.getMessage());
        }
        boolean again = attempt < maxAttempts;
        jobs.webhookAttempt(d.jobId(), again ? "pending" : "failed", attempt, status, error, null);
        log.info("webhook of job {}: attempt {} of {} failed ({}){}", d.jobId(), attempt, maxAttempts, error,
                again ? ", retrying" : "");
        if (again) {
            long delay = initialBackoffMillis << Math.min(20, attempt - 1);
            try {
                timer.schedule(() -> Thread.ofVirtual().start(() -> attempt(d, attempt + 1)), delay, TimeUnit.MILLISECONDS);
            } catch (java.util.concurrent.RejectedExecutionException e) {
                log.warn("webhook of job {} not retried: the server is stopping", d.jobId());
            }
        }
    }

    @Override
    public void close() {
        timer.shutdownNow();
    }
}
