package dev.easel.server.webhooks;

import com.sun.net.httpserver.HttpServer;
import com.sun.net.httpserver.HttpsConfigurator;
import com.sun.net.httpserver.HttpsServer;
import dev.easel.server.storage.Database;
import dev.easel.server.storage.JobStore;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import javax.net.ssl.KeyManagerFactory;
import javax.net.ssl.SSLContext;
import javax.net.ssl.TrustManagerFactory;
import java.io.InputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.UnknownHostException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyStore;
import java.time.Clock;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * DNS rebinding: the webhook's host is resolved once, every address it resolves to is checked, and the delivery
 * connects to exactly a checked address (Host, SNI and the certificate check still name the URL's host). The resolver
 * here answers an allowed address first and a refused one on any later call, as a rebinding DNS server would.
 */
class WebhookRebindingTest {
    private static final InetAddress ALLOWED = address(127, 0, 0, 1);
    private static final InetAddress REFUSED = address(127, 0, 0, 2);

    private Database db;
    private WebhookSender sender;

    @TempDir
    Path dir;

    @BeforeEach
    void open() {
        db = Database.open(dir);
    }

    @AfterEach
    void close() {
        if (sender != null) sender.close();
        db.close();
    }

    private static InetAddress address(int a, int b, int c, int d) {
        try {
            return InetAddress.getByAddress(new byte[]{(byte) a, (byte) b, (byte) c, (byte) d});
        } catch (UnknownHostException e) {
            throw new IllegalStateException(e);
        }
    }

    /** Answers {@code first} on the first lookup of {@code host}, {@code later} on every other. */
    private static final class Rebinding implements WebhookTargets.Resolver {
        final AtomicInteger calls = new AtomicInteger();
        final String host;
        final InetAddress first;
        final InetAddress later;

        Rebinding(String host, InetAddress first, InetAddress later) {
            this.host = host;
            this.first = first;
            this.later = later;
        }

        @Override
        public InetAddress[] resolve(String name) throws UnknownHostException {
            if (!name.equals(host)) throw new UnknownHostException(name);
            return new InetAddress[]{calls.incrementAndGet() == 1 ? first : later};
        }
    }

    /** A receiver on {@code address}:{@code port} that records the Host header of each request. */
    private static HttpServer receiver(InetAddress address, int port, BlockingQueue<String> hosts) throws Exception {
        HttpServer s = HttpServer.create(new InetSocketAddress(address, port), 0);
        s.createContext("/hook", ex -> {
            hosts.add(ex.getRequestHeaders().getFirst("Host"));
            ex.getRequestBody().readAllBytes();
            ex.sendResponseHeaders(204, -1);
            ex.close();
        });
        s.start();
        return s;
    }

    @Test
    void aDeliveryConnectsToTheAddressItCheckedNotToASecondAnswer() throws Exception {
        BlockingQueue<String> good = new LinkedBlockingQueue<>();
        BlockingQueue<String> bad = new LinkedBlockingQueue<>();
        HttpServer allowed = receiver(ALLOWED, 0, good);
        int port = allowed.getAddress().getPort();
        HttpServer refused = receiver(REFUSED, port, bad); // the address a second lookup would reach
        try {
            Rebinding dns = new Rebinding("hooks.test", ALLOWED, REFUSED);
            WebhookTargets targets = new WebhookTargets("127.0.0.1/32", dns);
            sender = new WebhookSender(new JobStore(db), targets, 1, 10, Duration.ofSeconds(5), Clock.systemUTC());
            sender.send("job_x", "http://hooks.test:" + port + "/hook", "whsec_" + "A".repeat(32), "{}");

            assertThat(good.poll(10, TimeUnit.SECONDS)).as("delivered to the checked address, Host kept")
                    .isEqualTo("hooks.test:" + port);
            assertThat(bad.poll(300, TimeUnit.MILLISECONDS)).as("the rebound address is never reached").isNull();
            assertThat(dns.calls.get()).as("one lookup per attempt").isEqualTo(1);
            // a second lookup, as the HTTP client used to make, would have answered the refused address
            assertThat(targets.refusal("http://hooks.test:" + port + "/hook")).contains("127.0.0.2");
        } finally {
            allowed.stop(0);
            refused.stop(0);
        }
    }

    @Test
    void aRefusedFirstAnswerIsNeverCalledEvenIfALaterOneWouldPass() throws Exception {
        BlockingQueue<String> received = new LinkedBlockingQueue<>();
        HttpServer allowed = receiver(ALLOWED, 0, received);
        int port = allowed.getAddress().getPort();
        try {
            Rebinding dns = new Rebinding("hooks.test", REFUSED, ALLOWED);
            sender = new WebhookSender(new JobStore(db), new WebhookTargets("127.0.0.1/32", dns), 1, 10,
                    Duration.ofSeconds(5), Clock.systemUTC());
            sender.send("job_y", "http://hooks.test:" + port + "/hook", "whsec_" + "A".repeat(32), "{}");
            assertThat(received.poll(1, TimeUnit.SECONDS)).isNull();
            assertThat(dns.calls.get()).isEqualTo(1);
        } finally {
            allowed.stop(0);
        }
    }

    @Test
    void httpsKeepsTheUrlsHostForSniAndTheCertificateWhileConnectingToTheCheckedAddress() throws Exception {
        Path store = dir.resolve("hook.p12");
        char[] pass = "changeit".toCharArray();
        Process keytool = new ProcessBuilder(Path.of(System.getProperty("java.home"), "bin", "keytool").toString(),
                "-genkeypair", "-alias", "hook", "-keyalg", "EC", "-groupname", "secp256r1", "-dname", "CN=hooks.test",
                "-ext", "SAN=dns:hooks.test", "-validity", "2", "-storetype", "PKCS12", "-keystore", store.toString(),
                "-storepass", "changeit", "-keypass", "changeit").redirectErrorStream(true).start();
        keytool.getInputStream().readAllBytes();
        assertThat(keytool.waitFor()).isZero();
        KeyStore keys = KeyStore.getInstance("PKCS12");
        try (InputStream in = Files.newInputStream(store)) {
            keys.load(in, pass);
        }
        KeyManagerFactory kmf = KeyManagerFactory.getInstance(KeyManagerFactory.getDefaultAlgorithm());
        kmf.init(keys, pass);
        TrustManagerFactory tmf = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
        tmf.init(keys);
        SSLContext serverTls = SSLContext.getInstance("TLS");
        serverTls.init(kmf.getKeyManagers(), null, null);
        SSLContext clientTls = SSLContext.getInstance("TLS");
        clientTls.init(null, tmf.getTrustManagers(), null);

        BlockingQueue<String> received = new LinkedBlockingQueue<>();
        HttpsServer server = HttpsServer.create(new InetSocketAddress(ALLOWED, 0), 0);
        server.setHttpsConfigurator(new HttpsConfigurator(serverTls));
        server.createContext("/hook", ex -> {
            received.add(ex.getRequestHeaders().getFirst("Host"));
            ex.getRequestBody().readAllBytes();
            ex.sendResponseHeaders(200, -1);
            ex.close();
        });
        server.start();
        int port = server.getAddress().getPort();
        try {
            WebhookTargets.Resolver loopback = host -> new InetAddress[]{ALLOWED};
            sender = new WebhookSender(new JobStore(db), new WebhookTargets("127.0.0.1/32", loopback), 1, 10,
                    Duration.ofSeconds(5), Clock.systemUTC(), clientTls.getSocketFactory());
            sender.send("job_tls", "https://hooks.test:" + port + "/hook", "whsec_" + "A".repeat(32), "{}");
            assertThat(received.poll(10, TimeUnit.SECONDS)).as("TLS to the IP, verified for the URL's host")
                    .isEqualTo("hooks.test:" + port);

            // the certificate is checked against the URL's host, not the address: another name is refused
            sender.send("job_tls_wrong", "https://other.test:" + port + "/hook", "whsec_" + "A".repeat(32), "{}");
            assertThat(received.poll(1, TimeUnit.SECONDS)).as("no request over a certificate for another name").isNull();
        } finally {
            server.stop(0);
        }
    }
}
