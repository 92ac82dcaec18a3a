package dev.easel.server.storage;

/** A database failure (never shown to clients beyond "internal error"). */
public class StorageException extends RuntimeException {
    public StorageException(String message, Throwable cause) {
        super(message, cause);
    }
}
