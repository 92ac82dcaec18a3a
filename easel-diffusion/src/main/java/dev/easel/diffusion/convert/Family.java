package dev.easel.diffusion.convert;

/** The model families Easel runs, as told from a checkpoint's keys and shapes or a diffusers folder's index. */
public enum Family {
    SD15("Stable Diffusion 1.x"),
    SDXL("Stable Diffusion XL"),
    FLUX("FLUX.1");

    private final String displayName;

    Family(String displayName) {
        this.displayName = displayName;
    }

    public String displayName() {
        return displayName;
    }
}
