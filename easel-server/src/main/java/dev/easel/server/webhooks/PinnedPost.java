package dev.easel.server.webhooks;

import javax.net.ssl.SNIHostName;
import javax.net.ssl.SSLParameters;
import javax.net.ssl.SSLSocket;
import javax.net.ssl.SSLSocketFactory;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * One HTTP/1.1 POST to an address chosen beforehand: the socket connects to one of the {@link WebhookTargets.Target}'s
 * checked addresses (never resolving the host again), while the request carries the URL's host in {@code Host} and,
 * for https, in SNI and the certificate check (the certificate must name the URL's host). Only the status line of
 * the answer is read; redirects are therefore never followed.
 */
final class PinnedPost {
    private static final int MAX_STATUS_LINE = 8192;

    private final SSLSocketFactory tls;

    PinnedPost(SSLSocketFactory tls) {
        this.tls = tls;
    }

    /** Sends the POST and returns the answer's status code. */
    int send(WebhookTargets.Target target, Map<String, String> headers, byte[] body, Duration timeout) throws IOException {
        URI uri = target.uri();
        boolean https = uri.getScheme().equalsIgnoreCase("https");
        int port = uri.getPort() != -1 ? uri.getPort() : https ? 443 : 80;
        String host = WebhookTargets.hostName(uri);
        int millis = (int) Math.min(Integer.MAX_VALUE, Math.max(1, timeout.toMillis()));
        try (Socket socket = connect(target.addresses(), port, millis)) {
            socket.setSoTimeout(millis);
            Socket s = https ? secure(socket, host, port) : socket;
            StringBuilder head = new StringBuilder("POST ").append(path(uri)).append(" HTTP/1.1\r\n")
                    .append("Host: ").append(uri.getHost()).append(uri.getPort() != -1 ? ":" + port : "").append("\r\n");
            for (var h : headers.entrySet()) head.append(h.getKey()).append(": ").append(h.getValue()).append("\r\n");
            head.append("Content-Length: ").append(body.length).append("\r\nConnection: close\r\n\r\n");
            OutputStream out = s.getOutputStream();
            out.write(head.toString().getBytes(StandardCharsets.ISO_8859_1));
            out.write(body);
            out.flush();
            return status(s.getInputStream());
        }
    }

    /** A socket connected to the first of {@code addresses} that answers. */
    private static Socket connect(List<InetAddress> addresses, int port, int millis) throws IOException {
        IOException last = null;
        for (InetAddress a : addresses) {
            Socket socket = new Socket();
            try {
                socket.connect(new InetSocketAddress(a, port), millis);
                return socket;
            } catch (IOException e) {
                socket.close();
                last = e;
            }
        }
        throw last != null ? last : new IOException("no address to connect to");
    }

    /** TLS over the connected socket, for the URL's host: SNI and hostname verification against it. */
    private Socket secure(Socket socket, String host, int port) throws IOException {
        SSLSocket s = (SSLSocket) tls.createSocket(socket, host, port, true);
        SSLParameters p = s.getSSLParameters();
        p.setEndpointIdentificationAlgorithm("HTTPS");
        if (!literal(host)) p.setServerNames(List.of(new SNIHostName(host)));
        s.setSSLParameters(p);
        s.startHandshake();
        return s;
    }

    private static boolean literal(String host) {
        return host.contains(":") || host.matches("[0-9.]+");
    }

    private static String path(URI uri) {
        String path = uri.getRawPath() == null || uri.getRawPath().isEmpty() ? "/" : uri.getRawPath();
        return uri.getRawQuery() == null ? path : path + "?" + uri.getRawQuery();
    }

    /** The code of the status line ("HTTP/1.1 204 No Content"). */
    private static int status(InputStream in) throws IOException {
        ByteArrayOutputStream line = new ByteArrayOutputStream();
        int b;
        while ((b = in.read()) != -1 && b != '\n') {
            if (line.size() >= MAX_STATUS_LINE) throw new IOException("the status line is too long");
            line.write(b);
        }
        String text = line.toString(StandardCharsets.ISO_8859_1).strip();
        String[] parts = text.split(" ", 3);
        if (parts.length < 2 || !parts[0].toUpperCase(Locale.ROOT).startsWith("HTTP/")) {
            throw new IOException("not an HTTP answer: " + (text.length() > 80 ? text.substring(0, 80) : text));
        }
        try {
            return Integer.parseInt(parts[1]);
        } catch (NumberFormatException e) {
            throw new IOException("bad status line: " + text);
        }
    }
}
