package dev.easel.server.api;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.easel.server.auth.ApiKey;
import dev.easel.server.catalog.ModelEntry;
import dev.easel.server.jobs.JobSpec;

/** A parsed and checked image request, ready to run synchronously or as an async job. */
record PreparedJob(ApiKey key, ModelEntry model, ImageParams params, JobSpec spec, boolean edit) {

    /** The parameters as recorded on the job (input images are left out; {@code has_mask} says if one was sent). */
    ObjectNode paramsJson(ObjectMapper json) {
        ObjectNode o = json.createObjectNode();
        o.put("model", model.id());
        o.put("prompt", spec.prompt());
        if (spec.negativePrompt() != null) o.put("negative_prompt", spec.negativePrompt());
        o.put("n", spec.n());
        o.put("width", spec.width());
        o.put("height", spec.height());
        if (spec.steps() != null) o.put("steps", spec.steps());
        if (spec.guidanceScale() != null) o.put("guidance_scale", spec.guidanceScale());
        if (spec.sampler() != null) o.put("sampler", spec.sampler());
        o.put("seed", spec.seed());
        if (spec.strength() != null) o.put("strength", spec.strength());
        if (edit) o.put("has_mask", spec.mask().isPresent());
        o.put("response_format", params.urlResponse() ? "url" : "b64_json");
        o.put("output_format", params.outputFormat().id());
        o.put("output_compression", params.outputCompression());
        if (spec.user() != null) o.put("user", spec.user());
        return o;
    }
}
