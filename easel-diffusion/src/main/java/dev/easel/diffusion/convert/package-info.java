/**
 * Checkpoint layouts and families. Inside Easel every component is read under diffusers' (or transformers')
 * names; the classes here tell what a checkpoint is ({@link dev.easel.diffusion.convert.CheckpointInspector})
 * and present the original single-file layouts (LDM/SGM names, prefixes) under those canonical names as
 * zero-copy views ({@link dev.easel.diffusion.convert.StableDiffusionSingleFile},
 * {@link dev.easel.diffusion.convert.LdmUNetNames}, {@link dev.easel.diffusion.convert.LdmVaeNames}), or open
 * diffusers folders as they are ({@link dev.easel.diffusion.convert.DiffusersFolder}).
 */
package dev.easel.diffusion.convert;
