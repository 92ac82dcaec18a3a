package dev.easel.server.hub;

/** What a pull tells as it goes; every method may be called from several download threads at once. */
public interface PullListener {
    PullListener NONE = new PullListener() {
    };

    /** A file's transfer begins (or resumes: {@code from} bytes are already on disk). */
    default void started(ModelPuller.PlannedFile file, long from) {
    }

    /** {@code done} of the file's bytes are on disk. */
    default void progress(ModelPuller.PlannedFile file, long done) {
    }

    /** The connection broke; the transfer resumes from where it stopped. */
    default void retrying(ModelPuller.PlannedFile file, int attempt, String reason) {
    }

    /** Verified and in place. */
    default void finished(ModelPuller.PlannedFile file) {
    }

    default void failed(ModelPuller.PlannedFile file, String reason) {
    }
}
