package dev.easel.diffusion.scheduler;

import dev.easel.engine.tensor.FloatTensor;

/**
 * Flux's 2x2 patch packing, for tests: (B, C, H, W) -> (B, H/2 * W/2, 4C) as
 * view(B, C, H/2, 2, W/2, 2).permute(0, 2, 4, 1, 3, 5).
 */
final class FluxPacking {
    private FluxPacking() {
    }

    static FloatTensor pack(FloatTensor x) {
        int b = (int) x.dim(0), c = (int) x.dim(1), h = (int) x.dim(2), w = (int) x.dim(3);
        int hh = h / 2, ww = w / 2;
        float[] in = x.data(), out = new float[in.length];
        int o = 0;
        for (int n = 0; n < b; n++)
            for (int i = 0; i < hh; i++)
                for (int j = 0; j < ww; j++)
                    for (int ch = 0; ch < c; ch++)
                        for (int di = 0; di < 2; di++)
                            for (int dj = 0; dj < 2; dj++)
                                out[o++] = in[((n * c + ch) * h + 2 * i + di) * w + 2 * j + dj];
        return new FloatTensor(new long[] {b, (long) hh * ww, 4L * c}, out);
    }
}
