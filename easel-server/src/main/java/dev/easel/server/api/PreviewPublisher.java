package dev.easel.server.api;

import dev.easel.diffusion.image.RgbImage;
import dev.easel.server.image.ImageEncoder;
import dev.easel.server.image.ImageFormat;
import dev.easel.server.jobs.Job;
import dev.easel.server.jobs.JobListener;
import dev.easel.server.storage.JobBlobs;
import dev.easel.server.storage.JobStore;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Executor;

/**
 * On the node that runs another node's streamed synchronous job: each preview, encoded as the accepting node would
 * encode it for its client, is stored with the job ({@link JobStore#publishPreview}, which announces it), one after
 * another in the order they were made, off the device thread. The job's end is written only once {@link #published}
 * completes, so the accepting node sends every preview before the final images.
 */
final class PreviewPublisher implements JobListener {
    private static final Logger log = LoggerFactory.getLogger(PreviewPublisher.class);

    private final JobStore store;
    private final ImageFormat format;
    private final int compression;
    private final Executor executor;
    private volatile Job job;
    /** Appended to on the device thread only; read by whoever ends the job. */
    private volatile CompletableFuture<Void> chain = CompletableFuture.completedFuture(null);
    private int sequence;

    PreviewPublisher(JobStore store, ImageFormat format, int compression, Executor executor) {
        this.store = store;
        this.format = format;
        this.compression = compression;
        this.executor = executor;
    }

    /** The job whose previews these are (its claim's attempt names the rows). */
    void of(Job job) {
        this.job = job;
    }

    @Override
    public void onPartialImage(int imageIndex, int partialIndex, RgbImage preview) {
        int seq = sequence++;
        chain = chain.thenRunAsync(() -> publish(seq, imageIndex, partialIndex, preview), executor);
    }

    private void publish(int seq, int imageIndex, int partialIndex, RgbImage preview) {
        Job j = job;
        try {
            byte[] encoded = ImageEncoder.encode(preview, format, compression);
            store.publishPreview(j.publicId(), JobStore.previewKind(j.attempt(), seq),
                    JobBlobs.preview(new JobBlobs.Preview(imageIndex, partialIndex, encoded)));
        } catch (RuntimeException e) {
            log.warn("cannot publish preview {} of job {}: {}", seq, j.publicId(), e.getMessage());
        }
    }

    /** Completes once every preview made so far is stored. */
    CompletableFuture<Void> published() {
        return chain;
    }
}
