package dev.easel.server.api;

import dev.easel.engine.runtime.WeightMode;
import dev.easel.diffusion.family.ModelFamily;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.easel.server.catalog.ModelCatalog;
import dev.easel.server.catalog.ModelEntry;
import dev.easel.server.hub.ModelDownloads;
import dev.easel.server.jobs.JobScheduler;
import io.javalin.http.Context;

import java.util.HashSet;
import java.util.Optional;
import java.util.Set;

/**
 * {@code GET /v1/models} and {@code GET /v1/models/{id}}: OpenAI's model objects, plus what a caller of
 * this server needs: tier, family, default and allowed sizes, whether the weights are installed, whether
 * the model can run (and why not), whether it is loaded now, and its weight mode (fp32, int8, int4, w8a8).
 */
final class ModelsRoute {
    private final ModelCatalog catalog;
    private final JobScheduler scheduler;
    private final ObjectMapper json;
    private final long created;

    ModelsRoute(ModelCatalog catalog, JobScheduler scheduler, ObjectMapper json, long created) {
        this.catalog = catalog;
        this.scheduler = scheduler;
        this.json = json;
        this.created = created;
    }

    void list(Context ctx) {
        Routes.key(ctx);
        Set<String> loaded = loaded();
        ObjectNode body = json.createObjectNode();
        body.put("object", "list");
        ArrayNode data = body.putArray("data");
        for (ModelEntry m : catalog.all()) data.add(describe(m, loaded));
        ctx.json(body);
    }

    void get(Context ctx) {
        Routes.key(ctx);
        String id = ctx.pathParam("id");
        ModelEntry m = catalog.find(id).orElseThrow(() -> ApiException.notFound("model", "model_not_found",
                "The model '" + id + "' does not exist."));
        ctx.json(describe(m, loaded()));
    }

    /**
     * The weight mode the model runs with: a loaded model's own; else the catalog's {@code weights:}; else the family's
     * rule: fp32, except FLUX.1, which takes int8 at load when its fp32 weights exceed the memory available ("auto").
     */
    private String weights(ModelEntry m) {
        for (var d : scheduler.devices()) {
            Optional<WeightMode> mode = d.cache().loadedWeightMode(m.id());
            if (mode.isPresent()) return mode.get().label();
        }
        if (m.weightMode() != null) return m.weightMode().label();
        return m.familyDescriptor() == ModelFamily.FLUX ? "auto" : WeightMode.FP32.label();
    }

    private Set<String> loaded() {
        Set<String> ids = new HashSet<>();
        scheduler.devices().forEach(d -> ids.addAll(d.cache().loadedIds()));
        return ids;
    }

    private ObjectNode describe(ModelEntry m, Set<String> loaded) {
        ObjectNode o = json.createObjectNode();
        o.put("id", m.id());
        o.put("object", "model");
        o.put("created", created);
        o.put("owned_by", "easel");
        o.put("description", m.description());
        o.put("family", m.family());
        o.put("tier", m.tier().id());
        o.put("default_size", m.defaultSize());
        o.put("min_size", m.minSide());
        o.put("max_size", m.maxSide());
        o.put("size_multiple", m.sizeMultiple());
        if (m.steps() != null) o.put("default_steps", m.steps());
        if (m.guidanceScale() != null) o.put("default_guidance_scale", m.guidanceScale());
        if (m.sampler() != null) o.put("default_sampler", m.sampler());
        o.put("catalogued", m.catalogued());
        o.put("installed", m.installed());
        o.put("available", m.available());
        m.unavailable().ifPresent(r -> o.put("unavailable_reason", r));
        catalog.download(m.id()).filter(d -> d.state() != ModelDownloads.State.DONE).ifPresent(d -> {
            ObjectNode download = o.putObject("download");
            download.put("status", d.state().name().toLowerCase(java.util.Locale.ROOT));
            download.put("bytes", d.bytes());
            if (d.totalBytes() >= 0) download.put("total_bytes", d.totalBytes());
            if (d.totalBytes() > 0) download.put("progress", Math.min(1.0, (double) d.bytes() / d.totalBytes()));
            d.error().ifPresent(e -> download.put("error", e));
        });
        o.put("loaded", loaded.contains(m.id()));
        o.put("weights", weights(m));
        ArrayNode endpoints = o.putArray("endpoints");
        endpoints.add("/v1/images/generations");
        endpoints.add("/v1/images/edits");
        return o;
    }
}
