package dev.easel.server.api;

import dev.easel.server.auth.ApiKey;
import dev.easel.server.catalog.ModelEntry;
import dev.easel.server.jobs.JobSpec;
import io.javalin.http.Context;
import io.javalin.http.Handler;

import java.util.Optional;

/** {@code POST /v1/images/generations}: text to image. */
final class ImagesGenerationsRoute implements Handler {
    private final ImageService service;
    private final RequestReader reader;

    ImagesGenerationsRoute(ImageService service, RequestReader reader) {
        this.service = service;
        this.reader = reader;
    }

    @Override
    public void handle(Context ctx) {
        service.run(ctx, prepare(Routes.key(ctx), reader.read(ctx)));
    }

    /** Parses and checks a generation request. */
    PreparedJob prepare(ApiKey key, RequestFields fields) {
        if (!fields.images().isEmpty() || fields.mask().isPresent()) {
            throw ApiException.invalidValue("image", "Images are sent to /v1/images/edits, not /v1/images/generations.");
        }
        ImageParams p = ImageParams.parse(fields, service.config().limits(), false);
        ModelEntry model = service.model(key, p);
        int[] size = service.size(model, p, Optional.empty());
        JobSpec spec = new JobSpec("generations", p.prompt(), p.negativePrompt().orElse(null), size[0], size[1],
                p.steps().orElse(null), p.guidanceScale().orElse(null), p.sampler().orElse(null), service.seed(p), p.n(),
                Optional.empty(), null, Optional.empty(), p.stream() ? p.partialImages() : 0, p.user().orElse(null));
        return new PreparedJob(key, model, p, spec, false);
    }
}
