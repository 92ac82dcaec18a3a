package dev.easel.diffusion.family;

import com.fasterxml.jackson.databind.JsonNode;
import dev.easel.diffusion.convert.DiffusersFolder;
import dev.easel.diffusion.scheduler.DiffusersSchedulerConfig;
import dev.easel.diffusion.scheduler.SamplerKind;
import dev.easel.diffusion.scheduler.SchedulerSettings;

/**
 * A diffusers folder's scheduler: its {@code scheduler_config.json} as settings and the sampler it names, or the
 * family's when the folder has none or names one we do not run (released SD 1.5 folders name PNDM).
 */
record FolderScheduler(SchedulerSettings settings, SamplerKind sampler) {

    static FolderScheduler of(DiffusersFolder folder, SchedulerSettings familySettings) {
        if (folder.components().contains("scheduler")) {
            JsonNode config = folder.config("scheduler");
            String className = config.path("_class_name").asText();
            try {
                return new FolderScheduler(DiffusersSchedulerConfig.settings(className, config),
                        DiffusersSchedulerConfig.samplerKind(className, config));
            } catch (IllegalArgumentException notOneWeRun) {
                // the family's settings apply
            }
        }
        return new FolderScheduler(familySettings, SamplerKind.EULER);
    }
}
