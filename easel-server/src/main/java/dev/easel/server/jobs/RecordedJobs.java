package dev.easel.server.jobs;

import dev.easel.server.storage.JobStore.JobRecord;

/**
 * The API's side of the shared queue: how a claimed record becomes a job this node can run (and how its end is
 * written, on whichever node ran it), and how this node's waiting client is answered from a record another node ended.
 */
public interface RecordedJobs {

    /**
     * A job to run from a record this node claimed, with no waiting client here (another node's client, or an async
     * job): its end is written to its record (guarded by its attempt) when it completes.
     *
     * @throws RuntimeException when it cannot run on this node (the record is then failed by {@link #cannotRun})
     */
    Job fromRecord(JobRecord record);

    /** Ends a claimed record that cannot run here. */
    void cannotRun(JobRecord record, RuntimeException why);

    /** Answers {@code local}, this node's waiting job, from its record that another node ended (after its last previews). */
    void answer(Job local, JobRecord ended);

    /** Hands {@code local}, this node's waiting job, the previews another node published for it since the last call. */
    default void previews(Job local) {
    }

    /** Fails the synchronous jobs whose node died while running them for its own client, and cancels those whose
     * accepting node died (heartbeat expired) before another node ran them: nobody waits for them. */
    void failOrphans();
}
