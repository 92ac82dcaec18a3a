package dev.easel.diffusion.model.vae;

import dev.easel.engine.tensor.FloatTensor;

import java.util.HashMap;
import java.util.Map;
import java.util.function.Function;

/**
 * Decodes large latents tile by tile ({@link VaeTiling}) and blends the decoded tiles into one image. Across each
 * overlap the two neighbours' weights are linear ramps that sum to one (tile i fades out as tile i+1 fades in, over
 * the whole overlap, per axis; the 2-D weight is the product), so a difference between neighbours (their GroupNorm
 * statistics differ slightly) turns into a gradient spread over the overlap's 8x pixels instead of a seam. Edges of
 * the image are not faded. Pointwise outputs (the decoder's input after post_quant_conv) are simply put in place.
 */
public final class TiledDecoding {
    private TiledDecoding() {
    }

    /**
     * Where a tile lies, in latents: its box in the image, and its core, the part of the image it alone stands for
     * (the cores of all tiles partition the image: neighbours split their overlap in the middle), relative to the
     * tile's top-left corner.
     */
    public record Tile(int top, int left, int height, int width, int coreTop, int coreLeft, int coreBottom, int coreRight) {
        /** Latent positions in the core. */
        public long coreArea() {
            return (long) (coreBottom - coreTop) * (coreRight - coreLeft);
        }
    }

    /** Decodes one tile. */
    @FunctionalInterface
    public interface TileDecoder {
        Map<String, FloatTensor> decode(FloatTensor latents, Tile tile);
    }

    /** As {@link #decode(FloatTensor, VaeTiling, int, TileDecoder)} with a decoder that needs only the latents. */
    public static Map<String, FloatTensor> decode(FloatTensor latents, VaeTiling tiling, int scale,
                                                  Function<FloatTensor, Map<String, FloatTensor>> decoder) {
        return decode(latents, tiling, scale, (TileDecoder) (z, tile) -> decoder.apply(z));
    }

    /**
     * @param latents  (B, C, h, w) decoder input
     * @param scale    pixels per latent (8 for the SD/SDXL/Flux VAEs)
     * @param decoder  runs the decoder on one tile: {@code image} (B, 3, scale*th, scale*tw) and optionally
     *                 {@code decoder_input} (B, C', th, tw)
     * @return {@code image} blended to (B, 3, scale*h, scale*w), and {@code decoder_input} assembled when the
     *         decoder gives it
     */
    public static Map<String, FloatTensor> decode(FloatTensor latents, VaeTiling tiling, int scale,
                                                  TileDecoder decoder) {
        int batch = (int) latents.dim(0);
        int channels = (int) latents.dim(1);
        int h = (int) latents.dim(2);
        int w = (int) latents.dim(3);
        VaeTiling.Axis rows = tiling.split(h);
        VaeTiling.Axis cols = tiling.split(w);
        int[] rowCuts = coreCuts(rows);
        int[] colCuts = coreCuts(cols);
        float[][] rowWeights = rampWeights(rows, scale);
        float[][] colWeights = rampWeights(cols, scale);

        int outH = h * scale;
        int outW = w * scale;
        float[] sum = null;
        float[] weightSum = new float[outH * outW];
        int outChannels = 0;
        float[] decoderInput = null;
        int decoderInputChannels = 0;
        for (int ty = 0; ty < rows.count(); ty++) {
            for (int tx = 0; tx < cols.count(); tx++) {
                int y0 = rows.starts()[ty];
                int x0 = cols.starts()[tx];
                Tile where = new Tile(y0, x0, rows.tile(), cols.tile(), rowCuts[ty] - y0, colCuts[tx] - x0,
                        rowCuts[ty + 1] - y0, colCuts[tx + 1] - x0);
                Map<String, FloatTensor> out = decoder.decode(crop(latents, y0, x0, rows.tile(), cols.tile()), where);
                FloatTensor image = out.get("image");
                if (sum == null) {
                    outChannels = (int) image.dim(1);
                    sum = new float[batch * outChannels * outH * outW];
                }
                int th = rows.tile() * scale;
                int tw = cols.tile() * scale;
                if (image.dim(2) != th || image.dim(3) != tw) {
                    throw new IllegalStateException("the decoder made " + image + " from a " + rows.tile() + "x" + cols.tile()
                            + " tile; expected " + th + "x" + tw + " pixels");
                }
                float[] wy = rowWeights[ty];
                float[] wx = colWeights[tx];
                float[] px = image.data();
                for (int b = 0; b < batch; b++) {
                    for (int c = 0; c < outChannels; c++) {
                        int tileBase = (b * outChannels + c) * th * tw;
                        int outBase = (b * outChannels + c) * outH * outW;
                        for (int y = 0; y < th; y++) {
                            int outRow = outBase + (y0 * scale + y) * outW + x0 * scale;
                            int tileRow = tileBase + y * tw;
                            for (int x = 0; x < tw; x++) sum[outRow + x] += wy[y] * wx[x] * px[tileRow + x];
                        }
                    }
                }
                for (int y = 0; y < th; y++) {
                    int outRow = (y0 * scale + y) * outW + x0 * scale;
                    for (int x = 0; x < tw; x++) weightSum[outRow + x] += wy[y] * wx[x];
                }
                FloatTensor tileInput = out.get("decoder_input");
                if (tileInput != null) {
                    if (decoderInput == null) {
                        decoderInputChannels = (int) tileInput.dim(1);
                        decoderInput = new float[batch * decoderInputChannels * h * w];
                    }
                    paste(tileInput, decoderInput, decoderInputChannels, h, w, y0, x0);
                }
            }
        }
        int plane = outH * outW;
        for (int i = 0; i < sum.length; i++) sum[i] /= weightSum[i % plane];
        Map<String, FloatTensor> result = new HashMap<>();
        result.put("image", new FloatTensor(new long[]{batch, outChannels, outH, outW}, sum));
        if (decoderInput != null) {
            result.put("decoder_input", new FloatTensor(new long[]{batch, decoderInputChannels, h, w}, decoderInput));
        }
        return result;
    }

