package dev.easel.server.cli;

import dev.easel.engine.tensor.FloatTensor;

import java.io.PrintWriter;

/** A one-line terminal progress bar: step i/N, iterations per second, time left. */
final class ProgressBar {
    private static final int WIDTH = 30;
    private final PrintWriter out;
    private final long start = System.nanoTime();
    private boolean drawn;

    ProgressBar(PrintWriter out) {
        this.out = out;
    }

    void onStep(int step, int total, FloatTensor latents) {
        double elapsed = (System.nanoTime() - start) / 1e9;
        double rate = step / Math.max(elapsed, 1e-9);
        double eta = (total - step) / rate;
        int filled = (int) Math.round(WIDTH * (double) step / total);
        String speed = rate >= 1 ? String.format("%.2f it/s", rate) : String.format("%.2f s/it", 1 / rate);
        out.printf("\r[%s%s] step %d/%d  %s  ETA %s ", "#".repeat(filled), " ".repeat(WIDTH - filled), step, total,
                speed, formatSeconds(eta));
        out.flush();
        drawn = true;
    }

    void finish() {
        if (drawn) {
            out.printf("  done in %s%n", formatSeconds((System.nanoTime() - start) / 1e9));
            out.flush();
        }
    }

    /** Ends the bar's line when a generation fails part way, so that the error starts on a line of its own. */
    void abort() {
        if (drawn) {
            out.println();
            out.flush();
        }
    }

    private static String formatSeconds(double s) {
        long total = Math.round(s);
        return total >= 60 ? String.format("%dm%02ds", total / 60, total % 60) : String.format("%.1fs", s);
    }
}
