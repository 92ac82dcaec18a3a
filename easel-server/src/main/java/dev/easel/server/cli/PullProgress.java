package dev.easel.server.cli;

import dev.easel.server.hub.Bytes;
import dev.easel.server.hub.ModelPuller.PlannedFile;
import dev.easel.server.hub.PullListener;

import java.io.PrintWriter;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * How {@code easel pull} shows its downloads: on a terminal a bar per file (bytes, rate, time left), redrawn in
 * place a few times a second; otherwise (a log, a pipe) one line per file when it is done, resumed or failed.
 */
final class PullProgress implements PullListener {
    private static final int WIDTH = 24;
    private static final long REDRAW_NANOS = 200_000_000L;

    private final PrintWriter out;
    private final boolean terminal;
    private final Map<PlannedFile, Row> rows = new LinkedHashMap<>();
    private long drawnAt;
    private int drawnLines;

    private static final class Row {
        final long start = System.nanoTime();
        long from;
        long done;
        String state = "waiting";
        long finishedAt;
    }

    PullProgress(PrintWriter out, boolean terminal, List<PlannedFile> files) {
        this.out = out;
        this.terminal = terminal;
        files.forEach(f -> rows.put(f, new Row()));
    }

    /** Whether this process writes to a terminal (bars) or to a file or pipe (lines). */
    static boolean onTerminal() {
        java.io.Console c = System.console();
        return c != null && c.isTerminal();
    }

    @Override
    public synchronized void started(PlannedFile f, long from) {
        Row r = rows.get(f);
        r.from = from;
        r.done = from;
        r.state = "";
        if (!terminal && from > 0) line(f.name() + ": resuming after " + Bytes.format(from) + " of " + Bytes.format(f.size()));
        redraw(true);
    }

    @Override
    public synchronized void progress(PlannedFile f, long done) {
        rows.get(f).done = done;
        redraw(false);
    }

    @Override
    public synchronized void retrying(PlannedFile f, int attempt, String reason) {
        if (!terminal) line(f.name() + ": " + reason + "; resuming (retry " + attempt + ")");
        rows.get(f).state = "retry " + attempt;
        redraw(true);
    }

    @Override
    public synchronized void finished(PlannedFile f) {
        Row r = rows.get(f);
        r.done = f.size();
        r.state = "verified";
        r.finishedAt = System.nanoTime();
        if (!terminal) line(f.name() + "  " + Bytes.format(f.size()) + "  verified and in place (" + rate(r) + ")");
        redraw(true);
    }

    @Override
    public synchronized void failed(PlannedFile f, String reason) {
        rows.get(f).state = "failed";
        if (!terminal) line(f.name() + ": failed");
        redraw(true);
    }

    private void line(String s) {
        out.println(s);
        out.flush();
    }

    private void redraw(boolean force) {
        if (!terminal) return;
        long now = System.nanoTime();
        if (!force && now - drawnAt < REDRAW_NANOS) return;
        drawnAt = now;
        StringBuilder sb = new StringBuilder();
        if (drawnLines > 0) sb.append("\033[").append(drawnLines).append('A');
        int nameWidth = rows.keySet().stream().mapToInt(f -> f.name().length()).max().orElse(10);
        rows.forEach((f, r) -> sb.append("\r\033[2K").append(bar(f, r, nameWidth)).append('\n'));
        drawnLines = rows.size();
        out.print(sb);
        out.flush();
    }

    private String bar(PlannedFile f, Row r, int nameWidth) {
        double fraction = f.size() > 0 ? Math.min(1, (double) r.done / f.size()) : 0;
        int filled = (int) Math.round(WIDTH * fraction);
        String eta = "";
        double elapsed = ((r.finishedAt > 0 ? r.finishedAt : System.nanoTime()) - r.start) / 1e9;
        double rate = (r.done - r.from) / Math.max(elapsed, 1e-3);
        if (r.state.isEmpty() && rate > 0) eta = "  ETA " + seconds((f.size() - r.done) / rate);
        return String.format("%-" + nameWidth + "s [%s%s] %3d%%  %s / %s  %s/s%s  %s", f.name(), "#".repeat(filled),
                " ".repeat(WIDTH - filled), Math.round(fraction * 100), Bytes.format(r.done), Bytes.format(f.size()),
                Bytes.format((long) rate), eta, r.state).stripTrailing();
    }

    private static String rate(Row r) {
        double elapsed = (r.finishedAt - r.start) / 1e9;
        return Bytes.format((long) ((r.done - r.from) / Math.max(elapsed, 1e-3))) + "/s";
    }

    private static String seconds(double s) {
        long t = Math.round(s);
        return t >= 3600 ? String.format("%dh%02dm", t / 3600, t % 3600 / 60)
                : t >= 60 ? String.format("%dm%02ds", t / 60, t % 60) : t + "s";
    }
}
