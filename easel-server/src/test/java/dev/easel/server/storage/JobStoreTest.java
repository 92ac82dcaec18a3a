package dev.easel.server.storage;

import dev.easel.server.auth.Tier;
import dev.easel.server.storage.JobStore.JobRecord;
import dev.easel.server.storage.JobStore.State;
import dev.easel.server.support.TestDatabases;
import dev.easel.server.support.TestDatabases.Kind;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

import java.nio.file.Path;
import java.time.Clock;
import java.time.Instant;
import java.util.List;
import java.util.Optional;

import static org.assertj.core.api.Assertions.assertThat;

/** Job records and keys on both databases: the same migrations, the same store code. */
class JobStoreTest {
    @TempDir
    Path dir;

    private Database open(Kind kind) {
        return kind == Kind.SQLITE ? Database.open(dir) : Database.openPostgres(TestDatabases.newPostgresUrl(), null, null, 4);
    }

    private static JobStore.NewJob job(String id, String key, int priority, long createdMillis) {
        return new JobStore.NewJob(id, key, true, "generations", "stable-diffusion-1.5", "{\"prompt\":\"a\"}", priority,
                Instant.ofEpochMilli(createdMillis), Instant.ofEpochMilli(createdMillis + 600_000), null);
    }

    @ParameterizedTest
    @EnumSource(Kind.class)
    void aJobGoesFromQueuedToRunningToOneEnd(Kind kind) {
        try (Database db = open(kind)) {
            String key = new ApiKeyStore(db, Clock.systemUTC()).create("k", Tier.FREE, false).key().id();
            JobStore store = new JobStore(db);
            String id = JobStore.newId();
            store.insert(job(id, key, 0, 1_000));
            JobRecord queued = store.find(id).orElseThrow();
            assertThat(queued.state()).isEqualTo(State.QUEUED);
            assertThat(queued.keyId()).isEqualTo(key);
            assertThat(queued.paramsJson()).isEqualTo("{\"prompt\":\"a\"}");
            assertThat(queued.startedAt()).isEmpty();

            assertThat(store.markRunning(id, "node-a", Instant.ofEpochMilli(2_000))).isTrue();
            assertThat(store.markRunning(id, "node-b", Instant.ofEpochMilli(2_001))).as("claimed once").isFalse();
            store.progress(id, 2, 4);
            JobRecord running = store.find(id).orElseThrow();
            assertThat(running.state()).isEqualTo(State.RUNNING);
            assertThat(running.node()).isEqualTo("node-a");
            assertThat(running.step()).isEqualTo(2);
            assertThat(running.totalSteps()).isEqualTo(4);

            assertThat(store.finish(id, State.SUCCEEDED, "inline", "{\"data\":[]}", null, 200, Instant.ofEpochMilli(3_000))).isTrue();
            assertThat(store.finish(id, State.FAILED, null, null, "{}", 500, Instant.ofEpochMilli(3_001)))
                    .as("a job ends once").isFalse();
            assertThat(store.requestCancel(id)).isFalse();
            JobRecord done = store.find(id).orElseThrow();
            assertThat(done.state()).isEqualTo(State.SUCCEEDED);
            assertThat(done.resultJson()).isEqualTo("{\"data\":[]}");
            assertThat(done.finishedAt()).contains(Instant.ofEpochMilli(3_000));

            assertThat(store.expireResults(Instant.ofEpochMilli(3_000))).isZero();
            assertThat(store.expireResults(Instant.ofEpochMilli(3_001))).isOne();
            assertThat(store.find(id).orElseThrow().resultJson()).isNull();
            assertThat(store.find(id).orElseThrow().resultLocation()).isEqualTo("expired");
            assertThat(store.find("job_nope")).isEmpty();
        }
    }

    @ParameterizedTest
    @EnumSource(Kind.class)
    void queuePositionCountsHigherTiersThenEarlierArrivals(Kind kind) {
        try (Database db = open(kind)) {
            ApiKeyStore keys = new ApiKeyStore(db, Clock.systemUTC());
            String free = keys.create("free", Tier.FREE, false).key().id();
            String premium = keys.create("premium", Tier.PREMIUM, false).key().id();
            JobStore store = new JobStore(db);
            store.insert(job("job_f1", free, 0, 1_000));
            store.insert(job("job_f2", free, 0, 2_000));
            store.insert(job("job_p1", premium, 2, 3_000));
            store.insert(job("job_run", free, 0, 500));
            store.markRunning("job_run", "n", Instant.ofEpochMilli(600));
            assertThat(store.queuePosition(store.find("job_p1").orElseThrow())).isZero();
            assertThat(store.queuePosition(store.find("job_f1").orElseThrow())).isOne();
            assertThat(store.queuePosition(store.find("job_f2").orElseThrow())).isEqualTo(2);
            assertThat(store.count(State.QUEUED)).isEqualTo(3);

            List<JobRecord> own = store.list(free, 10, Optional.empty());
            assertThat(own).extracting(JobRecord::id).containsExactly("job_f2", "job_f1", "job_run");
            assertThat(store.list(free, 1, Optional.empty())).extracting(JobRecord::id).containsExactly("job_f2");
            assertThat(store.list(free, 10, Optional.of(Instant.ofEpochMilli(2_000)))).extracting(JobRecord::id)
                    .containsExactly("job_f1", "job_run");
            assertThat(store.list(premium, 10, Optional.empty())).extracting(JobRecord::id).containsExactly("job_p1");
        }
    }

    @ParameterizedTest
    @EnumSource(Kind.class)
    void webhookDeliveryAndKeySettingsAreRecorded(Kind kind) {
        try (Database db = open(kind)) {
            ApiKeyStore keys = new ApiKeyStore(db, Clock.systemUTC());
            String key = keys.create("k", Tier.PRO, false).key().id();
            assertThat(keys.webhook(key).url()).isEmpty();
            assertThat(keys.webhook(key).secret()).isEmpty();
            keys.setWebhookUrl(key, "https://example.com/hook");
            String secret = keys.newWebhookSecret(key);
            assertThat(secret).startsWith("whsec_");
            assertThat(keys.webhook(key).secret()).contains(secret);
            assertThat(keys.newWebhookSecret(key)).as("a new secret replaces the old").isNotEqualTo(secret);
            assertThat(keys.webhook(key).url()).contains("https://example.com/hook");

            JobStore store = new JobStore(db);
            store.insert(new JobStore.NewJob("job_w", key, true, "edits", "m", "{}", 1, Instant.ofEpochMilli(1),
                    Instant.ofEpochMilli(2), "https://example.com/hook"));
            assertThat(store.find("job_w").orElseThrow().webhookState()).isEqualTo("pending");
            store.webhookAttempt("job_w", "pending", 1, 500, "answered 500", null);
            store.webhookAttempt("job_w", "delivered", 2, 200, null, Instant.ofEpochMilli(5_000));
            JobRecord r = store.find("job_w").orElseThrow();
            assertThat(r.webhookState()).isEqualTo("delivered");
            assertThat(r.webhookAttempts()).isEqualTo(2);
            assertThat(r.webhookLastStatus()).isEqualTo(200);
            assertThat(r.webhookDeliveredAt()).contains(Instant.ofEpochMilli(5_000));
            assertThat(r.endpoint()).isEqualTo("edits");
        }
    }
}
