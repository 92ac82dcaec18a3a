package dev.easel.server.hub;

/** A pull that did not complete; the message says why and what to do. Nothing unverified is left as a model. */
public final class PullException extends Exception {
    public PullException(String message) {
        super(message, null, false, false);
    }
}
