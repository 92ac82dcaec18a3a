package dev.easel.server.support;

import dev.easel.diffusion.family.ModelFamily;
import dev.easel.diffusion.image.RgbImage;
import dev.easel.diffusion.pipeline.ImagePipeline;
import dev.easel.diffusion.pipeline.ModelDefaults;
import dev.easel.engine.tensor.FloatTensor;

/** A test pipeline that wraps a real one and changes only how it generates; everything else is the real one's. */
public abstract class DelegatingPipeline implements ImagePipeline {

    /** The wrapped pipeline; null until it is loaded. */
    protected abstract ImagePipeline delegate();

    @Override
    public ModelFamily family() {
        return delegate().family();
    }

    @Override
    public ModelDefaults defaults() {
        return delegate().defaults();
    }

    @Override
    public RgbImage preview(FloatTensor latents, int index) {
        return delegate().preview(latents, index);
    }

    @Override
    public long memoryBytes() {
        return delegate().memoryBytes();
    }

    @Override
    public void close() {
        if (delegate() != null) delegate().close();
    }
}
