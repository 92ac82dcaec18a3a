package dev.easel.server.auth;

/** A per-tier limit was hit: answered 429 with {@code Retry-After}. */
public class LimitExceededException extends RuntimeException {
    private final String code;
    private final long retryAfterSeconds;

    public LimitExceededException(String code, String message, long retryAfterSeconds) {
        super(message, null, false, false);
        this.code = code;
        this.retryAfterSeconds = Math.max(1, retryAfterSeconds);
    }

    public String code() {
        return code;
    }

    public long retryAfterSeconds() {
        return retryAfterSeconds;
    }
}
