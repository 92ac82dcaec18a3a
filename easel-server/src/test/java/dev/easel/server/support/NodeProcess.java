package dev.easel.server.support;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * A node in a process of its own (the test classpath in a new JVM), so that a test can kill it as a crash would:
 * {@link #kill} is {@code destroyForcibly}, no shutdown hook, no clean stop. Its fake pipeline takes
 * {@code stepMillis} per step.
 */
public final class NodeProcess implements AutoCloseable {
    private final Process process;
    public final int port;

    private NodeProcess(Process process, int port) {
        this.process = process;
        this.port = port;
    }

    /** Starts a node on {@code databaseUrl} named {@code node}, with {@code settings} as key=value. */
    public static NodeProcess start(String databaseUrl, String node, long stepMillis, String... settings) throws IOException {
        List<String> cmd = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-cp", System.getProperty("java.class.path"), "-Xmx256m", NodeProcess.class.getName(),
                databaseUrl, node, Long.toString(stepMillis)));
        cmd.addAll(List.of(settings));
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        BufferedReader out = new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8));
        StringBuilder seen = new StringBuilder();
        String line;
        while ((line = out.readLine()) != null) {
            if (line.startsWith("EASEL-NODE-PORT ")) {
                int port = Integer.parseInt(line.substring("EASEL-NODE-PORT ".length()).strip());
                Thread.ofPlatform().daemon().start(() -> drain(out));
                return new NodeProcess(p, port);
            }
            seen.append(line).append('\n');
        }
        throw new IllegalStateException("the node process ended before it listened:\n" + seen);
    }

    private static void drain(BufferedReader out) {
        try {
            while (out.readLine() != null) {
                // the node's log is not needed
            }
        } catch (IOException ignored) {
            // the process is gone
        }
    }

    public String baseUrl() {
        return "http://127.0.0.1:" + port;
    }

    /** Kills the process as a crash would. */
    public void kill() throws InterruptedException {
        process.destroyForcibly();
        process.waitFor(30, TimeUnit.SECONDS);
    }

    @Override
    public void close() throws InterruptedException {
        if (process.isAlive()) kill();
    }

    /** The node's main: args = database URL, node name, step millis, then key=value settings. */
    public static void main(String[] args) {
        TestServer.Builder b = TestServer.builder().fakeModel("stable-diffusion-1.5")
                .set("database.url", args[0]).set("jobs.node", args[1]);
        long stepMillis = Long.parseLong(args[2]);
        for (int i = 3; i < args.length; i++) {
            String[] kv = args[i].split("=", 2);
            b.set(kv[0], kv[1]);
        }
        TestServer s = b.loader(path -> new FakePipeline(stepMillis, 1 << 20)).start();
        System.out.println("EASEL-NODE-PORT " + s.server.port());
        System.out.flush();
        try {
            Thread.currentThread().join();
        } catch (InterruptedException e) {
            throw new UncheckedIOException(new IOException(e));
        }
    }
}
