package dev.easel.server.jobs;

import dev.easel.server.storage.JobStore;
import dev.easel.server.storage.JobStore.ClaimState;
import dev.easel.server.storage.JobStore.JobRecord;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.Consumer;
import java.util.function.Predicate;

/**
 * The one queue of every node sharing a PostgreSQL database: the jobs table. Every accepted job is a queued row;
 * a free device claims the next one (highest priority, then arrival; {@code SELECT ... FOR UPDATE SKIP LOCKED})
 * and the jobs that can join its batch, holding each by a lease this node renews while they run. A job whose node
 * died (its lease ran out) is claimed again by another; only the latest claim may end it.
 *
 * <p>This node's synchronous clients wait here ({@link #add}): when this node claims such a job it runs the waiting
 * {@link Job} itself (previews stream as usual); when another node runs it, its previews reach the waiting job as
 * that node publishes them, and the job is answered from its record once it ended, both learned from {@link #onEvent}
 * (LISTEN/NOTIFY) or, at the latest, from the periodic check.
 */
public final class SharedQueue implements JobSource {
    private static final Logger log = LoggerFactory.getLogger(SharedQueue.class);
    /** How often an idle device looks for work without being told, and a waiting client for its job's end. */
    static final long POLL_MILLIS = 500;
    /** Running jobs' cancel requests are read at most this often (at a denoising step). */
    private static final long CHECK_NANOS = 100_000_000L;
    /** How many queued jobs a batch head looks at for company. */
    private static final int MATCH_CANDIDATES = 32;

    private final JobStore store;
    private final String node;
    private final Duration lease;
    private final Clock clock;
    private final RecordedJobs recorded;
    /** This node's accepted synchronous jobs that have not started here and have not ended. */
    private final Map<String, Job> waiting = new ConcurrentHashMap<>();
    private final ReentrantLock lock = new ReentrantLock();
    private final Condition wake = lock.newCondition();
    private boolean woken;
    private volatile boolean closed;
    private volatile boolean draining;
    private long lastCheck;
    private final ScheduledExecutorService ticker;

    public SharedQueue(JobStore store, String node, Duration lease, Clock clock, RecordedJobs recorded) {
        this.store = store;
        this.node = node;
        this.lease = lease;
        this.clock = clock;
        this.recorded = recorded;
        // before this node accepts anything: its synchronous jobs are run only while its heartbeat lasts
        store.nodeStarted(node, clock.instant(), clock.instant().plus(lease));
        this.ticker = Executors.newSingleThreadScheduledExecutor(Thread.ofPlatform().daemon().name("easel-claims").factory());
        long every = Math.max(100, Math.min(POLL_MILLIS * 2, lease.toMillis() / 3));
        ticker.scheduleWithFixedDelay(this::tick, every, every, TimeUnit.MILLISECONDS);
    }

    /**
     * A job change another node made (or this one): a new job wakes the device, a preview or an end goes to the
     * waiting client.
     */
    public void onEvent(String state, String id) {
        if (state.equals("queued")) {
            signal();
        } else if (state.equals("preview")) {
            Job local = waiting.get(id);
            if (local != null) recorded.previews(local);
        } else if (!state.equals("running")) {
            Job local = waiting.get(id);
            if (local != null) store.find(id).ifPresent(r -> answer(local, r));
        }
    }

    @Override
    public void add(Job job) {
        waiting.put(job.publicId(), job);
        signal();
    }

    private void signal() {
        lock.lock();
        try {
            woken = true;
            wake.signalAll();
        } finally {
            lock.unlock();
        }
    }

    @Override
    public Job next(Consumer<Job> onTake) throws InterruptedException {
        while (!closed) {
            Optional<JobRecord> claimed = store.claimNext(node, clock.instant(), lease, draining ? node : null);
            if (claimed.isPresent()) {
                JobRecord r = claimed.get();
                Job local = waiting.get(r.id());
                Job job;
                if (local != null) {
                    job = local;
                } else {
                    try {
                        job = recorded.fromRecord(r);
                    } catch (RuntimeException e) {
                        recorded.cannotRun(r, e);
                        continue;
                    }
                }
                job.claimed(r.attempt());
                onTake.accept(job);
                waiting.remove(r.id(), job);
                return job;
            }
            lock.lock();
            try {
                if (!woken && !closed) wake.await(POLL_MILLIS, TimeUnit.MILLISECONDS);
                woken = false;
            } finally {
                lock.unlock();
            }
        }
        return null;
    }

