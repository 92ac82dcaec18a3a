package dev.easel.server.api;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.easel.server.auth.ApiKey;
import dev.easel.server.auth.TierLimiter;
import dev.easel.server.config.ServerConfig;
import dev.easel.server.storage.UsageStore;
import io.javalin.http.Context;

import java.time.Clock;
import java.time.Duration;
import java.time.Instant;

/**
 * {@code GET /v1/usage}: the calling key's usage (images, pixels, seconds of compute) today, per day
 * over the last {@code days} (default 30), and in all, with its tier's limits.
 */
final class UsageRoute {
    private final UsageStore usage;
    private final TierLimiter limiter;
    private final ObjectMapper json;
    private final Clock clock;

    UsageRoute(UsageStore usage, TierLimiter limiter, ObjectMapper json, Clock clock) {
        this.usage = usage;
        this.limiter = limiter;
        this.json = json;
        this.clock = clock;
    }

    void own(Context ctx) {
        ctx.json(report(Routes.key(ctx), ctx));
    }

    ObjectNode report(ApiKey key, Context ctx) {
        int days = 30;
        String q = ctx.queryParam("days");
        if (q != null) {
            try {
                days = Integer.parseInt(q.trim());
            } catch (NumberFormatException e) {
                throw ApiException.invalidValue("days", "'days' must be an integer.");
            }
            if (days < 1 || days > 366) throw ApiException.invalidValue("days", "'days' must be between 1 and 366.");
        }
        Instant now = clock.instant();
        Instant today = UsageStore.startOfUtcDay(now);
        ObjectNode o = json.createObjectNode();
        o.put("object", "usage");
        ObjectNode k = o.putObject("key");
        k.put("id", key.id());
        k.put("name", key.name());
        k.put("tier", key.tier().id());
        ServerConfig.TierLimits l = limiter.limits(key.tier());
        ObjectNode limits = o.putObject("limits");
        limits.put("requests_per_minute", l.requestsPerMinute());
        limits.put("concurrent_jobs", l.concurrentJobs());
        limits.put("images_per_day", l.imagesPerDay());
        limits.put("max_n", l.maxN());
        o.set("today", totals(usage.totals(key.id(), today)));
        o.set("total", totals(usage.totals(key.id(), Instant.EPOCH)));
        ArrayNode daily = o.putArray("daily");
        for (UsageStore.Day d : usage.daily(key.id(), today.minus(Duration.ofDays(days - 1)))) {
            ObjectNode day = totals(d.totals());
            day.put("date", d.date().toString());
            daily.add(day);
        }
        return o;
    }

    private ObjectNode totals(UsageStore.Totals t) {
        ObjectNode o = json.createObjectNode();
        o.put("jobs", t.jobs());
        o.put("images", t.images());
        o.put("pixels", t.pixels());
        o.put("compute_seconds", t.computeMillis() / 1000.0);
        return o;
    }
}
