package dev.easel.diffusion.convert;

import dev.easel.engine.weights.RenamedWeights;
import dev.easel.engine.weights.WeightSource;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/** Single-file checkpoints keep each component under a key prefix; these helpers strip and restore it. */
final class PrefixedKeys {
    private PrefixedKeys() {
    }

    /** The names under {@code prefix}, with the prefix removed. */
    static List<String> under(Set<String> names, String prefix) {
        return names.stream().filter(n -> n.startsWith(prefix)).map(n -> n.substring(prefix.length())).toList();
    }

    static boolean anyUnder(Set<String> names, String prefix) {
        return names.stream().anyMatch(n -> n.startsWith(prefix));
    }

    /** The tensors under {@code prefix}, named without it; {@code view} says what they are in messages. */
    static RenamedWeights strip(WeightSource checkpoint, String prefix, String view) {
        Map<String, String> names = new LinkedHashMap<>();
        for (String stripped : under(checkpoint.names(), prefix)) names.put(stripped, prefix + stripped);
        return new RenamedWeights(checkpoint, view, names, Map.of());
    }

    /** Names the checkpoint and the prefix in errors about stripped names. */
    static String describe(WeightSource checkpoint, String prefix) {
        return prefix.isEmpty() ? checkpoint.location() : checkpoint.location() + " (under '" + prefix + "')";
    }

    /** Puts the prefix back on the values (the checkpoint's names) of a canonical-to-stripped map. */
    static Map<String, String> restore(Map<String, String> canonicalToStripped, String prefix) {
        Map<String, String> out = new LinkedHashMap<>();
        canonicalToStripped.forEach((canonical, stripped) -> out.put(canonical, prefix + stripped));
        return out;
    }
}
