package dev.easel.diffusion.convert;

import dev.easel.engine.weights.SafetensorsFile;
import dev.easel.engine.weights.WeightSource;
import dev.easel.engine.weights.WeightsException;

import java.nio.file.Path;
import java.util.function.BiFunction;

/**
 * What every single-file checkpoint layout shares: the open file (or a caller's source), the check that a
 * component's prefix is present, and closing. Subclasses name their components and how each is viewed.
 */
abstract class SingleFileCheckpoint implements AutoCloseable {
    private final WeightSource checkpoint;
    private final boolean ownsCheckpoint;
    private final String familyName;

    protected SingleFileCheckpoint(WeightSource checkpoint, boolean ownsCheckpoint, String familyName) {
        this.checkpoint = checkpoint;
        this.ownsCheckpoint = ownsCheckpoint;
        this.familyName = familyName;
    }

    /** Opens {@code file} and builds the layout over it; the file is closed again if that fails. */
    protected static <T extends SingleFileCheckpoint> T open(Path file, BiFunction<WeightSource, Boolean, T> layout) {
        SafetensorsFile checkpoint = SafetensorsFile.open(file);
        try {
            return layout.apply(checkpoint, true);
        } catch (RuntimeException e) {
            checkpoint.close();
            throw e;
        }
    }

    /** The component under {@code prefix}, viewed by {@code view}; an error names the file when none is there. */
    protected WeightSource component(String prefix, String description, BiFunction<WeightSource, String, WeightSource> view) {
        if (!PrefixedKeys.anyUnder(checkpoint.names(), prefix)) {
            throw new WeightsException(checkpoint.location() + ": no " + description + " weights (no tensor named " + prefix
                    + "*): not a complete " + familyName + " checkpoint");
        }
        return view.apply(checkpoint, prefix);
    }

    @Override
    public void close() {
        if (ownsCheckpoint) checkpoint.close();
    }
}