    @Override
    public List<Job> takeMatching(Job head, Predicate<Job> join) {
        if (draining) return List.of();
        Map<String, Job> chosen = new HashMap<>();
        List<JobRecord> claimed;
        try {
            claimed = store.claimMatching(node, head.model().id(), clock.instant(), lease, MATCH_CANDIDATES, r -> {
                Job j = waiting.get(r.id());
                if (j == null) {
                    try {
                        j = recorded.fromRecord(r);
                    } catch (RuntimeException e) {
                        return false; // the device that takes it as a head ends it
                    }
                }
                if (!j.model().equals(head.model()) || !join.test(j)) return false;
                chosen.put(r.id(), j);
                return true;
            });
        } catch (RuntimeException e) {
            log.warn("cannot claim jobs to join a batch: {}", e.getMessage());
            return List.of();
        }
        List<Job> taken = new ArrayList<>();
        for (JobRecord r : claimed) {
            Job j = chosen.get(r.id());
            j.claimed(r.attempt());
            waiting.remove(r.id(), j);
            taken.add(j);
        }
        return taken;
    }

    @Override
    public boolean remove(Job job) {
        if (!waiting.containsKey(job.publicId())) return false;
        if (store.cancelQueued(job.publicId(), clock.instant())) {
            waiting.remove(job.publicId(), job);
            return true;
        }
        store.requestCancel(job.publicId()); // claimed: its runner stops at its next step
        return false;
    }

    @Override
    public int size() {
        return waiting.size();
    }

    /** Never here: the database bounds the shared queue when a job is recorded ({@link JobStore#insertIfRoom}). */
    @Override
    public boolean full(int capacity) {
        return false;
    }

    @Override
    public void checkRunning(List<Job> running) {
        long now = System.nanoTime();
        if (now - lastCheck < CHECK_NANOS) return;
        lastCheck = now;
        Map<String, Job> claimed = new HashMap<>();
        for (Job j : running) if (j.attempt() > 0) claimed.put(j.publicId(), j);
        try {
            for (ClaimState s : store.claimStates(claimed.keySet())) {
                Job j = claimed.get(s.id());
                if (s.attempt() != j.attempt() || !node.equals(s.node()) || s.state().ended()) {
                    j.markCancelled("its record was ended elsewhere (another node took it over, or its client's node died)");
                } else if (s.cancelRequested()) {
                    j.markCancelled("cancelled by the client");
                }
            }
        } catch (RuntimeException e) {
            log.warn("cannot read the state of running jobs: {}", e.getMessage());
        }
    }

    @Override
    public void draining() {
        draining = true;
        signal();
    }

    /**
     * Renews this node's heartbeat and its running jobs' leases, answers waiting clients whose jobs ended elsewhere,
     * reaps orphans (and the synchronous jobs of dead nodes).
     */
    private void tick() {
        try {
            store.nodeAlive(node, clock.instant().plus(lease));
            store.renewClaims(node, clock.instant().plus(lease));
            if (!waiting.isEmpty()) {
                for (ClaimState s : store.claimStates(List.copyOf(waiting.keySet()))) {
                    Job local = waiting.get(s.id());
                    if (local == null) continue;
                    if (s.state().ended()) store.find(s.id()).ifPresent(r -> answer(local, r));
                    else if (s.state() == JobStore.State.RUNNING) recorded.previews(local); // a missed notification
                }
            }
            recorded.failOrphans();
        } catch (RuntimeException e) {
            log.warn("shared queue upkeep failed: {}", e.getMessage());
        }
    }

    private void answer(Job local, JobRecord ended) {
        if (!ended.state().ended() || !waiting.remove(ended.id(), local)) return;
        recorded.answer(local, ended);
    }

    @Override
    public List<Job> close() {
        closed = true;
        signal();
        ticker.shutdownNow();
        try {
            store.nodeStopped(node, clock.instant());
        } catch (RuntimeException e) {
            log.warn("cannot record this node's stop: {}", e.getMessage());
        }
        List<Job> left = new ArrayList<>(waiting.values());
        waiting.clear();
        return left;
    }
}
