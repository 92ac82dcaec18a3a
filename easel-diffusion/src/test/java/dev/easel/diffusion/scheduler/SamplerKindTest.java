package dev.easel.diffusion.scheduler;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class SamplerKindTest {

    @ParameterizedTest
    @CsvSource({
            "euler, EULER",
            "Euler, EULER",
            "k_euler, EULER",
            "euler_a, EULER_A",
            "Euler a, EULER_A",
            "euler_ancestral, EULER_A",
            "euler-ancestral, EULER_A",
            "k_euler_ancestral, EULER_A",
            "ddim, DDIM",
            "DDIM, DDIM",
            "dpmpp_2m_karras, DPMPP_2M_KARRAS",
            "DPM++ 2M Karras, DPMPP_2M_KARRAS",
            "dpm++_2m_karras, DPMPP_2M_KARRAS",
            "dpmpp_2m, DPMPP_2M",
            "DPM++ 2M, DPMPP_2M",
            "flow_euler, FLOW_EULER",
            "FlowMatch Euler, FLOW_EULER",
            "'  euler  ', EULER"
    })
    void parsesTheNamesUsersType(String name, SamplerKind expected) {
        assertThat(SamplerKind.parse(name)).isEqualTo(expected);
    }

    @Test
    void everyKindParsesFromItsApiName() {
        for (SamplerKind kind : SamplerKind.values()) {
            assertThat(SamplerKind.parse(kind.apiName())).isEqualTo(kind);
        }
    }

    @Test
    void unknownNameListsTheAcceptedOnes() {
        assertThatThrownBy(() -> SamplerKind.parse("heun"))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("'heun'")
                .hasMessageContaining("euler_a")
                .hasMessageContaining("dpmpp_2m_karras")
                .hasMessageContaining("flow_euler");
        assertThatThrownBy(() -> SamplerKind.parse("dpmpp_2m_exponential")).isInstanceOf(IllegalArgumentException.class);
    }

    @Test
    void blankOrMissingNameIsRefused() {
        assertThatThrownBy(() -> SamplerKind.parse(null)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("accepted samplers");
        assertThatThrownBy(() -> SamplerKind.parse("  ")).isInstanceOf(IllegalArgumentException.class);
    }
}
