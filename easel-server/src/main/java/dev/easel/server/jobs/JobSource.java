package dev.easel.server.jobs;

import java.util.List;
import java.util.function.Consumer;
import java.util.function.Predicate;

/**
 * Where a device's jobs wait until it runs them: this process's memory ({@link LocalQueue}), or the jobs table
 * that every node sharing the database claims from ({@link SharedQueue}). One device thread takes from it.
 */
public interface JobSource {

    /** Adds a job this node accepted (the device has checked its capacity). */
    void add(Job job);

    /**
     * Waits for the next job to run on this device, and hands it to {@code onTake} before it stops counting as
     * waiting (so that a draining device never sees it neither waiting nor running).
     *
     * @return the job, or null once closed
     */
    Job next(Consumer<Job> onTake) throws InterruptedException;

    /**
     * Takes, in queue order, the waiting text-to-image jobs of {@code head}'s model that {@code join} accepts (it is
     * asked about each in turn and may keep state, such as an image budget).
     */
    List<Job> takeMatching(Job head, Predicate<Job> join);

    /** Takes a cancelled job out of the queue: true if it was waiting and will not run. */
    boolean remove(Job job);

    /** Jobs this node accepted that wait (or run on another node) and have not been answered. */
    int size();

    /** Whether a new job would exceed {@code capacity} waiting jobs (checked before {@link #add}). */
    default boolean full(int capacity) {
        return size() >= capacity;
    }

    /** Before each denoising step of {@code running}: marks the ones to stop (cancelled elsewhere). */
    default void checkRunning(List<Job> running) {
    }

    /** The device drains: from now on it takes only the jobs this node accepted. */
    default void draining() {
    }

    /** Stops: {@link #next} returns null; returns the jobs this node accepted that are still waiting. */
    List<Job> close();
}
