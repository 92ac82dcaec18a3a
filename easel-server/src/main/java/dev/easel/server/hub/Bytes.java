package dev.easel.server.hub;

import java.util.Locale;

/** Sizes as the hub shows them: decimal units. */
public final class Bytes {
    private Bytes() {
    }

    public static String format(long bytes) {
        if (bytes < 0) return "?";
        if (bytes < 1000) return bytes + " B";
        String[] units = {"kB", "MB", "GB", "TB"};
        double v = bytes;
        int u = -1;
        do {
            v /= 1000;
            u++;
        } while (v >= 1000 && u < units.length - 1);
        return String.format(Locale.ROOT, v >= 100 ? "%.0f %s" : v >= 10 ? "%.1f %s" : "%.2f %s", v, units[u]);
    }
}
