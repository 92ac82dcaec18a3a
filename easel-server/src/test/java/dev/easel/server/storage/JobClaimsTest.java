package dev.easel.server.storage;

import dev.easel.diffusion.image.ImageCodec;
import dev.easel.diffusion.image.Mask;
import dev.easel.diffusion.image.RgbImage;
import dev.easel.server.auth.Tier;
import dev.easel.server.storage.JobStore.JobRecord;
import dev.easel.server.storage.JobStore.State;
import dev.easel.server.support.TestDatabases;
import dev.easel.server.support.TestDatabases.Kind;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashSet;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;

import static org.assertj.core.api.Assertions.assertThat;

/** The claim SQL of the shared queue, on both databases: order, leases, attempt-guarded ends, hand-overs. */
class JobClaimsTest {
    private static final Duration LEASE = Duration.ofSeconds(30);

    @TempDir
    Path dir;

    private Database open(Kind kind) {
        return kind == Kind.SQLITE ? Database.open(dir) : Database.openPostgres(TestDatabases.newPostgresUrl(), null, null, 12);
    }

    private static JobStore.NewJob job(String id, String key, boolean async, String endpoint, int priority, long created) {
        return new JobStore.NewJob(id, key, async, endpoint, "m", "{}", priority, Instant.ofEpochMilli(created),
                Instant.ofEpochMilli(created + 600_000), null, "{}", "node-a", null);
    }

    @ParameterizedTest
    @EnumSource(Kind.class)
    void claimsTakeTheHighestPriorityThenTheEarliestAndEachJobOnce(Kind kind) {
        try (Database db = open(kind)) {
            String key = new ApiKeyStore(db, Clock.systemUTC()).create("k", Tier.FREE, false).key().id();
            JobStore store = new JobStore(db);
            store.insert(job("job_free1", key, true, "generations", 0, 1_000));
            store.insert(job("job_free2", key, true, "generations", 0, 2_000));
            store.insert(job("job_prem", key, true, "generations", 2, 3_000));
            Instant now = Instant.ofEpochMilli(10_000);
            JobRecord first = store.claimNext("node-b", now, LEASE, null).orElseThrow();
            assertThat(first.id()).isEqualTo("job_prem");
            assertThat(first.state()).isEqualTo(State.RUNNING);
            assertThat(first.node()).isEqualTo("node-b");
            assertThat(first.attempt()).isEqualTo(1);
            assertThat(first.leaseExpiresAt()).contains(now.plus(LEASE));
            assertThat(store.claimNext("node-c", now, LEASE, null).orElseThrow().id()).isEqualTo("job_free1");
            assertThat(store.claimNext("node-c", now, LEASE, "node-z")).as("a draining node takes only its own").isEmpty();
            assertThat(store.claimNext("node-c", now, LEASE, null).orElseThrow().id()).isEqualTo("job_free2");
            assertThat(store.claimNext("node-c", now, LEASE, null)).isEmpty();
        }
    }

    @ParameterizedTest
    @EnumSource(Kind.class)
    void anExpiredLeaseIsClaimedAgainAndOnlyTheLatestClaimMayEndTheJob(Kind kind) {
        try (Database db = open(kind)) {
            String key = new ApiKeyStore(db, Clock.systemUTC()).create("k", Tier.FREE, false).key().id();
            JobStore store = new JobStore(db);
            store.insert(job("job_x", key, true, "generations", 0, 1_000));
            Instant t0 = Instant.ofEpochMilli(10_000);
            JobRecord onC = store.claimNext("node-c", t0, LEASE, null).orElseThrow();
            assertThat(store.renewClaims("node-c", t0.plusSeconds(40))).isEqualTo(1);
            assertThat(store.claimNext("node-b", t0.plusSeconds(35), LEASE, null)).as("renewed: still C's").isEmpty();
            // C stops renewing (it died): after its lease B claims the job again
            JobRecord onB = store.claimNext("node-b", t0.plusSeconds(41), LEASE, null).orElseThrow();
            assertThat(onB.attempt()).isEqualTo(2);
            assertThat(onB.node()).isEqualTo("node-b");
            assertThat(store.finishClaim("job_x", onC.attempt(), State.SUCCEEDED, "inline", "{}", null, 200, t0.plusSeconds(42)))
                    .as("the dead node's claim cannot end it").isFalse();
            assertThat(store.finishHandoff("job_x", onC.attempt(), "{}", new byte[]{1}, t0.plusSeconds(42))).isFalse();
            assertThat(store.data("job_x", "handoff")).isEmpty();
            assertThat(store.finishClaim("job_x", onB.attempt(), State.SUCCEEDED, "inline", "{\"data\":[]}", null, 200, t0.plusSeconds(43))).isTrue();
            assertThat(store.finishClaim("job_x", onB.attempt(), State.FAILED, null, null, "{}", 500, t0.plusSeconds(44)))
                    .as("answered once").isFalse();
            assertThat(store.find("job_x").orElseThrow().resultJson()).isEqualTo("{\"data\":[]}");
        }
    }

