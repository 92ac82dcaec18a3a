package dev.easel.server.jobs;

import dev.easel.diffusion.image.RgbImage;
import dev.easel.diffusion.pipeline.GenerationRequest;
import dev.easel.diffusion.pipeline.InvalidRequestException;
import dev.easel.server.auth.Tier;
import dev.easel.server.catalog.ModelCache;
import dev.easel.server.catalog.ModelEntry;
import dev.easel.server.support.FakePipeline;
import org.junit.jupiter.api.Test;

import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;

import static dev.easel.server.jobs.DeviceWorkerTest.job;
import static dev.easel.server.jobs.DeviceWorkerTest.spec;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** Waiting jobs of the same model and batch key run as one pipeline call, each still answered on its own. */
class DeviceWorkerBatchingTest {
    final FakePipeline pipeline = new FakePipeline(100, 1);
    final Map<String, String> outcomes = new ConcurrentHashMap<>();
    final Map<String, Long> computeMillis = new ConcurrentHashMap<>();
    final List<String> batches = new CopyOnWriteArrayList<>();
    final JobObserver observer = new JobObserver() {
        @Override
        public void batch(ModelEntry model, int jobs, int images) {
            batches.add(jobs + " jobs/" + images + " images");
        }

        @Override
        public void finished(Job job, String outcome, int images, long millis) {
            outcomes.put(job.spec().prompt(), outcome);
            computeMillis.put(job.spec().prompt(), millis);
        }
    };
    final TestClock clock = new TestClock();

    DeviceWorker worker(int maxBatchImages) {
        return new DeviceWorker("test", 20, maxBatchImages, new ModelCache(p -> pipeline, 1 << 30), (m, r) -> { }, observer, clock);
    }

    /** Starts a job that holds the device for a while (6 steps of 100 ms), so the next jobs wait together. */
    Job blocker(DeviceWorker w) throws InterruptedException {
        Job blocker = job("blocker", 999, 1);
        w.submit(blocker);
        waitUntil(() -> pipeline.stepsRun.get() > 0);
        return blocker;
    }

    List<List<String>> batchPrompts() {
        return pipeline.batches.stream().map(b -> b.stream().map(GenerationRequest::prompt).toList()).toList();
    }

    @Test
    void compatibleWaitingJobsJoinInQueueOrderUpToTheImageCap() throws Exception {
        pipeline.stepMillis = 50;
        try (DeviceWorker w = worker(4)) {
            Job blocker = blocker(w);
            Job a = job("a", 1, 1);
            Job big = job("big", 2, 3);
            Job b = job("b", 3, 1);
            Job other = DeviceWorkerTest.job(spec("other size", 4, 1, 128, 0), Tier.FREE, Duration.ofMinutes(1), JobListener.NONE);
            Job d = job("d", 5, 1);
            Job e = job("e", 6, 1);
            Job pro = DeviceWorkerTest.job(spec("pro", 7, 1, 64, 0), Tier.PRO, Duration.ofMinutes(1), JobListener.NONE);
            List<Job> all = List.of(a, big, b, other, d, e, pro);
            for (Job j : all) w.submit(j);
            for (Job j : all) j.result().get(10, TimeUnit.SECONDS);
            blocker.result().get(10, TimeUnit.SECONDS);

            // pro first (tier), then arrival; big (3) does not fit beside pro + a, so it waits for the next batch
            assertThat(batchPrompts()).containsExactly(
                    List.of("blocker"), List.of("pro", "a", "b", "d"), List.of("big", "e"), List.of("other size"));
            assertThat(batches).containsExactly("1 jobs/1 images", "4 jobs/4 images", "2 jobs/4 images", "1 jobs/1 images");
            for (Job j : all) {
                JobResult r = j.result().get();
                assertThat(r.seed()).isEqualTo(j.spec().seed());
                assertThat(r.images()).hasSize(j.spec().n());
                for (int i = 0; i < r.images().size(); i++) {
                    assertThat(pixel(r.images().get(i))).as(j.spec().prompt() + " image " + i)
                            .containsExactly(FakePipeline.color(j.spec().seed(), i));
                }
                assertThat(outcomes).containsEntry(j.spec().prompt(), "succeeded");
            }
            // compute time is split by images: big made 3 of the batch's 4
            assertThat(big.result().get().computeMillis()).isPositive()
                    .isBetween(3 * e.result().get().computeMillis(), 3 * e.result().get().computeMillis() + 3);
            assertThat(computeMillis.get("big")).isEqualTo(big.result().get().computeMillis());
        }
    }

