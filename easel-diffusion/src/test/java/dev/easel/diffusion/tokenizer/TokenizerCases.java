package dev.easel.diffusion.tokenizer;

import com.fasterxml.jackson.databind.JsonNode;
import dev.easel.diffusion.fixtures.FixtureCase;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/**
 * The tokenizer conformance texts of the fixtures ({@code tokenizers/cases.json}): each text with the ids
 * the reference tokenizers give (CLIP-L, CLIP-G at 77; T5 at 256 and 512).
 */
record TokenizerCases(Path file, List<Case> cases) {
    static final String RELATIVE_PATH = "tokenizers/cases.json";

    /** One text and its reference ids; an array the file lacks is null. */
    record Case(int index, String text, int[] clipL, int[] clipG, int[] t5At256, int[] t5At512) {
        /** A short, readable form of the text for test names: invisible characters escaped, long texts cut. */
        String shortName() {
            StringBuilder b = new StringBuilder("#").append(index).append(" \"");
            int shown = 0;
            for (int i = 0; i < text.length() && shown < 40; shown++) {
                int cp = text.codePointAt(i);
                i += Character.charCount(cp);
                if (isVisible(cp)) b.appendCodePoint(cp);
                else if (cp == '\n') b.append("\\n");
                else if (cp == '\t') b.append("\\t");
                else if (cp == '\r') b.append("\\r");
                else b.append(String.format("\\u%04x", cp));
            }
            b.append(shown < text.codePointCount(0, text.length()) ? "…\"" : "\"");
            return b.toString();
        }

        private static boolean isVisible(int cp) {
            if (cp == ' ') return true;
            return switch (Character.getType(cp)) {
                case Character.CONTROL, Character.FORMAT, Character.SURROGATE, Character.PRIVATE_USE,
                     Character.UNASSIGNED, Character.SPACE_SEPARATOR, Character.LINE_SEPARATOR,
                     Character.PARAGRAPH_SEPARATOR, Character.NON_SPACING_MARK, Character.ENCLOSING_MARK -> false;
                default -> true;
            };
        }
    }

    /** The fixtures' conformance file, if the fixtures directory has one. */
    static Optional<TokenizerCases> fromFixtures() {
        Path file = FixtureCase.root().resolve(RELATIVE_PATH);
        return Files.isRegularFile(file) ? Optional.of(read(file)) : Optional.empty();
    }

    static TokenizerCases read(Path file) {
        JsonNode cases = FixtureCase.readJson(file).path("cases");
        List<Case> out = new ArrayList<>();
        for (JsonNode c : cases) {
            JsonNode text = c.get("text");
            if (text == null || !text.isTextual()) throw new IllegalStateException(file + ": case " + out.size() + " has no text");
            out.add(new Case(out.size(), text.asText(), ids(c, "clip_l"), ids(c, "clip_g"), ids(c, "t5_256"), ids(c, "t5_512")));
        }
        return new TokenizerCases(file, List.copyOf(out));
    }

    private static int[] ids(JsonNode c, String key) {
        JsonNode array = c.get(key);
        if (array == null || !array.isArray()) return null;
        int[] ids = new int[array.size()];
        for (int i = 0; i < ids.length; i++) ids[i] = array.get(i).intValue();
        return ids;
    }
}
