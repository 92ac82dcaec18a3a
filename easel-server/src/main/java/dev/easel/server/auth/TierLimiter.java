package dev.easel.server.auth;

import dev.easel.server.config.ServerConfig.TierLimits;
import dev.easel.server.storage.LimitStore;
import dev.easel.server.storage.UsageStore;
import io.github.bucket4j.Bandwidth;
import io.github.bucket4j.Bucket;
import io.github.bucket4j.ConsumptionProbe;
import io.github.bucket4j.TimeMeter;

import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.LocalDate;
import java.time.ZoneOffset;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;

/**
 * The per-tier limits of each key: requests per minute (a Bucket4j token bucket, refilled greedily),
 * concurrent jobs, and images per UTC day (counted from the usage table, plus images reserved by jobs
 * still running, so that parallel requests cannot overshoot).
 */
public final class TierLimiter {
    private final Map<Tier, TierLimits> limits;
    private final UsageStore usage;
    private final Clock clock;
    private final TimeMeter meter;
    private final Map<String, KeyState> keys = new ConcurrentHashMap<>();
    /** Set when several nodes share the database: the limits are counted there instead of in this process. */
    private final LimitStore shared;
    private final String node;
    private final Duration leaseTtl;

    public TierLimiter(Map<String, TierLimits> limitsByTierId, UsageStore usage, Clock clock) {
        this(limitsByTierId, usage, clock, null, null, null);
    }

    /**
     * Limits that hold across every node sharing the database: requests per minute as a token bucket row per key,
     * concurrent jobs and reserved images as leases this node renews ({@link #renewLeases}) while its jobs live.
     */
    public static TierLimiter shared(Map<String, TierLimits> limitsByTierId, UsageStore usage, Clock clock,
                                     LimitStore store, String node, Duration leaseTtl) {
        return new TierLimiter(limitsByTierId, usage, clock, store, node, leaseTtl);
    }

    private TierLimiter(Map<String, TierLimits> limitsByTierId, UsageStore usage, Clock clock, LimitStore shared,
                        String node, Duration leaseTtl) {
        this.shared = shared;
        this.node = node;
        this.leaseTtl = leaseTtl;
        this.limits = new java.util.EnumMap<>(Tier.class);
        limitsByTierId.forEach((id, l) -> Tier.parse(id).ifPresent(t -> this.limits.put(t, l)));
        this.usage = usage;
        this.clock = clock;
        this.meter = new TimeMeter() {
            @Override
            public long currentTimeNanos() {
                return TimeUnit.MILLISECONDS.toNanos(clock.millis());
            }

            @Override
            public boolean isWallClockBased() {
                return true;
            }
        };
    }

    public TierLimits limits(Tier tier) {
        return limits.get(tier);
    }

    private final class KeyState {
        final Bucket bucket;
        final TierLimits tierLimits;
        int running;
        LocalDate day;
        long imagesToday;
        long imagesReserved;

        KeyState(TierLimits l) {
            this.tierLimits = l;
            this.bucket = Bucket.builder()
                    .addLimit(Bandwidth.builder().capacity(l.requestsPerMinute())
                            .refillGreedy(l.requestsPerMinute(), Duration.ofMinutes(1)).build())
                    .withCustomTimePrecision(meter)
                    .build();
        }
    }

    private KeyState state(ApiKey key) {
        TierLimits l = limits.get(key.tier());
        KeyState s = keys.get(key.id());
        if (s == null || s.tierLimits != l) {
            s = new KeyState(l);
            keys.put(key.id(), s);
        }
        return s;
    }

    /** Counts one request against the key's requests-per-minute. */
    public void checkRequest(ApiKey key) {
        if (shared != null) {
            int perMinute = limits.get(key.tier()).requestsPerMinute();
            long waitMillis = shared.tryConsume(key.id(), perMinute, Duration.ofMinutes(1));
            if (waitMillis > 0) throw rateLimited(key, perMinute, (long) Math.ceil(waitMillis / 1000.0));
            return;
        }
        KeyState s = state(key);
        ConsumptionProbe probe = s.bucket.tryConsumeAndReturnRemaining(1);
        if (!probe.isConsumed()) {
            long seconds = (long) Math.ceil(probe.getNanosToWaitForRefill() / 1e9);
            throw rateLimited(key, s.tierLimits.requestsPerMinute(), seconds);
        }
    }

    private static LimitExceededException rateLimited(ApiKey key, int perMinute, long seconds) {
        return new LimitExceededException("rate_limit_exceeded",
                "Rate limit reached: the " + key.tier().id() + " tier allows " + perMinute
                        + " requests per minute. Try again in " + Math.max(1, seconds) + " s.", seconds);
    }

