package dev.easel.diffusion.pipeline;

import dev.easel.diffusion.scheduler.SamplerKind;

import java.util.List;
import java.util.Objects;
import java.util.Optional;

/**
 * What text-to-image requests must share to run as one batch through {@link ImagePipeline#generateBatch}: the
 * latent size, the schedule (steps, sampler) and the guidance (on or off, and its scale, which applies to the
 * whole batch). Prompts, negative prompts, seeds and image counts may differ: they only decide rows of the batch.
 *
 * <p>Guidance off is one key whatever the scale below 1 (it is then never used), and a sampler is keyed by its
 * canonical name, so "Euler a" and "euler_a" batch together.
 *
 * @param guidanceScale the scale when guidance is on, else 0
 */
public record BatchKey(int width, int height, int steps, float guidanceScale, String sampler) {

    /**
     * The request's key, or empty for a request that only runs alone: an edit (image-to-image, inpainting).
     * Edits are not merged: each one brings its own source image, mask and strength (strength changes the
     * number of steps that run), and its draws (the VAE's sample, the start noise, the masked-image draw) are
     * made in the reference pipeline's order for one request; merging them would need a second, rarely used
     * path through the loop for the endpoint that sees the least traffic.
     */
    public static Optional<BatchKey> of(GenerationRequest r) {
        if (r.initImage().isPresent() || r.mask().isPresent()) return Optional.empty();
        return Optional.of(new BatchKey(r.width(), r.height(), r.steps(), r.guidanceScale() > 1f ? r.guidanceScale() : 0f,
                canonicalSampler(r.sampler())));
    }

    /**
     * Checks that the requests can run as one batch: one request always can; several must all be text-to-image
     * with equal keys.
     *
     * @throws IllegalArgumentException naming the first request that does not fit, and why
     */
    public static void requireCompatible(List<GenerationRequest> requests) {
        if (requests.isEmpty()) throw new IllegalArgumentException("a batch needs at least one request");
        if (requests.size() == 1) return;
        BatchKey first = null;
        for (int i = 0; i < requests.size(); i++) {
            Optional<BatchKey> key = of(requests.get(i));
            if (key.isEmpty()) {
                throw new IllegalArgumentException("request " + i + " of the batch is an edit (it has a source image);"
                        + " edits run alone, not in a batch of " + requests.size());
            }
            if (first == null) {
                first = key.get();
            } else if (!first.equals(key.get())) {
                throw new IllegalArgumentException("request " + i + " cannot run in one batch with request 0: "
                        + first.difference(key.get()));
            }
        }
    }

    /** What differs from {@code other}, e.g. {@code "steps differ (20 vs 25)"}. */
    String difference(BatchKey other) {
        StringBuilder sb = new StringBuilder();
        differs(sb, "width", width, other.width);
        differs(sb, "height", height, other.height);
        differs(sb, "steps", steps, other.steps);
        differs(sb, "guidance scale", guidanceScale, other.guidanceScale);
        differs(sb, "sampler", sampler, other.sampler);
        return sb.toString();
    }

    private static void differs(StringBuilder sb, String what, Object a, Object b) {
        if (Objects.equals(a, b)) return;
        if (!sb.isEmpty()) sb.append(", ");
        sb.append(what).append(" differ").append(what.endsWith("s") ? "" : "s").append(" (").append(a).append(" vs ").append(b).append(')');
    }

    private static String canonicalSampler(String name) {
        try {
            return SamplerKind.parse(name).apiName();
        } catch (IllegalArgumentException unknown) {
            return name; // the pipeline rejects it with the list of samplers it knows
        }
    }
}
