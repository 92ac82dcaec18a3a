package dev.easel.server.jobs;

import dev.easel.diffusion.pipeline.GenerationRequest;
import dev.easel.diffusion.pipeline.ModelDefaults;
import dev.easel.server.auth.ApiKey;
import dev.easel.server.auth.Tier;
import dev.easel.server.catalog.ModelCache;
import dev.easel.server.catalog.ModelEntry;
import dev.easel.server.support.FakePipeline;
import org.junit.jupiter.api.Test;

import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class DeviceWorkerTest {
    final FakePipeline pipeline = new FakePipeline(20, 1);
    final List<String> outcomes = new ArrayList<>();
    final JobObserver observer = new JobObserver() {
        @Override
        public synchronized void finished(Job job, String outcome, int images, long computeMillis) {
            outcomes.add(job.spec().prompt() + ":" + outcome);
        }
    };

    /** A worker that runs every job alone. */
    DeviceWorker worker(int capacity) {
        return worker(capacity, 1);
    }

    DeviceWorker worker(int capacity, int maxBatchImages) {
        return new DeviceWorker("test", capacity, maxBatchImages, new ModelCache(p -> pipeline, 1 << 30), (m, r) -> { },
                observer, Clock.systemUTC());
    }

    static ModelEntry model() {
        return new ModelEntry("m", "sd15", Tier.FREE, "m", 64, 64, 32, 1024, 6, 5f, "euler",
                Optional.of(dev.easel.diffusion.family.ModelFiles.of(Path.of("m"))), true, Optional.empty());
    }

    static Job job(String prompt, Tier tier, int n, Duration timeout) {
        return job(spec(prompt, 42, n, 64, 0), tier, timeout, JobListener.NONE);
    }

    static JobSpec spec(String prompt, long seed, int n, int size, int partialImages) {
        return new JobSpec("generations", prompt, null, size, size, null, null, null, seed, n, Optional.empty(), null,
                Optional.empty(), partialImages, null);
    }

    static Job job(JobSpec spec, Tier tier, Duration timeout, JobListener listener) {
        ApiKey key = new ApiKey("key_" + tier.ordinal(), tier.id(), tier, false, Instant.now(), Optional.empty());
        return new Job(key, model(), spec, listener, Instant.now(), Instant.now().plus(timeout));
    }

    static Job job(String prompt, long seed, int n) {
        return job(spec(prompt, seed, n, 64, 0), Tier.FREE, Duration.ofMinutes(1), JobListener.NONE);
    }

    static Job job(String prompt, Tier tier) {
        return job(prompt, tier, 1, Duration.ofMinutes(1));
    }

    @Test
    void runsJobsByTierThenArrivalWithTheCatalogRecipe() throws Exception {
        try (DeviceWorker w = worker(10)) {
            Job first = job("first", Tier.FREE);
            w.submit(first);
            while (pipeline.stepsRun.get() == 0) Thread.sleep(1);
            Job free = job("free", Tier.FREE);
            Job pro = job("pro", Tier.PRO);
            Job premium = job("premium", Tier.PREMIUM);
            Job pro2 = job("pro2", Tier.PRO);
            for (Job j : List.of(free, pro, premium, pro2)) w.submit(j);
            for (Job j : List.of(first, free, pro, premium, pro2)) j.result().get(10, TimeUnit.SECONDS);
            assertThat(pipeline.requests).extracting(GenerationRequest::prompt).containsExactly("first", "premium", "pro", "pro2", "free");
            GenerationRequest r = pipeline.requests.getFirst();
            assertThat(r.steps()).isEqualTo(6);
            assertThat(r.guidanceScale()).isEqualTo(5f);
            assertThat(r.seed()).isEqualTo(42);
        }
    }

    @Test
    void aFullQueueRefusesAtOnce() throws Exception {
        try (DeviceWorker w = worker(1)) {
            w.submit(job("running", Tier.FREE));
            while (pipeline.stepsRun.get() == 0) Thread.sleep(1);
            w.submit(job("waiting", Tier.FREE));
            assertThatThrownBy(() -> w.submit(job("refused", Tier.PREMIUM)))
                    .isInstanceOfSatisfying(JobFailure.QueueFull.class, e -> assertThat(e.retryAfterSeconds()).isPositive());
        }
    }

    @Test
    void cancellingAWaitingJobFreesItsPlaceAndARunningOneStopsAtTheNextStep() throws Exception {
        pipeline.stepMillis = 50;
        try (DeviceWorker w = worker(1)) {
            Job running = job("running", Tier.FREE);
            w.submit(running);
            while (pipeline.stepsRun.get() == 0) Thread.sleep(1);
            Job waiting = job("waiting", Tier.FREE);
            w.submit(waiting);
            waiting.cancel("gone");
            assertThat(w.waitingCount()).isZero();
            assertThatThrownBy(() -> waiting.result().get(1, TimeUnit.SECONDS)).hasCauseInstanceOf(JobFailure.Cancelled.class);
            running.cancel("gone too");
            assertThatThrownBy(() -> running.result().get(1, TimeUnit.SECONDS)).isInstanceOf(ExecutionException.class)
                    .hasCauseInstanceOf(JobFailure.Cancelled.class);
            assertThat(pipeline.stepsRun.get()).isLessThan(6);
        }
    }

    @Test
    void aJobPastItsTimeoutStopsAndSaysWhetherItHadStarted() throws Exception {
        pipeline.stepMillis = 100;
        try (DeviceWorker w = worker(5)) {
            Job slow = job("slow", Tier.FREE, 1, Duration.ofMillis(250));
            Job late = job("late", Tier.FREE, 1, Duration.ofMillis(250));
            w.submit(slow);
            w.submit(late);
            assertThatThrownBy(() -> slow.result().get(5, TimeUnit.SECONDS))
                    .hasCauseInstanceOf(JobFailure.TimedOut.class)
                    .satisfies(e -> assertThat(((JobFailure.TimedOut) e.getCause()).started()).isTrue());
            assertThatThrownBy(() -> late.result().get(5, TimeUnit.SECONDS))
                    .satisfies(e -> assertThat(((JobFailure.TimedOut) e.getCause()).started()).isFalse());
        }
    }

    @Test
    void drainingFinishesEveryQueuedJobAndRefusesNewOnes() throws Exception {
        pipeline.stepMillis = 10;
        try (DeviceWorker w = worker(10)) {
            List<Job> jobs = new ArrayList<>();
            for (int i = 0; i < 5; i++) {
                Job j = job("j" + i, Tier.FREE);
                jobs.add(j);
                w.submit(j);
            }
            assertThat(w.drain(Duration.ofSeconds(20))).isTrue();
            for (Job j : jobs) assertThat(j.result().isDone() && !j.result().isCompletedExceptionally()).isTrue();
            assertThatThrownBy(() -> w.submit(job("after", Tier.FREE))).isInstanceOf(JobFailure.ShuttingDown.class);
        }
    }

    @Test
    void previewsAreSpreadOverTheSteps() {
        assertThat(DeviceWorker.previewSteps(2, 6)).containsExactly(2, 4);
        assertThat(DeviceWorker.previewSteps(3, 4)).containsExactly(1, 2, 3);
        assertThat(DeviceWorker.previewSteps(3, 2)).containsExactly(1);
        assertThat(DeviceWorker.previewSteps(1, 1)).isEmpty();
    }

    @Test
    void editsDefaultToStrengthOneWithAMask() {
        ModelDefaults d = new ModelDefaults(512, 512, 20, 7f, "euler", 0.75f);
        Job j = job("x", Tier.FREE);
        GenerationRequest r = DeviceWorker.resolve(j, d);
        assertThat(r.strength()).isEqualTo(1f);
        assertThat(r.sampler()).isEqualTo("euler");
    }
}