    /** Keeps this node's leases alive (call well within the lease time); returns how many were renewed. */
    public int renewLeases() {
        return shared == null ? 0 : shared.renew(node, leaseTtl);
    }

    /** Frees a shared lease by its id: the node that ends a job releases the lease its accepting node took. */
    public void releaseLease(String leaseId) {
        if (shared != null) shared.release(leaseId);
    }

    /** A job's hold on the key's concurrency and daily images; {@link #release} once it is over. */
    public final class Reservation {
        private final ApiKey key;
        private final int images;
        private final String leaseId;
        private boolean released;

        private Reservation(ApiKey key, int images, String leaseId) {
            this.key = key;
            this.images = images;
            this.leaseId = leaseId;
        }

        /** The lease that holds this place in the shared database (null when the limits are this process's). */
        public String leaseId() {
            return leaseId;
        }

        /** Frees the job's place and counts the images it actually made. */
        public void release(int imagesMade) {
            if (leaseId != null) {
                synchronized (this) {
                    if (released) return;
                    released = true;
                }
                shared.release(leaseId); // the images made are in the usage table by now
                return;
            }
            KeyState s = state(key);
            synchronized (s) {
                if (released) return;
                released = true;
                s.running--;
                s.imagesReserved -= images;
                if (s.day != null && s.day.equals(today())) s.imagesToday += imagesMade;
            }
        }
    }

    /**
     * Takes one of the key's concurrent-job places and reserves {@code images} of its daily images.
     *
     * @param busySeconds how long a place is likely to take to free up (Retry-After when all are taken)
     */
    public Reservation reserve(ApiKey key, int images, long busySeconds) {
        if (shared != null) return reserveShared(key, images, busySeconds);
        KeyState s = state(key);
        synchronized (s) {
            LocalDate today = today();
            if (!today.equals(s.day)) {
                s.day = today;
                s.imagesToday = usage.totals(key.id(), today.atStartOfDay(ZoneOffset.UTC).toInstant()).images();
            }
            TierLimits l = s.tierLimits;
            if (s.imagesToday + s.imagesReserved + images > l.imagesPerDay()) {
                Instant midnight = today.plusDays(1).atStartOfDay(ZoneOffset.UTC).toInstant();
                long seconds = Duration.between(clock.instant(), midnight).toSeconds() + 1;
                throw new LimitExceededException("daily_image_limit_exceeded",
                        "Daily image limit reached: the " + key.tier().id() + " tier allows " + l.imagesPerDay()
                                + " images per day (UTC); " + Math.max(0, l.imagesPerDay() - s.imagesToday - s.imagesReserved)
                                + " left today.", seconds);
            }
            if (s.running >= l.concurrentJobs()) {
                throw new LimitExceededException("concurrency_limit_exceeded",
                        "Too many concurrent requests: the " + key.tier().id() + " tier allows " + l.concurrentJobs()
                                + " at a time.", busySeconds);
            }
            s.running++;
            s.imagesReserved += images;
            return new Reservation(key, images, null);
        }
    }

    private Reservation reserveShared(ApiKey key, int images, long busySeconds) {
        TierLimits l = limits.get(key.tier());
        LocalDate today = today();
        return switch (shared.acquire(key.id(), node, images, l.concurrentJobs(), l.imagesPerDay(),
                today.atStartOfDay(ZoneOffset.UTC).toInstant(), leaseTtl)) {
            case LimitStore.Leased leased -> new Reservation(key, images, leased.id());
            case LimitStore.TooManyJobs t -> throw tooManyJobs(key, l, busySeconds);
            case LimitStore.OverDailyImages o -> throw overDaily(key, l, o.left(), today);
        };
    }

    private static LimitExceededException tooManyJobs(ApiKey key, TierLimits l, long busySeconds) {
        return new LimitExceededException("concurrency_limit_exceeded",
                "Too many concurrent requests: the " + key.tier().id() + " tier allows " + l.concurrentJobs()
                        + " at a time.", busySeconds);
    }

    private LimitExceededException overDaily(ApiKey key, TierLimits l, long left, LocalDate today) {
        Instant midnight = today.plusDays(1).atStartOfDay(ZoneOffset.UTC).toInstant();
        long seconds = Duration.between(clock.instant(), midnight).toSeconds() + 1;
        return new LimitExceededException("daily_image_limit_exceeded",
                "Daily image limit reached: the " + key.tier().id() + " tier allows " + l.imagesPerDay()
                        + " images per day (UTC); " + left + " left today.", seconds);
    }

    private LocalDate today() {
        return clock.instant().atZone(ZoneOffset.UTC).toLocalDate();
    }
}
