package dev.easel.server.api;

import io.javalin.http.Context;
import org.eclipse.jetty.ee10.servlet.ServletContextRequest;
import org.eclipse.jetty.io.EndPoint;
import org.eclipse.jetty.io.SocketChannelEndPoint;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.nio.channels.CancelledKeyException;
import java.nio.channels.ClosedChannelException;
import java.nio.channels.ClosedSelectorException;
import java.nio.channels.SelectionKey;
import java.nio.channels.Selector;
import java.nio.channels.SocketChannel;
import java.util.Iterator;
import java.util.Queue;
import java.util.concurrent.ConcurrentLinkedQueue;

/**
 * Notices when the client of a waiting request closes its connection, so its job is cancelled at the
 * next step instead of computing images nobody will read.
 *
 * <p>While a handler blocks on its job, Jetty does not read the connection (its request body is done),
 * so it learns of a close only when it writes the answer. This watcher registers the request's socket
 * with a selector of its own for readability: a closed (or reset) connection becomes readable with
 * nothing to read. Readable with bytes waiting is a pipelined next request: left alone. Nothing is ever
 * read from the socket here, so Jetty's own reading is untouched.
 */
final class ClientWatch implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(ClientWatch.class);

    private final Selector selector;
    private final Queue<Runnable> changes = new ConcurrentLinkedQueue<>();
    private final Thread thread;
    private volatile boolean running = true;

    ClientWatch() {
        try {
            selector = Selector.open();
        } catch (IOException e) {
            throw new IllegalStateException("cannot open a selector", e);
        }
        thread = Thread.ofPlatform().daemon().name("easel-client-watch").start(this::loop);
    }

    /** A watched request; close it when the request is answered. */
    interface Registration extends AutoCloseable {
        @Override
        void close();
    }

    private final class Watch implements Registration {
        private final SocketChannel channel;
        private final Runnable onGone;
        private SelectionKey key; // selector thread only
        private volatile boolean done;

        private Watch(SocketChannel channel, Runnable onGone) {
            this.channel = channel;
            this.onGone = onGone;
        }

        @Override
        public void close() {
            if (done) return;
            done = true;
            changes.add(() -> {
                if (key != null) key.cancel();
            });
            selector.wakeup();
        }

        private void register() {
            if (done) return;
            try {
                key = channel.register(selector, SelectionKey.OP_READ, this);
            } catch (CancelledKeyException e) {
                // the key of the connection's previous request is cancelled but not yet flushed
                try {
                    selector.selectNow();
                    key = channel.register(selector, SelectionKey.OP_READ, this);
                } catch (IOException | RuntimeException again) {
                    log.debug("cannot watch a connection: {}", again.toString());
                }
            } catch (ClosedChannelException e) {
                gone();
            } catch (RuntimeException e) {
                log.debug("cannot watch a connection: {}", e.toString());
            }
        }

        private void gone() {
            if (done) return;
            done = true;
            try {
                onGone.run();
            } catch (RuntimeException e) {
                log.warn("disconnect action failed", e);
            }
        }
    }

    /** Watches the connection of {@code ctx}; {@code onGone} runs (once) if the client goes away. */
    Registration watch(Context ctx, Runnable onGone) {
        SocketChannel channel = channelOf(ctx);
        if (channel == null || !running) return () -> { };
        Watch w = new Watch(channel, onGone);
        changes.add(w::register);
        selector.wakeup();
        return w;
    }

    private static SocketChannel channelOf(Context ctx) {
        try {
            ServletContextRequest request = ServletContextRequest.getServletContextRequest(ctx.req());
            if (request == null) return null;
            EndPoint endPoint = request.getConnectionMetaData().getConnection().getEndPoint();
            return endPoint instanceof SocketChannelEndPoint socket ? socket.getChannel() : null;
        } catch (RuntimeException e) {
            return null;
        }
    }

    private void loop() {
        while (running) {
            try {
                selector.select();
                for (Runnable change; (change = changes.poll()) != null; ) change.run();
                Iterator<SelectionKey> it = selector.selectedKeys().iterator();
                while (it.hasNext()) {
                    SelectionKey key = it.next();
                    it.remove();
                    Watch w = (Watch) key.attachment();
                    key.cancel();
                    if (w == null || w.done) continue;
                    int waiting;
                    try {
                        waiting = w.channel.socket().getInputStream().available();
                    } catch (IOException | RuntimeException e) {
                        waiting = -1; // reset or closed
                    }
                    if (waiting <= 0) w.gone();
                }
            } catch (ClosedSelectorException e) {
                return;
            } catch (IOException | RuntimeException e) {
                log.warn("client watch failed: {}", e.toString());
            }
        }
    }

    @Override
    public void close() {
        running = false;
        selector.wakeup();
        try {
            thread.join(1000);
            selector.close();
        } catch (IOException | InterruptedException e) {
            log.debug("closing the client watch: {}", e.toString());
        }
    }
}