    /** Boundaries of the tiles' cores along one axis: 0, the middles of the overlaps, the length. */
    static int[] coreCuts(VaeTiling.Axis axis) {
        int[] cuts = new int[axis.count() + 1];
        for (int i = 1; i < axis.count(); i++) cuts[i] = axis.starts()[i] + axis.overlapAfter(i - 1) / 2;
        cuts[axis.count()] = axis.length();
        return cuts;
    }

    /**
     * Per tile along one axis, the weight of each of its {@code tile * scale} pixels: 1 inside, rising linearly
     * across the overlap with the previous tile and falling across the overlap with the next, so that two
     * neighbours' weights sum to 1 at every overlapping pixel.
     */
    static float[][] rampWeights(VaeTiling.Axis axis, int scale) {
        int pixels = axis.tile() * scale;
        float[][] weights = new float[axis.count()][pixels];
        for (int i = 0; i < axis.count(); i++) {
            int before = i > 0 ? axis.overlapAfter(i - 1) * scale : 0;
            int after = i < axis.count() - 1 ? axis.overlapAfter(i) * scale : 0;
            for (int p = 0; p < pixels; p++) {
                float rise = before > 0 ? Math.min(1f, (p + 0.5f) / before) : 1f;
                float fall = after > 0 ? Math.min(1f, (pixels - p - 0.5f) / after) : 1f;
                weights[i][p] = Math.min(rise, fall);
            }
        }
        return weights;
    }

    private static FloatTensor crop(FloatTensor x, int y0, int x0, int th, int tw) {
        int batch = (int) x.dim(0);
        int channels = (int) x.dim(1);
        int h = (int) x.dim(2);
        int w = (int) x.dim(3);
        if (y0 == 0 && x0 == 0 && th == h && tw == w) return x;
        float[] out = new float[batch * channels * th * tw];
        for (int bc = 0; bc < batch * channels; bc++) {
            for (int y = 0; y < th; y++) {
                System.arraycopy(x.data(), (bc * h + y0 + y) * w + x0, out, (bc * th + y) * tw, tw);
            }
        }
        return new FloatTensor(new long[]{batch, channels, th, tw}, out);
    }

    private static void paste(FloatTensor tile, float[] into, int channels, int h, int w, int y0, int x0) {
        int batch = (int) tile.dim(0);
        int th = (int) tile.dim(2);
        int tw = (int) tile.dim(3);
        for (int bc = 0; bc < batch * channels; bc++) {
            for (int y = 0; y < th; y++) {
                System.arraycopy(tile.data(), (bc * th + y) * tw, into, (bc * h + y0 + y) * w + x0, tw);
            }
        }
    }
}
