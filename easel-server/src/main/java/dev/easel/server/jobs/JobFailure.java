package dev.easel.server.jobs;

/** Why a job ended without images; the API maps each kind to its status. */
public sealed class JobFailure extends RuntimeException
        permits JobFailure.Cancelled, JobFailure.TimedOut, JobFailure.QueueFull, JobFailure.ShuttingDown, JobFailure.Internal {

    JobFailure(String message, Throwable cause) {
        super(message, cause, false, false);
    }

    /** The client went away (or the job was cancelled otherwise). */
    public static final class Cancelled extends JobFailure {
        public Cancelled(String why) {
            super(why, null);
        }
    }

    /** The request's time ran out; {@code started} tells whether any compute was spent. */
    public static final class TimedOut extends JobFailure {
        private final boolean started;

        public TimedOut(boolean started) {
            super(started ? "the generation did not finish within the request timeout"
                    : "the request waited in the queue past its timeout", null);
            this.started = started;
        }

        public boolean started() {
            return started;
        }
    }

    /** The device's queue is full; try again after {@code retryAfterSeconds}. */
    public static final class QueueFull extends JobFailure {
        private final long retryAfterSeconds;

        public QueueFull(long retryAfterSeconds) {
            super("the server is busy: too many requests are waiting", null);
            this.retryAfterSeconds = retryAfterSeconds;
        }

        public long retryAfterSeconds() {
            return retryAfterSeconds;
        }
    }

    /** The server is stopping and takes no new work. */
    public static final class ShuttingDown extends JobFailure {
        public ShuttingDown() {
            super("the server is shutting down", null);
        }
    }

    /** A fault of the server or the model; logged in full, shown to the client without details. */
    public static final class Internal extends JobFailure {
        public Internal(Throwable cause) {
            super("the generation failed inside the server", cause);
        }
    }
}
