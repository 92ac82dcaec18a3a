package dev.easel.server.api;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.easel.diffusion.pipeline.InvalidRequestException;
import dev.easel.server.auth.LimitExceededException;
import dev.easel.server.catalog.ModelDownloadingException;
import dev.easel.server.catalog.ModelLoadException;
import dev.easel.server.image.ImageRejectedException;
import dev.easel.server.jobs.JobFailure;
import io.javalin.http.Context;
import io.javalin.http.HttpResponseException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.util.concurrent.CompletionException;
import java.util.concurrent.ExecutionException;

/** Every failure to OpenAI's error body and the right status. Stack traces stay in the server log. */
public final class Errors {
    private static final Logger log = LoggerFactory.getLogger(Errors.class);

    /** Request attribute set once an OpenAI error body has been written. */
    static final String WRITTEN = "easel.errorWritten";

    private Errors() {
    }

    /** The API error for any exception. */
    public static ApiException toApi(Throwable t) {
        if ((t instanceof CompletionException || t instanceof ExecutionException) && t.getCause() != null) {
            return toApi(t.getCause());
        }
        return switch (t) {
            case ApiException e -> e;
            case InvalidRequestException e -> ApiException.invalidValue(e.param(), e.getMessage());
            case ImageRejectedException e -> ApiException.badRequest(e.param(), "invalid_image", e.getMessage());
            case LimitExceededException e -> ApiException.rateLimited(e.code(), e.getMessage(), e.retryAfterSeconds());
            case JobFailure.QueueFull e -> ApiException.unavailable("server_busy", e.getMessage(), e.retryAfterSeconds());
            case JobFailure.ShuttingDown e -> ApiException.unavailable("shutting_down", e.getMessage(), 30);
            case JobFailure.TimedOut e -> e.started()
                    ? new ApiException(504, "server_error", "generation_timeout", null, e.getMessage(), null, false)
                    : ApiException.unavailable("queue_timeout", e.getMessage(), 30);
            case JobFailure.Cancelled e -> e.getMessage() != null && e.getMessage().contains("shutting down")
                    ? ApiException.unavailable("shutting_down", e.getMessage(), 30)
                    : new ApiException(499, "invalid_request_error", "cancelled", null, "the request was cancelled", null, false);
            case JobFailure.Internal e -> // logged in full by the device worker
                    ApiException.internal("The image could not be generated because of an error in the server.");
            case ModelDownloadingException e -> ApiException.unavailable("model_downloading", e.getMessage(), e.retryAfterSeconds());
            case ModelLoadException e -> ApiException.unprocessable("model", "model_not_available", e.getMessage());
            case HttpResponseException e -> fromJavalin(e);
            default -> {
                log.error("unexpected error", t);
                yield ApiException.internal("The server had an error while processing your request.");
            }
        };
    }

    private static ApiException fromJavalin(HttpResponseException e) {
        int status = e.getStatus();
        return switch (status) {
            case 404 -> ApiException.notFound(null, "not_found", "Unknown endpoint.");
            case 405 -> new ApiException(405, "invalid_request_error", "method_not_allowed", null,
                    "Method not allowed for this endpoint.", null, false);
            case 413 -> ApiException.tooLarge("The request body is too large.");
            case 400 -> ApiException.badRequest(null, "invalid_request", e.getMessage() == null ? "Bad request." : e.getMessage());
            default -> status >= 500
                    ? ApiException.internal("The server had an error while processing your request.")
                    : new ApiException(status, "invalid_request_error", "http_" + status, null,
                    e.getMessage() == null ? "Request failed." : e.getMessage(), null, false);
        };
    }

    /**
     * Reads (and drops) what is left of a refused body, up to {@link #DRAIN_LIMIT}, so that a client still
     * uploading reads the 413 instead of a connection reset. Beyond that the connection is simply closed.
     */
    private static void drain(Context ctx) {
        try {
            java.io.InputStream in = ctx.req().getInputStream();
            byte[] buffer = new byte[64 * 1024];
            long total = 0;
            for (int n; total < DRAIN_LIMIT && (n = in.read(buffer)) > 0; ) total += n;
        } catch (java.io.IOException | RuntimeException ignored) {
            // already read, or the client is gone
        }
    }

    private static final long DRAIN_LIMIT = 64L << 20;

    public static ObjectNode body(ObjectMapper json, ApiException e) {
        ObjectNode root = json.createObjectNode();
        ObjectNode error = root.putObject("error");
        error.put("message", e.getMessage());
        error.put("type", e.type());
        if (e.param() == null) error.putNull("param");
        else error.put("param", e.param());
        if (e.code() == null) error.putNull("code");
        else error.put("code", e.code());
        return root;
    }

    /** Writes the error response (status, headers, body). */
    public static void respond(Context ctx, ObjectMapper json, Throwable t) {
        ApiException e = toApi(t);
        ctx.attribute(WRITTEN, true);
        ctx.status(e.status());
        if (e.retryAfterSeconds() != null) ctx.header("Retry-After", String.valueOf(e.retryAfterSeconds()));
        if (e.shouldRetry() != null) ctx.header("x-should-retry", String.valueOf(e.shouldRetry()));
        if (e.status() == 413) {
            ctx.header("Connection", "close");
            drain(ctx);
        }
        try {
            ctx.contentType("application/json").result(json.writeValueAsBytes(body(json, e)));
        } catch (com.fasterxml.jackson.core.JsonProcessingException ex) {
            ctx.result("{\"error\":{\"message\":\"internal error\",\"type\":\"server_error\",\"param\":null,\"code\":null}}");
        }
    }
}