    @Test
    void jobsOfAnotherModelOrEditsAreNotMerged() throws Exception {
        try (DeviceWorker w = worker(4)) {
            Job blocker = blocker(w);
            ModelEntry m2 = new ModelEntry("m2", "sd15", Tier.FREE, "m2", 64, 64, 32, 1024, 6, 5f, "euler",
                    Optional.of(dev.easel.diffusion.family.ModelFiles.of(Path.of("m2"))), true, Optional.empty());
            Job a = job("a", 1, 1);
            Job otherModel = new Job(a.key(), m2, spec("other model", 2, 1, 64, 0), JobListener.NONE, Instant.now(),
                    Instant.now().plus(Duration.ofMinutes(1)));
            RgbImage source = new RgbImage(64, 64, new float[64 * 64 * 3]);
            JobSpec editSpec = new JobSpec("edits", "edit", null, 64, 64, null, null, null, 3, 1, Optional.of(source), null,
                    Optional.empty(), 0, null);
            Job edit = DeviceWorkerTest.job(editSpec, Tier.FREE, Duration.ofMinutes(1), JobListener.NONE);
            Job edit2 = DeviceWorkerTest.job(editSpec, Tier.FREE, Duration.ofMinutes(1), JobListener.NONE);
            Job b = job("b", 4, 1);
            List<Job> all = List.of(a, otherModel, edit, edit2, b);
            for (Job j : all) w.submit(j);
            for (Job j : all) j.result().get(10, TimeUnit.SECONDS);
            blocker.result().get(10, TimeUnit.SECONDS);
            assertThat(batchPrompts()).containsExactly(
                    List.of("blocker"), List.of("a", "b"), List.of("other model"), List.of("edit"), List.of("edit"));
        }
    }

    @Test
    void noMergingWithACapOfOneImage() throws Exception {
        try (DeviceWorker w = worker(1)) {
            Job blocker = blocker(w);
            Job a = job("a", 1, 1);
            Job b = job("b", 2, 1);
            w.submit(a);
            w.submit(b);
            b.result().get(10, TimeUnit.SECONDS);
            assertThat(batchPrompts()).containsExactly(List.of("blocker"), List.of("a"), List.of("b"));
            assertThat(blocker.result()).isCompleted();
        }
    }

    @Test
    void aCancelledMemberIsAnsweredAtOnceAndTheOthersGetTheirImages() throws Exception {
        try (DeviceWorker w = worker(4)) {
            blocker(w);
            Job a = job("a", 1, 1);
            Job b = job("b", 2, 1);
            Job c = job("c", 3, 2);
            for (Job j : List.of(a, b, c)) w.submit(j);
            waitUntil(() -> pipeline.batches.size() == 2);
            b.cancel("the client disconnected");
            assertThatThrownBy(() -> b.result().get(2, TimeUnit.SECONDS)).hasCauseInstanceOf(JobFailure.Cancelled.class)
                    .hasMessageContaining("the client disconnected");
            assertThat(a.result()).as("the batch goes on after b left").isNotDone();
            assertThat(pixel(a.result().get(10, TimeUnit.SECONDS).images().getFirst())).containsExactly(FakePipeline.color(1, 0));
            assertThat(c.result().get(10, TimeUnit.SECONDS).images()).hasSize(2);
            assertThat(outcomes).containsEntry("a", "succeeded").containsEntry("b", "cancelled").containsEntry("c", "succeeded");
            assertThat(pipeline.batches.get(1)).hasSize(3);
            assertThat(pipeline.stepsRun.get()).as("blocker and batch ran all their steps").isEqualTo(12);
        }
    }

    @Test
    void theBatchStopsWhenAllItsJobsAreCancelled() throws Exception {
        try (DeviceWorker w = worker(4)) {
            blocker(w);
            Job a = job("a", 1, 1);
            Job b = job("b", 2, 1);
            w.submit(a);
            w.submit(b);
            waitUntil(() -> pipeline.batches.size() == 2);
            a.cancel("gone");
            assertThatThrownBy(() -> a.result().get(2, TimeUnit.SECONDS)).hasCauseInstanceOf(JobFailure.Cancelled.class);
            b.cancel("gone too");
            assertThatThrownBy(() -> b.result().get(2, TimeUnit.SECONDS)).hasCauseInstanceOf(JobFailure.Cancelled.class);
            waitUntil(() -> !w.busy());
            assertThat(pipeline.stepsRun.get()).as("the batch stopped before its last step").isLessThan(12);
        }
    }

