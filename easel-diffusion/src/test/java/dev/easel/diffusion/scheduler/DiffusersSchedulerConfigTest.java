package dev.easel.diffusion.scheduler;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.easel.diffusion.fixtures.FixtureCase;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class DiffusersSchedulerConfigTest {
    private static final ObjectMapper JSON = new ObjectMapper();

    private static JsonNode json(String text) {
        try {
            return JSON.readTree(text.replace('\'', '"'));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    @Test
    void stableDiffusionEulerConfig() {
        JsonNode c = json("{'beta_start': 0.00085, 'beta_end': 0.012, 'beta_schedule': 'scaled_linear',"
                + " 'prediction_type': 'epsilon', 'timestep_spacing': 'leading', 'steps_offset': 1, 'trained_betas': null}");
        SchedulerSettings s = DiffusersSchedulerConfig.settings("EulerDiscreteScheduler", c);
        assertThat(s.prediction()).isEqualTo(Parameterization.EPSILON);
        assertThat(s.betas()).isEqualTo(BetaSchedule.stableDiffusion());
        assertThat(s.spacing()).isEqualTo(TimestepSpacing.LEADING);
        assertThat(s.stepsOffset()).isEqualTo(1);
        assertThat(s.setAlphaToOne()).isFalse();
        assertThat(DiffusersSchedulerConfig.samplerKind("EulerDiscreteScheduler", c)).isEqualTo(SamplerKind.EULER);
    }

    /** Without timestep_spacing each sampler takes its diffusers class default, as from_config does. */
    @Test
    void missingSpacingFallsBackPerSampler() {
        SchedulerSettings s = DiffusersSchedulerConfig.settings("PNDMScheduler",
                json("{'beta_start': 0.00085, 'beta_end': 0.012, 'beta_schedule': 'scaled_linear', 'steps_offset': 1}"));
        assertThat(s.spacing()).isNull();
        assertThat(s.spacingFor(SamplerKind.DDIM)).isEqualTo(TimestepSpacing.LEADING);
        assertThat(s.spacingFor(SamplerKind.EULER_A)).isEqualTo(TimestepSpacing.LINSPACE);
        assertThat(s.spacingFor(SamplerKind.DPMPP_2M)).isEqualTo(TimestepSpacing.LINSPACE);
    }

    @Test
    void dpmSolverKinds() {
        assertThat(DiffusersSchedulerConfig.samplerKind("DPMSolverMultistepScheduler",
                json("{'algorithm_type': 'dpmsolver++', 'use_karras_sigmas': true, 'lambda_min_clipped': '-Infinity'}")))
                .isEqualTo(SamplerKind.DPMPP_2M_KARRAS);
        assertThat(DiffusersSchedulerConfig.samplerKind("DPMSolverMultistepScheduler", json("{}")))
                .isEqualTo(SamplerKind.DPMPP_2M);
    }

    @Test
    void fluxDevConfig() {
        JsonNode c = json("{'shift': 3.0, 'use_dynamic_shifting': true, 'base_shift': 0.5, 'max_shift': 1.15,"
                + " 'base_image_seq_len': 256, 'max_image_seq_len': 4096, 'num_train_timesteps': 1000}");
        SchedulerSettings s = DiffusersSchedulerConfig.settings("FlowMatchEulerDiscreteScheduler", c);
        assertThat(s.prediction()).isEqualTo(Parameterization.FLOW);
        assertThat(s.flowShift()).isEqualTo(new FlowShift(3.0, true, 0.5, 1.15, 256, 4096));
        assertThat(s.strengthRule()).isEqualTo(StrengthRule.ROUND_DOWN_START);
        assertThat(DiffusersSchedulerConfig.samplerKind("FlowMatchEulerDiscreteScheduler", c)).isEqualTo(SamplerKind.FLOW_EULER);
    }

    @ParameterizedTest
    @CsvSource(delimiter = '|', value = {
            "EulerDiscreteScheduler | {'rescale_betas_zero_snr': true} | rescale_betas_zero_snr",
            "DDIMScheduler | {'clip_sample': true} | clip_sample",
            "DDIMScheduler | {'thresholding': true} | thresholding",
            "EulerDiscreteScheduler | {'trained_betas': [0.1, 0.2]} | trained_betas",
            "EulerDiscreteScheduler | {'beta_schedule': 'squaredcos_cap_v2'} | squaredcos_cap_v2",
            "EulerDiscreteScheduler | {'prediction_type': 'sample'} | sample",
            "EulerDiscreteScheduler | {'timestep_spacing': 'karras'} | karras",
            "FlowMatchEulerDiscreteScheduler | {'shift_terminal': 0.1} | shift_terminal"
    })
    void unsupportedSettingsAreNamed(String className, String config, String named) {
        assertThatThrownBy(() -> DiffusersSchedulerConfig.settings(className, json(config)))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining(named);
    }

    @ParameterizedTest
    @CsvSource(delimiter = '|', value = {
            "DPMSolverMultistepScheduler | {'solver_order': 3} | solver_order",
            "DPMSolverMultistepScheduler | {'algorithm_type': 'sde-dpmsolver++'} | algorithm_type",
            "DPMSolverMultistepScheduler | {'solver_type': 'heun'} | solver_type",
            "DPMSolverMultistepScheduler | {'final_sigmas_type': 'sigma_min'} | final_sigmas_type",
            "EulerDiscreteScheduler | {'use_karras_sigmas': true} | use_karras_sigmas",
            "PNDMScheduler | {} | PNDMScheduler",
            "LCMScheduler | {} | LCMScheduler"
    })
    void unsupportedSamplersAreNamed(String className, String config, String named) {
        assertThatThrownBy(() -> DiffusersSchedulerConfig.samplerKind(className, json(config)))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining(named);
    }

    /** Every scheduler_config.json shipped in the fixtures' diffusers folders reads and builds a scheduler. */
    @Test
    void everyFixtureSchedulerConfigReads() throws IOException {
        List<Path> configs;
        try (Stream<Path> files = Files.walk(FixtureCase.root(), 4)) {
            configs = files.filter(p -> p.getFileName().toString().equals("scheduler_config.json")).sorted().toList();
        }
        assumeTrue(!configs.isEmpty(), "no scheduler_config.json (diffusers folder) in " + FixtureCase.root());
        for (Path file : configs) {
            JsonNode c = FixtureCase.readJson(file);
            String className = c.path("_class_name").asText();
            SamplerKind kind = DiffusersSchedulerConfig.samplerKind(className, c);
            SchedulerSettings s = DiffusersSchedulerConfig.settings(className, c).withImageTokens(16);
            Scheduler run = Schedulers.create(kind, s, 4, 1f);
            assertThat(run.stepCount()).as(file.toString()).isEqualTo(4);
            assertThat(run.sigma(4)).as(file.toString()).isZero();
        }
    }
}
