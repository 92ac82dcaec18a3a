package dev.easel.server.jobs;

import java.time.Duration;
import java.util.List;

/**
 * Sends each job to its device. Today every model runs on the one device the engine drives (the CPU or
 * the first GPU); a model-to-device placement goes here when several devices are driven.
 */
public final class JobScheduler implements AutoCloseable {
    private final List<DeviceWorker> devices;
    private volatile boolean accepting = true;

    public JobScheduler(List<DeviceWorker> devices) {
        if (devices.isEmpty()) throw new IllegalArgumentException("no device");
        this.devices = List.copyOf(devices);
    }

    /** @see DeviceWorker#submit */
    public void submit(Job job) {
        if (!accepting) throw new JobFailure.ShuttingDown();
        deviceFor(job).submit(job);
    }

    public DeviceWorker deviceFor(Job job) {
        return devices.getFirst();
    }

    public List<DeviceWorker> devices() {
        return devices;
    }

    public int waitingCount() {
        return devices.stream().mapToInt(DeviceWorker::waitingCount).sum();
    }

    public boolean accepting() {
        return accepting;
    }

    /** Stops taking jobs and finishes the queued and running ones, for at most {@code timeout}. */
    public boolean drain(Duration timeout) {
        accepting = false;
        long deadline = System.nanoTime() + timeout.toNanos();
        boolean all = true;
        for (DeviceWorker d : devices) {
            all &= d.drain(Duration.ofNanos(Math.max(0, deadline - System.nanoTime())));
        }
        return all;
    }

    @Override
    public void close() {
        accepting = false;
        devices.forEach(DeviceWorker::close);
    }
}
