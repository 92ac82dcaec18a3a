package dev.easel.server.hub;

/** The hub refused a file (gated, not found, bad answer): a message for the operator, nothing to retry. */
public final class HubException extends Exception {
    /** Why: the caller words its advice by it. */
    public enum Kind { GATED, NOT_FOUND, DENIED, BAD_ANSWER }

    private final Kind kind;

    public HubException(Kind kind, String message) {
        super(message, null, false, false);
        this.kind = kind;
    }

    public Kind kind() {
        return kind;
    }
}
