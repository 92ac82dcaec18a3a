package dev.easel.server.webhooks;

import dev.easel.server.storage.JobStore;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import javax.net.ssl.SSLSocketFactory;
import java.nio.charset.StandardCharsets;
import java.security.SecureRandom;
import java.time.Clock;
import java.time.Duration;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;

/**
 * Sends a job's end to its webhook: a signed POST (Standard Webhooks headers), retried with exponential backoff
 * on a non-2xx answer or a network error, each attempt recorded on the job. The target is checked against
 * {@link WebhookTargets} before every attempt, and the attempt connects to exactly the addresses that check resolved
 * ({@link PinnedPost}: no second DNS lookup that could answer differently); redirects are not followed. Neither the
 * secret nor the signature
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
    private final PinnedPost http;
    private final ScheduledExecutorService timer =
            Executors.newSingleThreadScheduledExecutor(Thread.ofPlatform().daemon().name("easel-webhooks").factory());

    public WebhookSender(JobStore jobs, WebhookTargets targets, int maxAttempts, long initialBackoffMillis,
                         Duration timeout, Clock clock) {
        this(jobs, targets, maxAttempts, initialBackoffMillis, timeout, clock, (SSLSocketFactory) SSLSocketFactory.getDefault());
    }

    /** @param tls how https targets are reached (the JDK's trust store by default; a test's own) */
    public WebhookSender(JobStore jobs, WebhookTargets targets, int maxAttempts, long initialBackoffMillis,
                         Duration timeout, Clock clock, SSLSocketFactory tls) {
        this.jobs = jobs;
        this.targets = targets;
        this.maxAttempts = maxAttempts;
        this.initialBackoffMillis = initialBackoffMillis;
        this.timeout = timeout;
        this.clock = clock;
        this.http = new PinnedPost(tls);
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
        WebhookTargets.Check check = targets.check(d.url());
        String refused = check.refusal();
        if (refused != null) {
            jobs.webhookAttempt(d.jobId(), "failed", attempt - 1, null, "refused: " + refused, null);
            log.warn("webhook of job {} not sent: {}", d.jobId(), refused);
            return;
        }
        try {
            long timestamp = clock.instant().getEpochSecond();
            Map<String, String> headers = new LinkedHashMap<>();
            headers.put("Content-Type", "application/json");
            headers.put("User-Agent", "Easel-Webhooks/1");
            headers.put("webhook-id", d.messageId());
            headers.put("webhook-timestamp", String.valueOf(timestamp));
            headers.put("webhook-signature", WebhookSigner.sign(d.secret(), d.messageId(), timestamp, d.body()));
            status = http.send(check.target(), headers, d.body().getBytes(StandardCharsets.UTF_8), timeout);
            if (status >= 200 && status < 300) {
                jobs.webhookAttempt(d.jobId(), "delivered", attempt, status, null, clock.instant());
                return;
            }
            error = "answered " + status;
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
