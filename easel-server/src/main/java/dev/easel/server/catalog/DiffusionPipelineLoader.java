package dev.easel.server.catalog;

import dev.easel.diffusion.pipeline.ImagePipeline;

import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Method;
import java.nio.file.Path;

/** The real loader: easel-diffusion detects the family and builds its pipeline. */
public final class DiffusionPipelineLoader implements PipelineLoader {

    @Override
    public ImagePipeline load(Path weights) throws Exception {
        // TEMPORARY until dev.easel.diffusion.pipeline.Pipelines lands on main: then a direct call.
        Method load;
        try {
            load = Class.forName("dev.easel.diffusion.pipeline.Pipelines").getMethod("load", Path.class);
        } catch (ClassNotFoundException | NoSuchMethodException e) {
            throw new IllegalStateException("this build has no pipeline loader (dev.easel.diffusion.pipeline.Pipelines)");
        }
        try {
            return (ImagePipeline) load.invoke(null, weights);
        } catch (InvocationTargetException e) {
            if (e.getCause() instanceof Exception cause) throw cause;
            throw e;
        }
    }
}