    @ParameterizedTest
    @EnumSource(Kind.class)
    void aSynchronousJobWhoseNodeDiedRunningItIsFailedNotRunAgain(Kind kind) {
        try (Database db = open(kind)) {
            String key = new ApiKeyStore(db, Clock.systemUTC()).create("k", Tier.FREE, false).key().id();
            JobStore store = new JobStore(db);
            store.insert(job("job_s", key, false, "generations", 0, 1_000));
            Instant t0 = Instant.ofEpochMilli(10_000);
            store.claimNext("node-a", t0, LEASE, null).orElseThrow(); // accepted and run by node-a, which dies
            assertThat(store.claimNext("node-b", t0.plusSeconds(31), LEASE, null)).as("its client is gone with it").isEmpty();
            assertThat(store.failOrphans(t0.plusSeconds(31), "{\"error\":{}}", 500)).containsExactly("job_s");
            assertThat(store.find("job_s").orElseThrow().state()).isEqualTo(State.FAILED);
        }
    }

    @ParameterizedTest
    @EnumSource(Kind.class)
    void aBatchHeadClaimsTheMatchingGenerationsOfItsModelAndAHandOverIsClearedOnceAnswered(Kind kind) {
        try (Database db = open(kind)) {
            String key = new ApiKeyStore(db, Clock.systemUTC()).create("k", Tier.FREE, false).key().id();
            JobStore store = new JobStore(db);
            store.insert(job("job_1", key, false, "generations", 0, 1_000));
            store.insert(job("job_2", key, false, "edits", 0, 2_000));
            store.insert(job("job_3", key, false, "generations", 0, 3_000));
            store.insert(job("job_4", key, false, "generations", 0, 4_000));
            Instant now = Instant.ofEpochMilli(10_000);
            List<String> asked = new ArrayList<>();
            List<JobRecord> taken = store.claimMatching("node-b", "m", now, LEASE, 10, r -> {
                asked.add(r.id());
                return !r.id().equals("job_3");
            });
            assertThat(asked).as("generations only, in queue order").containsExactly("job_1", "job_3", "job_4");
            assertThat(taken).extracting(JobRecord::id).containsExactly("job_1", "job_4");
            assertThat(store.find("job_3").orElseThrow().state()).isEqualTo(State.QUEUED);

            RgbImage image = new RgbImage(2, 1, new float[]{0.1f, 0.2f, 0.3f, 0.4f, 0.5f, 0.6f});
            assertThat(store.finishHandoff("job_1", 1, "{\"seed\":3}", JobBlobs.images(List.of(image)), now)).isTrue();
            JobRecord handed = store.find("job_1").orElseThrow();
            assertThat(handed.resultLocation()).isEqualTo("handoff");
            List<RgbImage> back = JobBlobs.readImages(store.data("job_1", "handoff").orElseThrow());
            float[] expected = new float[6];
            for (int i = 0; i < 6; i++) expected[i] = ImageCodec.toByte(image.pixels()[i]) / 255f;
            assertThat(back.getFirst().pixels()).as("the 8-bit image every output format is made from").containsExactly(expected);
            store.clearHandoff("job_1");
            assertThat(store.data("job_1", "handoff")).isEmpty();
            assertThat(store.find("job_1").orElseThrow().resultLocation()).isEqualTo("response");
            assertThat(store.find("job_1").orElseThrow().resultJson()).isNull();
        }
    }

    @Test
    void concurrentClaimsOnPostgresqlNeverTakeAJobTwice() throws Exception {
        try (Database db = open(Kind.POSTGRESQL)) {
            String key = new ApiKeyStore(db, Clock.systemUTC()).create("k", Tier.FREE, false).key().id();
            JobStore store = new JobStore(db);
            for (int i = 0; i < 60; i++) store.insert(job("job_" + i, key, true, "generations", i % 3, 1_000 + i));
            Set<String> claimed = Collections.synchronizedSet(new HashSet<>());
            List<String> twice = Collections.synchronizedList(new ArrayList<>());
            ExecutorService pool = Executors.newFixedThreadPool(6);
            List<Future<?>> workers = new ArrayList<>();
            for (int w = 0; w < 6; w++) {
                String node = "node-" + w;
                workers.add(pool.submit(() -> {
                    Optional<JobRecord> r;
                    while ((r = store.claimNext(node, Instant.ofEpochMilli(10_000), LEASE, null)).isPresent()) {
                        if (!claimed.add(r.get().id())) twice.add(r.get().id());
                    }
                    return null;
                }));
            }
            for (Future<?> f : workers) f.get();
            pool.shutdown();
            assertThat(twice).isEmpty();
            assertThat(claimed).hasSize(60);
        }
    }

