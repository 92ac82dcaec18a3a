package dev.easel.diffusion.model.layers;

import dev.easel.engine.graph.GraphBuilder;
import dev.easel.engine.graph.Value;

import java.util.List;

/** diffusers' Downsample2D and Upsample2D (conv variants). */
public final class Resampling {
    private Resampling() {
    }

    /** Strided 3x3 conv with symmetric padding 1 (UNet). */
    public static Value downsample(GraphBuilder g, String prefix, Value x, long channels) {
        return g.conv2d(x, prefix + ".conv", channels, channels, 3, 2, 1);
    }

    /** The VAE encoder's downsampler: pad right and bottom by one, then a strided 3x3 conv without padding. */
    public static Value downsampleAsymmetric(GraphBuilder g, String prefix, Value x, long channels) {
        Value padded = g.op("Pad", List.of(x, g.constantLongs(0, 0, 0, 0, 0, 0, 1, 1)));
        return g.conv2d(padded, prefix + ".conv", channels, channels, 3, 2, 0);
    }

    /** Nearest-neighbour 2x upsampling followed by a 3x3 conv (VAE decoder). */
    public static Value upsample(GraphBuilder g, String prefix, Value x, long channels) {
        return g.conv2d(g.upsampleNearest2x(x), prefix + ".conv", channels, channels, 3, 1, 1);
    }

    /**
     * Nearest-neighbour upsampling to the spatial size of {@code sizeLike} (the UNet's next skip
     * connection), then a 3x3 conv. Equals 2x upsampling when the size is a multiple of the UNet's
     * total downsampling, and keeps odd sizes (any multiple of 8 pixels) working as diffusers does.
     */
    public static Value upsampleTo(GraphBuilder g, String prefix, Value x, Value sizeLike, long channels) {
        Value sizes = g.concat(0, g.op("Shape", List.of(x), "start", 0L, "end", 2L),
                g.op("Shape", List.of(sizeLike), "start", 2L, "end", 4L));
        Value up = g.op("Resize", java.util.Arrays.asList(x, null, null, sizes), "mode", "nearest",
                "coordinate_transformation_mode", "asymmetric", "nearest_mode", "floor");
        return g.conv2d(up, prefix + ".conv", channels, channels, 3, 1, 1);
    }
}
