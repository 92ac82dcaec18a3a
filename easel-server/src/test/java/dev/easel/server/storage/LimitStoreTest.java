package dev.easel.server.storage;

import dev.easel.server.auth.Tier;
import dev.easel.server.support.MutableClock;
import dev.easel.server.support.TestDatabases;
import dev.easel.server.support.TestDatabases.Kind;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;

import static org.assertj.core.api.Assertions.assertThat;

/** The limits several nodes share, on both databases: token buckets and expiring leases. */
class LimitStoreTest {
    @TempDir
    Path dir;

    private final MutableClock clock = new MutableClock(Instant.parse("2026-03-01T10:00:00Z"));

    private Database open(Kind kind) {
        return kind == Kind.SQLITE ? Database.open(dir) : Database.openPostgres(TestDatabases.newPostgresUrl(), null, null, 4);
    }

    @ParameterizedTest
    @EnumSource(Kind.class)
    void theBucketAllowsItsCapacityThenRefillsOverThePeriod(Kind kind) {
        try (Database db = open(kind)) {
            String key = new ApiKeyStore(db, clock).create("k", Tier.FREE, false).key().id();
            String other = new ApiKeyStore(db, clock).create("o", Tier.FREE, false).key().id();
            LimitStore limits = new LimitStore(db, clock);
            for (int i = 0; i < 3; i++) assertThat(limits.tryConsume(key, 3, Duration.ofMinutes(1))).isZero();
            long wait = limits.tryConsume(key, 3, Duration.ofMinutes(1));
            assertThat(wait).isBetween(19_000L, 20_000L); // one token per 20 s
            assertThat(limits.tryConsume(other, 3, Duration.ofMinutes(1))).as("another key has its own bucket").isZero();
            clock.advance(Duration.ofSeconds(20));
            assertThat(limits.tryConsume(key, 3, Duration.ofMinutes(1))).isZero();
            assertThat(limits.tryConsume(key, 3, Duration.ofMinutes(1))).isPositive();
        }
    }

    @ParameterizedTest
    @EnumSource(Kind.class)
    void leasesBoundConcurrentJobsAndDailyImagesAndExpireUnlessRenewed(Kind kind) {
        try (Database db = open(kind)) {
            String key = new ApiKeyStore(db, clock).create("k", Tier.FREE, false).key().id();
            LimitStore limits = new LimitStore(db, clock);
            Instant day = Instant.parse("2026-03-01T00:00:00Z");
            Duration ttl = Duration.ofSeconds(30);
            var a = limits.acquire(key, "node-a", 2, 2, 10, day, ttl);
            assertThat(a).isInstanceOf(LimitStore.Leased.class);
            assertThat(limits.acquire(key, "node-b", 9, 2, 10, day, ttl))
                    .isEqualTo(new LimitStore.OverDailyImages(8));
            var b = limits.acquire(key, "node-b", 2, 2, 10, day, ttl);
            assertThat(b).isInstanceOf(LimitStore.Leased.class);
            assertThat(limits.acquire(key, "node-c", 1, 2, 10, day, ttl)).isInstanceOf(LimitStore.TooManyJobs.class);

            limits.release(((LimitStore.Leased) a).id());
            assertThat(limits.acquire(key, "node-c", 1, 2, 10, day, ttl)).isInstanceOf(LimitStore.Leased.class);
            // node-b dies: its lease is not renewed; node-c renews its own
            clock.advance(Duration.ofSeconds(20));
            assertThat(limits.renew("node-c", ttl)).isOne();
            clock.advance(Duration.ofSeconds(15));
            assertThat(limits.acquire(key, "node-a", 1, 2, 10, day, ttl))
                    .as("the dead node's place freed itself").isInstanceOf(LimitStore.Leased.class);
            assertThat(limits.acquire(key, "node-a", 1, 2, 10, day, ttl)).isInstanceOf(LimitStore.TooManyJobs.class);

            new UsageStore(db).record(new UsageRecord(key, clock.instant(), "generations", "m", "succeeded", 7, 1, 1, null));
            assertThat(limits.acquire(key, "node-a", 2, 9, 10, day, ttl))
                    .as("7 made + 2 reserved of 10: 1 left").isEqualTo(new LimitStore.OverDailyImages(1));
            assertThat(limits.acquire(key, "node-a", 1, 9, 10, day, ttl)).isInstanceOf(LimitStore.Leased.class);
        }
    }
}
