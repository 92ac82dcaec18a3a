package dev.easel.server.api;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.easel.diffusion.image.RgbImage;
import dev.easel.server.image.ImageEncoder;
import dev.easel.server.image.ImageFormat;
import dev.easel.server.jobs.JobResult;
import dev.easel.server.jobs.JobSpec;
import dev.easel.server.storage.UrlImageStore;

import java.time.Clock;
import java.util.Base64;
import java.util.Set;

/** The body of a successful image call, made wherever the job's images are: the node that answers or that ran it. */
final class ResultBodies {
    /** The sizes OpenAI's enums name; others are reported as "auto" where the field is required. */
    static final Set<String> OPENAI_SIZES = Set.of("1024x1024", "1024x1536", "1536x1024");

    private final ObjectMapper json;
    private final UrlImageStore files;
    private final Clock clock;

    ResultBodies(ObjectMapper json, UrlImageStore files, Clock clock) {
        this.json = json;
        this.files = files;
        this.clock = clock;
    }

    /** @param urlBase the links' base for {@code response_format=url}; null for {@code b64_json} */
    ObjectNode body(JobResult r, ImageFormat format, int compression, String urlBase, JobSpec spec, String modelId) {
        ObjectNode body = json.createObjectNode();
        body.put("created", clock.instant().getEpochSecond());
        ArrayNode data = body.putArray("data");
        for (RgbImage image : r.images()) {
            byte[] encoded = ImageEncoder.encode(image, format, compression);
            ObjectNode item = data.addObject();
            if (urlBase != null) {
                UrlImageStore.Stored stored = files.store(encoded, format.id());
                item.put("url", urlBase + "/files/images/" + stored.name());
                item.put("expires_at", stored.expiresAt().getEpochSecond());
            } else {
                item.put("b64_json", Base64.getEncoder().encodeToString(encoded));
            }
            item.put("seed", r.seed());
        }
        body.put("background", "opaque");
        body.put("output_format", format.id());
        String size = spec.width() + "x" + spec.height();
        if (OPENAI_SIZES.contains(size)) body.put("size", size);
        body.set("usage", usage(r, spec));
        // Extensions: everything needed to make the same images again.
        body.put("model", modelId);
        body.put("seed", r.seed());
        body.put("width", spec.width());
        body.put("height", spec.height());
        body.put("steps", r.steps());
        body.put("guidance_scale", r.guidanceScale());
        if (r.sampler() != null) body.put("sampler", r.sampler());
        return body;
    }

    ObjectNode usage(JobResult r, JobSpec spec) {
        ObjectNode u = json.createObjectNode();
        // Token counts are OpenAI's unit; this server meters images, pixels and compute instead.
        u.put("input_tokens", 0);
        u.put("output_tokens", 0);
        u.put("total_tokens", 0);
        ObjectNode details = u.putObject("input_tokens_details");
        details.put("text_tokens", 0);
        details.put("image_tokens", 0);
        u.put("images", r.images().size());
        u.put("pixels", (long) spec.width() * spec.height() * r.images().size());
        u.put("compute_seconds", r.computeMillis() / 1000.0);
        return u;
    }
}