    @Test
    void editInputsTravelAsTheirExactFloats() {
        RgbImage image = new RgbImage(2, 1, new float[]{0.123456f, 1f, 0f, 0.5f, 0.25f, 0.999f});
        Mask mask = new Mask(2, 1, new float[]{1f, 0.3f});
        JobBlobs.Inputs back = JobBlobs.readInputs(JobBlobs.inputs(image, Optional.of(mask)));
        assertThat(back.image().pixels()).containsExactly(image.pixels());
        assertThat(back.mask().orElseThrow().values()).containsExactly(mask.values());
        assertThat(JobBlobs.readInputs(JobBlobs.inputs(image, Optional.empty())).mask()).isEmpty();
    }

    @ParameterizedTest
    @EnumSource(Kind.class)
    void theSynchronousJobsOfADeadOrRestartedAcceptorAreNotClaimedButCancelled(Kind kind) {
        try (Database db = open(kind)) {
            String key = new ApiKeyStore(db, Clock.systemUTC()).create("k", Tier.FREE, false).key().id();
            JobStore store = new JobStore(db);
            store.nodeStarted("node-a", Instant.ofEpochMilli(500), Instant.ofEpochMilli(5_000));
            store.insert(job("job_sync", key, false, "generations", 0, 1_000));
            store.insert(job("job_async", key, true, "generations", 0, 2_000));
            store.insert(job("job_sync_running", key, false, "generations", 0, 3_000));
            Instant alive = Instant.ofEpochMilli(4_000);
            assertThat(store.cancelAcceptorGone(alive, "{}", 499)).as("node-a is alive").isZero();
            // B runs one of A's synchronous jobs while A lives
            JobRecord running = store.claimMatching("node-b", "m", alive, LEASE, 10, r -> r.id().equals("job_sync_running")).getFirst();
            store.nodeAlive("node-a", Instant.ofEpochMilli(6_000));

            Instant dead = Instant.ofEpochMilli(7_000); // A's heartbeat ran out at 6 s
            assertThat(store.claimNext("node-b", dead, LEASE, null).orElseThrow().id())
                    .as("the dead acceptor's queued synchronous job is skipped").isEqualTo("job_async");
            assertThat(store.cancelAcceptorGone(dead, "{\"error\":{}}", 499)).isEqualTo(2);
            assertThat(store.find("job_sync").orElseThrow().state()).isEqualTo(State.CANCELLED);
            assertThat(store.find("job_sync").orElseThrow().httpStatus()).isEqualTo(499);
            assertThat(store.find("job_sync_running").orElseThrow().state()).isEqualTo(State.CANCELLED);
            assertThat(store.finishClaim("job_sync_running", running.attempt(), State.SUCCEEDED, "handoff", "{}", null, 200, dead))
                    .as("its runner can no longer end it").isFalse();
            assertThat(store.find("job_async").orElseThrow().state()).as("async: never dropped").isEqualTo(State.RUNNING);

            // A restarts under the same name: its new heartbeat does not revive the jobs of its previous run
            store.insert(job("job_before_restart", key, false, "generations", 0, 8_000));
            store.nodeStarted("node-a", Instant.ofEpochMilli(9_000), Instant.ofEpochMilli(40_000));
            store.insert(job("job_after_restart", key, false, "generations", 0, 10_000));
            assertThat(store.cancelAcceptorGone(Instant.ofEpochMilli(11_000), "{}", 499)).isEqualTo(1);
            assertThat(store.find("job_before_restart").orElseThrow().state()).isEqualTo(State.CANCELLED);
            assertThat(store.find("job_after_restart").orElseThrow().state()).isEqualTo(State.QUEUED);
            store.nodeStopped("node-a", Instant.ofEpochMilli(12_000));
            assertThat(store.cancelAcceptorGone(Instant.ofEpochMilli(12_000), "{}", 499)).as("a clean stop ends it at once").isEqualTo(1);
        }
    }

    @ParameterizedTest
    @EnumSource(Kind.class)
    void aJobIsRecordedOnlyWhileFewerThanTheCapacityAreQueued(Kind kind) {
        try (Database db = open(kind)) {
            String key = new ApiKeyStore(db, Clock.systemUTC()).create("k", Tier.FREE, false).key().id();
            JobStore store = new JobStore(db);
            assertThat(store.insertIfRoom(job("job_1", key, true, "generations", 0, 1_000), null, 2)).isTrue();
            assertThat(store.insertIfRoom(job("job_2", key, false, "generations", 0, 2_000), null, 2)).isTrue();
            assertThat(store.insertIfRoom(job("job_3", key, true, "generations", 0, 3_000), null, 2)).isFalse();
            assertThat(store.find("job_3")).isEmpty();
            store.claimNext("node-b", Instant.ofEpochMilli(4_000), LEASE, null).orElseThrow(); // a running job frees a place
            assertThat(store.insertIfRoom(job("job_3", key, true, "generations", 0, 3_000), null, 2)).isTrue();
        }
    }
}
