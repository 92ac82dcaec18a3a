package dev.easel.server.cli;

import java.nio.file.Path;
import java.time.LocalDateTime;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.assertj.core.api.Assertions.assertThat;

/** The output of {@code easel cache list}, read back: its folder, its entry rows and its total line. */
record CacheListing(Path dir, List<Row> rows, int count, long totalBytes) {
    private static final Pattern ROW = Pattern.compile("^([0-9a-f]{32})\\s+(\\S+)\\s+(\\S+)\\s+([0-9.]+ (?:B|kB|MB|GB))\\s+"
            + "(\\d{4}-\\d\\d-\\d\\d \\d\\d:\\d\\d:\\d\\d)\\s+(\\d{4}-\\d\\d-\\d\\d \\d\\d:\\d\\d:\\d\\d)$");
    private static final Pattern TOTAL = Pattern.compile("^(\\d+) entries, ([0-9.]+ (?:B|kB|MB|GB))$");
    private static final Pattern CLEARED = Pattern.compile("^cleared (.+): ([0-9.]+ (?:B|kB|MB|GB)) freed, (\\d+) entries left$");

    record Row(String key, String component, String graph, long bytes, LocalDateTime lastUsed) {
    }

    /** What {@code easel cache clear} printed: the folder, the bytes freed and the entries left. */
    record Cleared(Path dir, long freedBytes, int left) {
        static Cleared parse(String out) {
            List<String> lines = out.lines().toList();
            assertThat(lines).as(out).hasSize(1);
            Matcher m = CLEARED.matcher(lines.getFirst());
            assertThat(m.matches()).as("clear's line: " + lines.getFirst()).isTrue();
            return new Cleared(Path.of(m.group(1)), bytes(m.group(2)), Integer.parseInt(m.group(3)));
        }
    }

    static CacheListing parse(String out) {
        List<String> lines = out.lines().toList();
        assertThat(lines.size()).as(out).isGreaterThanOrEqualTo(3);
        assertThat(lines.get(1)).as("header").startsWith("KEY").contains("COMPONENT", "SIZE", "LAST USED");
        List<Row> rows = new ArrayList<>();
        for (String line : lines.subList(2, lines.size() - 1)) {
            Matcher m = ROW.matcher(line);
            assertThat(m.matches()).as("entry row: " + line).isTrue();
            rows.add(new Row(m.group(1), m.group(2), m.group(3), bytes(m.group(4)),
                    LocalDateTime.parse(m.group(5).replace(' ', 'T'))));
        }
        Matcher total = TOTAL.matcher(lines.getLast());
        assertThat(total.matches()).as("total line: " + lines.getLast()).isTrue();
        return new CacheListing(Path.of(lines.getFirst()), rows, Integer.parseInt(total.group(1)), bytes(total.group(2)));
    }

    /** "12.3 MB" as bytes (to the precision printed). */
    static long bytes(String size) {
        String[] parts = size.split(" ");
        double unit = switch (parts[1]) {
            case "B" -> 1;
            case "kB" -> 1e3;
            case "MB" -> 1e6;
            case "GB" -> 1e9;
            default -> throw new AssertionError("unit of " + size);
        };
        return Math.round(Double.parseDouble(parts[0]) * unit);
    }

    /** Whether a printed size stands for {@code actual} bytes: within 5% (3 significant digits, or exact bytes). */
    static boolean close(long printed, long actual) {
        return Math.abs(printed - actual) <= 0.05 * actual;
    }
}