    @Test
    void aMemberPastItsDeadlineTimesOutAloneAndTheOthersFinish() throws Exception {
        try (DeviceWorker w = worker(4)) {
            blocker(w);
            Job early = DeviceWorkerTest.job(spec("early", 1, 1, 64, 0), Tier.FREE, Duration.ofMinutes(1), JobListener.NONE);
            Job late = DeviceWorkerTest.job(spec("late", 2, 1, 64, 0), Tier.FREE, Duration.ofMinutes(10), JobListener.NONE);
            w.submit(early);
            w.submit(late);
            waitUntil(() -> pipeline.batches.size() == 2);
            clock.advance(Duration.ofMinutes(2));
            assertThatThrownBy(() -> early.result().get(2, TimeUnit.SECONDS))
                    .satisfies(e -> assertThat(((JobFailure.TimedOut) e.getCause()).started()).isTrue());
            assertThat(late.result().get(10, TimeUnit.SECONDS).images()).hasSize(1);
            assertThat(outcomes).containsEntry("early", "timeout").containsEntry("late", "succeeded");
        }
    }

    @Test
    void eachMemberGetsThePreviewsOfItsOwnRows() throws Exception {
        pipeline.stepMillis = 20;
        try (DeviceWorker w = worker(4)) {
            blocker(w);
            List<String> aEvents = new CopyOnWriteArrayList<>();
            List<String> bEvents = new CopyOnWriteArrayList<>();
            Job a = DeviceWorkerTest.job(spec("a", 1, 2, 64, 2), Tier.FREE, Duration.ofMinutes(1), recorder(aEvents));
            Job quiet = job("quiet", 2, 1);
            Job b = DeviceWorkerTest.job(spec("b", 3, 1, 64, 1), Tier.FREE, Duration.ofMinutes(1), recorder(bEvents));
            for (Job j : List.of(a, quiet, b)) w.submit(j);
            for (Job j : List.of(a, quiet, b)) j.result().get(10, TimeUnit.SECONDS);
            assertThat(batchPrompts().get(1)).containsExactly("a", "quiet", "b");
            // image index, partial index, batch row the preview was made from (a: rows 0-1, quiet: 2, b: 3)
            assertThat(aEvents).containsExactly("0/0/row0", "1/0/row1", "0/1/row0", "1/1/row1");
            assertThat(bEvents).containsExactly("0/0/row3");
        }
    }

    @Test
    void anInvalidMemberGetsItsOwnErrorAndTheOthersTheirImages() throws Exception {
        try (DeviceWorker w = worker(4)) {
            blocker(w);
            Job a = job("a", 1, 1);
            Job bad = job(FakePipeline.REJECTED_PROMPT, 2, 1);
            Job c = job("c", 3, 1);
            for (Job j : List.of(a, bad, c)) w.submit(j);
            assertThatThrownBy(() -> bad.result().get(10, TimeUnit.SECONDS)).hasCauseInstanceOf(InvalidRequestException.class);
            assertThat(pixel(a.result().get(10, TimeUnit.SECONDS).images().getFirst())).containsExactly(FakePipeline.color(1, 0));
            assertThat(pixel(c.result().get(10, TimeUnit.SECONDS).images().getFirst())).containsExactly(FakePipeline.color(3, 0));
            assertThat(batchPrompts()).containsExactly(List.of("blocker"), List.of("a"), List.of("c"));
            assertThat(outcomes).containsEntry(FakePipeline.REJECTED_PROMPT, "invalid");
        }
    }

    static JobListener recorder(List<String> events) {
        return new JobListener() {
            @Override
            public void onPartialImage(int imageIndex, int partialIndex, RgbImage preview) {
                events.add(imageIndex + "/" + partialIndex + "/row" + Math.round(preview.pixels()[0] * 10));
            }
        };
    }

    static float[] pixel(RgbImage image) {
        return new float[]{image.pixels()[0], image.pixels()[1], image.pixels()[2]};
    }

    static void waitUntil(BooleanSupplier condition) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        while (!condition.getAsBoolean()) {
            if (System.nanoTime() > deadline) throw new AssertionError("condition not met in 10 s");
            Thread.sleep(2);
        }
    }

    /** The system clock, moved forward on demand (to pass deadlines without waiting). */
    static final class TestClock extends Clock {
        private volatile Duration offset = Duration.ZERO;

        void advance(Duration d) {
            offset = offset.plus(d);
        }

        @Override
        public Instant instant() {
            return Instant.now().plus(offset);
        }

        @Override
        public java.time.ZoneId getZone() {
            return ZoneOffset.UTC;
        }

        @Override
        public Clock withZone(java.time.ZoneId zone) {
            return this;
        }
    }
}
