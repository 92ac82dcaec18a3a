package dev.easel.diffusion.convert;

import dev.easel.engine.weights.WeightsException;

import java.nio.file.Path;

/** A readable checkpoint of a kind Easel does not run; the message says what was found and how it was told. */
public class UnsupportedCheckpointException extends WeightsException {

    public UnsupportedCheckpointException(Path path, String found) {
        super(path + ": unsupported checkpoint: " + found);
    }
}
