package dev.easel.diffusion.convert;

import dev.easel.engine.weights.SafetensorsFile;
import dev.easel.engine.weights.WeightSource;
import dev.easel.engine.weights.gguf.GgufFile;
import dev.easel.engine.weights.WeightsException;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;
import java.util.Optional;
import java.util.Set;

/**
 * Tells what a checkpoint path holds, a single {@code .safetensors} file or a diffusers folder, before any
 * model is built: the family, which components are there, and why. Only the header of a file is read.
 */
public final class CheckpointInspector {
    /** Python pickles can run arbitrary code when loaded: never opened. */
    private static final Set<String> PICKLE_SUFFIXES = Set.of(".ckpt", ".pt", ".pth", ".bin");

    private CheckpointInspector() {
    }

    /**
     * What separate model part a {@code .safetensors} file holds (a FLUX.1 autoencoder or text encoder), told from its
     * tensor names; empty for anything else, unreadable files included.
     */
    public static Optional<FluxFiles.Component> component(Path path) {
        if (!Files.isRegularFile(path) || !(path.getFileName().toString().endsWith(".safetensors") || FluxFiles.isGguf(path))) {
            return Optional.empty();
        }
        try (WeightSource file = FluxFiles.openFile(path)) {
            return FluxFiles.Component.of(file.names());
        } catch (RuntimeException unreadable) {
            return Optional.empty();
        }
    }

    /**
     * @throws UnsupportedCheckpointException for a readable checkpoint of a kind Easel does not run, naming what was found
     * @throws WeightsException               for a missing, unreadable or malformed one
     */
    public static DetectedCheckpoint inspect(Path path) {
        if (Files.isDirectory(path)) {
            return DiffusersFolderDetector.detect(DiffusersFolder.open(path));
        }
        if (!Files.isRegularFile(path)) {
            throw WeightsException.inFile(path, "does not exist");
        }
        String name = path.getFileName().toString().toLowerCase(Locale.ROOT);
        for (String suffix : PICKLE_SUFFIXES) {
            if (name.endsWith(suffix)) {
                throw new UnsupportedCheckpointException(path, "a PyTorch pickle (" + suffix
                        + "); Easel loads .safetensors only, since loading a pickle can run code");
            }
        }
        if (name.endsWith(".gguf")) {
            // GGUF denoisers Easel runs: FLUX.1 transformers (city96's BFL names, stable-diffusion.cpp's under
            // model.diffusion_model.); a T5 encoder or another model's GGUF is refused by what its tensors show.
            try (GgufFile file = GgufFile.open(path)) {
                if (LlamaT5Names.isT5(file.names())) {
                    throw new UnsupportedCheckpointException(path, "a T5 text encoder (GGUF), not a denoising model; "
                            + "give it with --t5 beside a FLUX.1 transformer");
                }
                return SingleFileDetector.detect(path, file.names().stream().map(file::info).toList());
            }
        }
        try (SafetensorsFile file = SafetensorsFile.open(path)) {
            return SingleFileDetector.detect(path, file.tensors());
        }
    }
}
