package dev.easel.server.auth;

import java.util.Locale;
import java.util.Optional;

/** Key tiers, lowest first. A key may use the models of its tier and of every tier below. */
public enum Tier {
    FREE, PRO, PREMIUM;

    public String id() {
        return name().toLowerCase(Locale.ROOT);
    }

    public boolean includes(Tier other) {
        return compareTo(other) >= 0;
    }

    public static Optional<Tier> parse(String text) {
        if (text == null) return Optional.empty();
        for (Tier t : values()) {
            if (t.id().equalsIgnoreCase(text.trim())) return Optional.of(t);
        }
        return Optional.empty();
    }
}
