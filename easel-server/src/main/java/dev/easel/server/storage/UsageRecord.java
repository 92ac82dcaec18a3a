package dev.easel.server.storage;

import java.time.Instant;

/** What one finished job cost, charged to the key that asked for it. */
public record UsageRecord(
        String keyId,
        Instant at,
        String endpoint,
        String model,
        String outcome,
        int images,
        long pixels,
        long computeMillis,
        String endUser) {
}
