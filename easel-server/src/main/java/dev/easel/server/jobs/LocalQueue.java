package dev.easel.server.jobs;

import java.util.ArrayList;
import java.util.List;
import java.util.PriorityQueue;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.Consumer;
import java.util.function.Predicate;

/** The jobs of one process, in its memory: tier first, then arrival. The single-node (SQLite) queue. */
public final class LocalQueue implements JobSource {
    private final ReentrantLock lock = new ReentrantLock();
    private final Condition changed = lock.newCondition();
    private final PriorityQueue<Job> waiting = new PriorityQueue<>(Job.ORDER);
    private boolean closed;

    @Override
    public void add(Job job) {
        lock.lock();
        try {
            waiting.add(job);
            changed.signalAll();
        } finally {
            lock.unlock();
        }
    }

    @Override
    public Job next(Consumer<Job> onTake) throws InterruptedException {
        lock.lock();
        try {
            while (waiting.isEmpty() && !closed) changed.await();
            if (closed) return null;
            Job job = waiting.peek();
            onTake.accept(job);
            waiting.poll();
            return job;
        } finally {
            lock.unlock();
        }
    }

    @Override
    public List<Job> takeMatching(Job head, Predicate<Job> join) {
        lock.lock();
        try {
            List<Job> inOrder = new ArrayList<>(waiting);
            inOrder.sort(Job.ORDER);
            List<Job> taken = new ArrayList<>();
            for (Job j : inOrder) {
                if (j.model().equals(head.model()) && join.test(j)) {
                    waiting.remove(j);
                    taken.add(j);
                }
            }
            return taken;
        } finally {
            lock.unlock();
        }
    }

    @Override
    public boolean remove(Job job) {
        lock.lock();
        try {
            return waiting.remove(job);
        } finally {
            lock.unlock();
        }
    }

    @Override
    public int size() {
        lock.lock();
        try {
            return waiting.size();
        } finally {
            lock.unlock();
        }
    }

    @Override
    public List<Job> close() {
        lock.lock();
        try {
            closed = true;
            List<Job> left = new ArrayList<>(waiting);
            waiting.clear();
            changed.signalAll();
            return left;
        } finally {
            lock.unlock();
        }
    }
}
