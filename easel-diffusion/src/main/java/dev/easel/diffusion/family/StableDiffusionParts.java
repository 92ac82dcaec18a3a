package dev.easel.diffusion.family;

import dev.easel.diffusion.model.clip.ClipTextConfig;
import dev.easel.diffusion.model.clip.ClipTextEncoder;
import dev.easel.diffusion.model.unet.UNetConfig;
import dev.easel.diffusion.model.unet.UNetDenoiser;
import dev.easel.diffusion.model.vae.VaeCodec;
import dev.easel.diffusion.model.vae.VaeConfig;
import dev.easel.diffusion.pipeline.ModelDefaults;
import dev.easel.diffusion.scheduler.SamplerKind;
import dev.easel.diffusion.scheduler.SchedulerSettings;
import dev.easel.diffusion.tokenizer.ClipTokenizer;
import dev.easel.engine.runtime.RuntimeOptions;
import dev.easel.engine.weights.WeightSource;

import java.util.List;
import java.util.function.Function;

/**
 * A Stable Diffusion checkpoint (1.x or XL, single file or diffusers folder) opened for building models: each
 * component's configuration and its weights under canonical names, the text encoders with their tokenizers, the
 * scheduler settings and the recipe. Nothing is loaded into memory until a {@code load...} method is called; the
 * families assemble pipelines from these, and the bench times the same components.
 */
public final class StableDiffusionParts implements AutoCloseable {

    /**
     * One CLIP text encoder: its component name ({@code text_encoder}, {@code text_encoder_2}), tokenizer, the id
     * its prompts are padded with, and configuration.
     */
    public record TextEncoder(String component, ClipTokenizer tokenizer, int padId, ClipTextConfig config) {
    }

    private final List<TextEncoder> textEncoders;
    private final UNetConfig unet;
    private final VaeConfig vae;
    private final Function<SamplerKind, SchedulerSettings> samplers;
    private final ModelDefaults defaults;
    private final Function<String, WeightSource> weights;
    private final Owned owned;

    /**
     * @param weights a component's weights by name; the caller closes each (a view over a single file closes nothing)
     * @param owned   what closing these parts closes (the single file), or nothing
     */
    StableDiffusionParts(List<TextEncoder> textEncoders, UNetConfig unet, VaeConfig vae,
                         Function<SamplerKind, SchedulerSettings> samplers, ModelDefaults defaults,
                         Function<String, WeightSource> weights, Owned owned) {
        this.textEncoders = List.copyOf(textEncoders);
        this.unet = unet;
        this.vae = vae;
        this.samplers = samplers;
        this.defaults = defaults;
        this.weights = weights;
        this.owned = owned;
    }

    /** The text encoders in conditioning order (CLIP-L first). */
    public List<TextEncoder> textEncoders() {
        return textEncoders;
    }

    public UNetConfig unet() {
        return unet;
    }

    public VaeConfig vae() {
        return vae;
    }

    public Function<SamplerKind, SchedulerSettings> samplers() {
        return samplers;
    }

    public ModelDefaults defaults() {
        return defaults;
    }

    /**
     * The weights of {@code text_encoder}, {@code text_encoder_2}, {@code unet} or {@code vae}, under canonical names.
     * The caller closes the result and uses it while these parts are open.
     */
    public WeightSource weights(String component) {
        return weights.apply(component);
    }

    public UNetDenoiser loadUNet(RuntimeOptions options) {
        try (WeightSource w = weights("unet")) {
            return new UNetDenoiser(unet, w, options);
        }
    }

    public VaeCodec loadVae(RuntimeOptions options) {
        try (WeightSource w = weights("vae")) {
            return new VaeCodec(vae, w, options);
        }
    }

    public ClipTextEncoder loadTextEncoder(TextEncoder encoder, RuntimeOptions options) {
        try (WeightSource w = weights(encoder.component())) {
            return new ClipTextEncoder(encoder.tokenizer(), encoder.padId(), encoder.config(), w, encoder.component(), options);
        }
    }

    @Override
    public void close() {
        owned.close();
    }
}
