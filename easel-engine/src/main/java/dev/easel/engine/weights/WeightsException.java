package dev.easel.engine.weights;

import java.nio.file.Path;

/**
 * A weights file or checkpoint cannot be used. The message always names the file (or source) and,
 * where one tensor is at fault, that tensor, so that a user can act on it without a debugger.
 */
public class WeightsException extends RuntimeException {

    public WeightsException(String message) {
        super(message);
    }

    public WeightsException(String message, Throwable cause) {
        super(message, cause);
    }

    public static WeightsException inFile(Path file, String problem) {
        return new WeightsException(file + ": " + problem);
    }

    public static WeightsException inFile(Path file, String problem, Throwable cause) {
        return new WeightsException(file + ": " + problem, cause);
    }

    public static WeightsException forTensor(Object source, String tensor, String problem) {
        return new WeightsException(source + ": tensor '" + tensor + "' " + problem);
    }
}
