package dev.easel.server.catalog;

/** A catalog model whose files are being downloaded ({@code easel serve --pull}): answered 503 with Retry-After. */
public final class ModelDownloadingException extends RuntimeException {
    private final long retryAfterSeconds;

    public ModelDownloadingException(String message, long retryAfterSeconds) {
        super(message, null, false, false);
        this.retryAfterSeconds = retryAfterSeconds;
    }

    public long retryAfterSeconds() {
        return retryAfterSeconds;
    }
}
