package dev.easel.server.api;

/**
 * A failure answered in OpenAI's shape: {@code {"error":{"message","type","param","code"}}} with
 * {@code status}, and {@code Retry-After} / {@code x-should-retry} headers where they apply.
 */
public final class ApiException extends RuntimeException {
    private final int status;
    private final String type;
    private final String code;
    private final String param;
    private final Long retryAfterSeconds;
    private final Boolean shouldRetry;

    public ApiException(int status, String type, String code, String param, String message, Long retryAfterSeconds,
                        Boolean shouldRetry) {
        super(message, null, false, false);
        this.status = status;
        this.type = type;
        this.code = code;
        this.param = param;
        this.retryAfterSeconds = retryAfterSeconds;
        this.shouldRetry = shouldRetry;
    }

    public static ApiException badRequest(String param, String code, String message) {
        return new ApiException(400, "invalid_request_error", code, param, message, null, false);
    }

    public static ApiException invalidValue(String param, String message) {
        return badRequest(param, "invalid_value", message);
    }

    public static ApiException unauthorized(String code, String message) {
        return new ApiException(401, "authentication_error", code, null, message, null, false);
    }

    public static ApiException forbidden(String param, String code, String message) {
        return new ApiException(403, "permission_error", code, param, message, null, false);
    }

    public static ApiException notFound(String param, String code, String message) {
        return new ApiException(404, "invalid_request_error", code, param, message, null, false);
    }

    public static ApiException tooLarge(String message) {
        return new ApiException(413, "invalid_request_error", "request_too_large", null, message, null, false);
    }

    public static ApiException unprocessable(String param, String code, String message) {
        return new ApiException(422, "invalid_request_error", code, param, message, null, false);
    }

    public static ApiException rateLimited(String code, String message, long retryAfterSeconds) {
        return new ApiException(429, "rate_limit_error", code, null, message, retryAfterSeconds, null);
    }

    public static ApiException unavailable(String code, String message, long retryAfterSeconds) {
        return new ApiException(503, "server_error", code, null, message, retryAfterSeconds, null);
    }

    public static ApiException internal(String message) {
        return new ApiException(500, "server_error", "internal_error", null, message, null, false);
    }

    public int status() {
        return status;
    }

    public String type() {
        return type;
    }

    public String code() {
        return code;
    }

    public String param() {
        return param;
    }

    public Long retryAfterSeconds() {
        return retryAfterSeconds;
    }

    /** False where a retry would rerun an expensive failure; null to let the client decide. */
    public Boolean shouldRetry() {
        return shouldRetry;
    }
}
