package dev.easel.server.storage;

import dev.easel.server.auth.Tier;
import dev.easel.server.support.MutableClock;
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
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/** Url images and streamed previews as database rows, on both databases. */
class UrlImageStoreTest {
    @TempDir
    Path dir;

    private Database open(Kind kind) {
        return kind == Kind.SQLITE ? Database.open(dir) : Database.openPostgres(TestDatabases.newPostgresUrl(), null, null, 4);
    }

    @ParameterizedTest
    @EnumSource(Kind.class)
    void anImageIsServedUntilItsTtlThenSweptAway(Kind kind) {
        MutableClock clock = new MutableClock(Instant.parse("2025-01-01T00:00:00Z"));
        try (Database db = open(kind)) {
            UrlImageStore store = new UrlImageStore(db, Duration.ofSeconds(60), clock);
            byte[] bytes = {(byte) 0x89, 'P', 'N', 'G', 0, 1, 2, (byte) 255};
            UrlImageStore.Stored stored = store.store(bytes, "png");
            assertThat(stored.name()).matches("[A-Za-z0-9_-]{43}\\.png");
            assertThat(stored.expiresAt()).isEqualTo(clock.instant().plusSeconds(60));
            UrlImageStore.Stored other = store.store(new byte[]{7}, "webp");

            // another store on the same database (another node) serves it
            UrlImageStore elsewhere = new UrlImageStore(db, Duration.ofSeconds(60), clock);
            UrlImageStore.Found found = elsewhere.find(stored.name()).orElseThrow();
            assertThat(found.bytes()).containsExactly(bytes);
            assertThat(found.contentType()).isEqualTo("image/png");
            assertThat(found.expiresAt()).isEqualTo(stored.expiresAt());
            assertThat(elsewhere.find(other.name()).orElseThrow().contentType()).isEqualTo("image/webp");
            assertThat(store.find("A".repeat(43) + ".png")).isEmpty();
            assertThat(store.find("../" + stored.name())).as("only well-formed names are looked up").isEmpty();

            clock.advance(Duration.ofSeconds(59));
            assertThat(store.sweep()).isZero();
            assertThat(store.find(stored.name())).isPresent();
            clock.advance(Duration.ofSeconds(1));
            assertThat(store.find(stored.name())).as("expired: gone even before the sweep").isEmpty();
            assertThat(store.sweep()).isEqualTo(2);
            assertThat(store.sweep()).isZero();
        }
    }

    @ParameterizedTest
    @EnumSource(Kind.class)
    void previewsAreReadInTheOrderTheyWereStoredAndClearedTogether(Kind kind) {
        try (Database db = open(kind)) {
            String key = new ApiKeyStore(db, Clock.systemUTC()).create("k", Tier.FREE, false).key().id();
            JobStore jobs = new JobStore(db);
            String id = JobStore.newId();
            jobs.insert(new JobStore.NewJob(id, key, false, "generations", "m", "{}", 0, Instant.ofEpochMilli(1),
                    Instant.ofEpochMilli(600_000), null), new byte[]{1});
            // attempt 1 made 11 previews (sequence 10 sorts after 9), then attempt 2 began again
            for (int seq = 0; seq <= 10; seq++) jobs.publishPreview(id, JobStore.previewKind(1, seq), new byte[]{(byte) seq});
            jobs.publishPreview(id, JobStore.previewKind(2, 0), new byte[]{100});

            List<JobStore.DataRow> all = jobs.previewsAfter(id, "pv");
            assertThat(all).extracting(r -> (int) r.data()[0]).containsExactly(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 100);
            assertThat(jobs.previewsAfter(id, all.get(9).kind())).extracting(r -> (int) r.data()[0]).containsExactly(10, 100);
            assertThat(jobs.previewsAfter(id, all.getLast().kind())).isEmpty();

            assertThat(jobs.clearPreviews(id)).isEqualTo(12);
            assertThat(jobs.previewsAfter(id, "pv")).isEmpty();
            assertThat(jobs.data(id, "input")).as("only the previews go").isPresent();
        }
    }

    @Test
    void aPreviewKeepsItsPlaceAndBytes() {
        byte[] encoded = {9, 8, 7, 6, 5};
        JobBlobs.Preview p = JobBlobs.readPreview(JobBlobs.preview(new JobBlobs.Preview(1, 2, encoded)));
        assertThat(p.imageIndex()).isEqualTo(1);
        assertThat(p.partialIndex()).isEqualTo(2);
        assertThat(p.encoded()).containsExactly(encoded);
    }
}
