package dev.easel.server.api;

import dev.easel.diffusion.image.Mask;
import dev.easel.diffusion.image.RgbImage;
import dev.easel.server.auth.ApiKey;
import dev.easel.server.catalog.ModelEntry;
import dev.easel.server.image.DecodedImage;
import dev.easel.server.image.ImageDecoder;
import dev.easel.server.image.ImageHeader;
import dev.easel.server.image.ImageInput;
import dev.easel.server.jobs.JobSpec;
import io.javalin.http.Context;
import io.javalin.http.Handler;

import java.util.Optional;

/**
 * {@code POST /v1/images/edits}: image to image, with an optional OpenAI mask (RGBA PNG, alpha = 0 where
 * to repaint) and the {@code strength} extension. Images are checked from their headers before decoding.
 */
final class ImagesEditsRoute implements Handler {
    private final ImageService service;
    private final RequestReader reader;
    private final ImageDecoder decoder;

    ImagesEditsRoute(ImageService service, RequestReader reader, ImageDecoder decoder) {
        this.service = service;
        this.reader = reader;
        this.decoder = decoder;
    }

    @Override
    public void handle(Context ctx) {
        service.run(ctx, prepare(Routes.key(ctx), reader.read(ctx)));
    }

    /** Parses, checks and decodes an edit request. */
    PreparedJob prepare(ApiKey key, RequestFields fields) {
        ImageParams p = ImageParams.parse(fields, service.config().limits(), true);
        if (fields.images().isEmpty()) {
            throw ApiException.badRequest("image", "missing_required_parameter", "Missing required parameter: 'image'.");
        }
        ModelEntry model = service.model(key, p);
        if (fields.images().size() > model.maxEditImages()) {
            throw ApiException.invalidValue("image", "The model '" + model.id() + "' takes " + model.maxEditImages()
                    + " input image; " + fields.images().size() + " were sent.");
        }
        byte[] imageBytes = bytes(fields.images().getFirst());
        ImageHeader header = decoder.checkHeader("image", imageBytes);
        Optional<byte[]> maskBytes = fields.mask().map(ImagesEditsRoute::bytes);
        maskBytes.ifPresent(m -> decoder.checkHeader("mask", m));
        int[] size = service.size(model, p, Optional.of(new int[]{header.width(), header.height()}));

        DecodedImage source = decoder.decode("image", imageBytes);
        RgbImage init = source.toRgb(size[0], size[1]);
        Optional<Mask> mask = Optional.empty();
        if (maskBytes.isPresent()) {
            DecodedImage m = decoder.decode("mask", maskBytes.get());
            if (m.width() != source.width() || m.height() != source.height()) {
                throw ApiException.invalidValue("mask", "The mask is " + m.width() + "x" + m.height()
                        + " but the image is " + source.width() + "x" + source.height() + "; they must be the same size.");
            }
            if (!m.hasAlpha()) {
                throw ApiException.invalidValue("mask", "The mask must be a PNG with an alpha channel: "
                        + "fully transparent pixels (alpha 0) mark the area to edit.");
            }
            mask = Optional.of(m.toOpenAiMask(size[0], size[1]));
        }
        JobSpec spec = new JobSpec("edits", p.prompt(), p.negativePrompt().orElse(null), size[0], size[1],
                p.steps().orElse(null), p.guidanceScale().orElse(null), p.sampler().orElse(null), service.seed(p), p.n(),
                Optional.of(init), p.strength().orElse(null), mask, p.stream() ? p.partialImages() : 0, p.user().orElse(null));
        return new PreparedJob(key, model, p, spec, true);
    }

    private static byte[] bytes(RequestFields.ImagePart part) {
        return part.bytes() != null ? ImageInput.fromPart(part.param(), part.bytes()) : ImageInput.fromText(part.param(), part.text());
    }
}
