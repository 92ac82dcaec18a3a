package dev.easel.server.auth;

import dev.easel.server.config.ServerConfig.TierLimits;
import dev.easel.server.storage.ApiKeyStore;
import dev.easel.server.storage.Database;
import dev.easel.server.storage.UsageRecord;
import dev.easel.server.storage.UsageStore;
import dev.easel.server.support.MutableClock;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class TierLimiterTest {
    @TempDir
    Path dir;
    Database db;
    UsageStore usage;
    ApiKeyStore keys;
    final MutableClock clock = new MutableClock(Instant.parse("2026-03-01T23:00:00Z"));
    final Map<String, TierLimits> limits = Map.of(
            "free", new TierLimits(3, 1, 5, 2),
            "pro", new TierLimits(60, 2, 100, 10),
            "premium", new TierLimits(600, 8, 1000, 10));

    @BeforeEach
    void open() {
        db = Database.open(dir);
        usage = new UsageStore(db);
        keys = new ApiKeyStore(db, clock);
    }

    @AfterEach
    void close() {
        db.close();
    }

    @Test
    void requestsPerMinuteRefillOverTheMinute() {
        TierLimiter limiter = new TierLimiter(limits, usage, clock);
        ApiKey key = keys.create("a", Tier.FREE, false).key();
        for (int i = 0; i < 3; i++) limiter.checkRequest(key);
        assertThatThrownBy(() -> limiter.checkRequest(key)).isInstanceOfSatisfying(LimitExceededException.class, e -> {
            assertThat(e.code()).isEqualTo("rate_limit_exceeded");
            assertThat(e.retryAfterSeconds()).isBetween(1L, 20L);
        });
        clock.advance(Duration.ofSeconds(20));
        limiter.checkRequest(key);
        assertThatThrownBy(() -> limiter.checkRequest(key)).isInstanceOf(LimitExceededException.class);
    }

    @Test
    void concurrentJobsAreCountedUntilReleased() {
        TierLimiter limiter = new TierLimiter(limits, usage, clock);
        ApiKey key = keys.create("a", Tier.PRO, false).key();
        TierLimiter.Reservation a = limiter.reserve(key, 1, 7);
        limiter.reserve(key, 1, 7);
        assertThatThrownBy(() -> limiter.reserve(key, 1, 7)).isInstanceOfSatisfying(LimitExceededException.class, e -> {
            assertThat(e.code()).isEqualTo("concurrency_limit_exceeded");
            assertThat(e.retryAfterSeconds()).isEqualTo(7);
        });
        a.release(1);
        a.release(1); // idempotent
        limiter.reserve(key, 1, 7);
    }

    @Test
    void imagesPerDayCountWhatWasMadeAndWhatIsRunningAndResetAtUtcMidnight() {
        ApiKey key = keys.create("a", Tier.FREE, false).key();
        usage.record(new UsageRecord(key.id(), clock.instant().minusSeconds(60), "generations", "m", "succeeded", 2, 2, 10, null));
        TierLimiter limiter = new TierLimiter(limits, usage, clock); // a restart: counts come from the database
        TierLimiter.Reservation r = limiter.reserve(key, 2, 1);
        assertThatThrownBy(() -> limiter.reserve(key, 2, 1)).isInstanceOfSatisfying(LimitExceededException.class, e -> {
            assertThat(e.code()).isEqualTo("daily_image_limit_exceeded");
            assertThat(e.retryAfterSeconds()).isEqualTo(3601); // until midnight UTC
        });
        r.release(2);
        assertThatThrownBy(() -> limiter.reserve(key, 2, 1)).isInstanceOf(LimitExceededException.class);
        TierLimiter.Reservation one = limiter.reserve(key, 1, 1);
        one.release(1);
        clock.advance(Duration.ofHours(1));
        limiter.reserve(key, 2, 1);
    }

    @Test
    void aCancelledJobGivesItsImagesBack() {
        TierLimiter limiter = new TierLimiter(limits, usage, clock);
        ApiKey key = keys.create("a", Tier.FREE, false).key();
        limiter.reserve(key, 2, 1).release(0);
        limiter.reserve(key, 2, 1).release(0);
        limiter.reserve(key, 2, 1).release(0);
        assertThat(limiter.reserve(key, 2, 1)).isNotNull();
    }
}
