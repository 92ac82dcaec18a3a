package dev.easel.server.api;

import io.javalin.http.Context;
import org.eclipse.jetty.ee10.servlet.ServletContextRequest;

/**
 * Tells when the client of a request has gone (connection closed or failed) while the handler is
 * still waiting for its job, so that the job can be cancelled at its next step instead of computing
 * images nobody will read. Jetty reports it through the core request's failure listeners.
 */
final class ClientWatch {

    private ClientWatch() {
    }

    static void onDisconnect(Context ctx, Runnable action) {
        ServletContextRequest request = ServletContextRequest.getServletContextRequest(ctx.req());
        if (request != null) request.addFailureListener(failure -> action.run());
    }
}
