package dev.easel.server.catalog;

/** A model that could not be loaded; the message is fit for clients (no paths, no stack). */
public class ModelLoadException extends RuntimeException {
    public ModelLoadException(String message, Throwable cause) {
        super(message, cause);
    }
}
