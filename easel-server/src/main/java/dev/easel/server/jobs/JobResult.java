package dev.easel.server.jobs;

import dev.easel.diffusion.image.RgbImage;

import java.util.List;

/** The images of a finished job, the seed and recipe they were made with, and the compute they took. */
public record JobResult(List<RgbImage> images, long seed, int steps, float guidanceScale, String sampler,
                        long computeMillis) {
}
