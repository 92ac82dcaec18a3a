package dev.easel.diffusion.model.vae;

import java.util.Arrays;

/**
 * When and how the VAE decoder runs tile by tile. The decoder's memory grows with the image area (its mid-block
 * attention with the square of it), so latents larger than {@code maxWholeArea} are decoded in overlapping tiles of
 * at most {@code maxTile} x {@code maxTile} latents, blended with linear ramps across the overlaps
 * ({@link TiledDecoding}).
 *
 * <p>A tiled decode is an approximation of the whole one, as in diffusers' and ComfyUI's tiled decoding: each tile's
 * GroupNorms see only that tile's statistics, and pixels near a tile's inner edges see zero padding instead of their
 * neighbours (the decoder's receptive field after the mid block is about 11 latents in SD/SDXL's VAE). The ramps
 * turn the resulting difference between neighbouring tiles into a gradient across the overlap instead of a seam.
 * Measured on the fixtures' random-weight SDXL VAE (a harsh case: untrained convolutions do not attenuate with
 * distance), the relative difference to a whole decode is a few percent on statistically uniform latents and up to
 * ~20% on latents with large-scale structure; image-wide GroupNorm statistics would reduce it several-fold but cost
 * extra decoder passes, which is why they are not used.
 *
 * @param maxWholeArea latents of at most this many positions (height x width) are decoded whole
 * @param maxTile      largest tile side, in latents
 * @param minOverlap   least overlap between neighbouring tiles, in latents
 */
public record VaeTiling(int maxWholeArea, int maxTile, int minOverlap) {
    /**
     * Up to 96x96 latents (768x768 pixels) whole; larger, in tiles of at most 64x64 latents overlapping by at least
     * 8 (64 pixels, ComfyUI's default overlap). SDXL's 1024x1024 becomes 3x3 tiles of 48x48 latents: 27% more decoder
     * work than one 128x128 decode. Measured with the real-size SDXL VAE (random weights, CPU): the whole
     * 1024x1024 decode raised peak RSS by 3.8 GiB, 3x3 tiles of 48 by 0.6 GiB (ONNX Runtime's arena grows in
     * powers of two, so 72x72 tiles already took 2.8 GiB).
     */
    public static final VaeTiling DEFAULT = new VaeTiling(96 * 96, 64, 8);
    /**
     * Memory a whole decode adds per latent position: measured 3.18 GiB for the real-size SDXL VAE (the SD 1.5 and
     * FLUX.1 VAEs have the same widths) at 128x128 latents, i.e. 1024x1024 pixels (easel bench), with half again as
     * margin.
     */
    public static final long WHOLE_DECODE_BYTES_PER_LATENT = (long) (3.18 * (1L << 30) / (128 * 128) * 1.5);

    /**
     * Decode whole whatever fits {@code availableBytes} by {@link #WHOLE_DECODE_BYTES_PER_LATENT} (and never less
     * than {@link #DEFAULT} does), tiles as {@link #DEFAULT} above: with about 5 GiB free, 1024x1024 decodes whole, as
     * the reference pipelines do (tiles change the image: per-tile GroupNorm statistics).
     */
    public static VaeTiling forAvailableMemory(long availableBytes) {
        long whole = Math.max(DEFAULT.maxWholeArea, availableBytes / WHOLE_DECODE_BYTES_PER_LATENT);
        return new VaeTiling((int) Math.min(Integer.MAX_VALUE, whole), DEFAULT.maxTile, DEFAULT.minOverlap);
    }

    /** Always decode whole, whatever the size. */
    public static final VaeTiling NEVER = new VaeTiling(Integer.MAX_VALUE, Integer.MAX_VALUE, 0);

    public VaeTiling {
        if (maxWholeArea < 0) throw new IllegalArgumentException("maxWholeArea must not be negative, got " + maxWholeArea);
        if (minOverlap < 0) throw new IllegalArgumentException("minOverlap must not be negative, got " + minOverlap);
        if (maxTile <= minOverlap) {
            throw new IllegalArgumentException("a tile (" + maxTile + ") must be larger than the overlap (" + minOverlap + ")");
        }
    }

    /** Decode whole at most {@code side x side} latents, tiles as {@link #DEFAULT} otherwise. */
    public static VaeTiling above(int side) {
        return new VaeTiling(side * side, DEFAULT.maxTile, DEFAULT.minOverlap);
    }

    /** Whether latents of this size are decoded in tiles. */
    public boolean tiles(long height, long width) {
        return height * width > maxWholeArea;
    }

    /**
     * How one axis of {@code length} latents is cut: the fewest tiles of at most {@link #maxTile} that overlap by at
     * least {@link #minOverlap}, all of the same (smallest sufficient) size, spread evenly from one edge to the other.
     *
     * @param tile   the tiles' length
     * @param starts each tile's first position, increasing, the first 0 and the last {@code length - tile}
     */
    public record Axis(int length, int tile, int[] starts) {
        public Axis {
            starts = starts.clone();
        }

        @Override
        public int[] starts() {
            return starts.clone();
        }

        public int count() {
            return starts.length;
        }

        /** Overlap, in latents, of tile i with tile i + 1. */
        public int overlapAfter(int i) {
            return starts[i] + tile - starts[i + 1];
        }

        @Override
        public boolean equals(Object o) {
            return o instanceof Axis a && a.length == length && a.tile == tile && Arrays.equals(a.starts, starts);
        }

        @Override
        public int hashCode() {
            return 31 * (31 * length + tile) + Arrays.hashCode(starts);
        }

        @Override
        public String toString() {
            return "Axis[length=" + length + ", tile=" + tile + ", starts=" + Arrays.toString(starts) + "]";
        }
    }

    public Axis split(int length) {
        if (length <= 0) throw new IllegalArgumentException("length must be positive, got " + length);
        if (length <= maxTile) return new Axis(length, length, new int[]{0});
        int n = ceilDiv(length - minOverlap, maxTile - minOverlap);
        int tile = ceilDiv(length + (n - 1) * minOverlap, n);
        int[] starts = new int[n];
        for (int i = 0; i < n; i++) starts[i] = (int) Math.round((double) i * (length - tile) / (n - 1));
        return new Axis(length, tile, starts);
    }

    private static int ceilDiv(int a, int b) {
        return -Math.floorDiv(-a, b);
    }
}
