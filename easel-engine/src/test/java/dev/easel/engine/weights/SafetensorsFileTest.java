package dev.easel.engine.weights;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.io.RandomAccessFile;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class SafetensorsFileTest {
    @TempDir
    Path temp;

    private static Path sd15SingleFile() {
        return Fixtures.singleFile("sd15");
    }

    private static Path diffusersComponentFile(String component) {
        return Fixtures.diffusersComponentFile("sd15", component);
    }

    @Test
    void readsTheSd15SingleFileWithItsNonWeightTensorsSetApart() throws IOException {
        try (SafetensorsFile file = SafetensorsFile.open(sd15SingleFile())) {
            assertThat(file.metadata()).containsEntry("format", "pt");
            assertThat(file.names()).contains("model.diffusion_model.input_blocks.0.0.weight",
                    "first_stage_model.decoder.mid.attn_1.q.weight");
            assertThat(file.names()).doesNotContain("alphas_cumprod",
                    "cond_stage_model.transformer.text_model.embeddings.position_ids");
            assertThat(file.names()).allSatisfy(name -> assertThat(file.info(name).dtype()).isEqualTo(DType.F16));
            assertThat(file.tensors()).hasSize(file.names().size() + 2);

            TensorInfo positions = file.info("cond_stage_model.transformer.text_model.embeddings.position_ids");
            assertThat(positions.dtype()).isEqualTo(DType.I64);
            assertThat(positions.shape()).containsExactly(1, 77);
            MemorySegment ids = file.bytes(positions.name());
            for (int i = 0; i < 77; i++) {
                assertThat(ids.get(ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN), 8L * i)).isEqualTo(i);
            }
        }
    }

    @Test
    void alphasCumprodIsReadableAsFloat32EvenThoughNotAWeight() throws IOException {
        try (SafetensorsFile file = SafetensorsFile.open(sd15SingleFile())) {
            ByteBuffer alphas = file.float32("alphas_cumprod");
            assertThat(alphas.capacity()).isEqualTo(1000 * 4);
            // scaled_linear betas start at 0.00085
            assertThat(alphas.getFloat(0)).isCloseTo(1 - 0.00085f, org.assertj.core.data.Offset.offset(1e-6f));
            for (int i = 1; i < 1000; i++) {
                assertThat(alphas.getFloat(4 * i)).isLessThan(alphas.getFloat(4 * (i - 1)));
            }
        }
    }

    @Test
    void tensorsMatchTheSameTensorsInTheDiffusersFiles() throws IOException {
        record Pair(String singleFileName, String component, String diffusersName) {
        }
        List<Pair> pairs = List.of(
                new Pair("model.diffusion_model.input_blocks.0.0.weight", "unet", "conv_in.weight"),
                new Pair("model.diffusion_model.out.2.bias", "unet", "conv_out.bias"),
                new Pair("first_stage_model.decoder.mid.attn_1.q.weight", "vae", "decoder.mid_block.attentions.0.to_q.weight"),
                new Pair("cond_stage_model.transformer.text_model.embeddings.token_embedding.weight", "text_encoder",
                        "text_model.embeddings.token_embedding.weight"));
        try (SafetensorsFile single = SafetensorsFile.open(sd15SingleFile())) {
            for (Pair p : pairs) {
                try (SafetensorsFile component = SafetensorsFile.open(diffusersComponentFile(p.component()))) {
                    ByteBuffer expected = component.float32(p.diffusersName());
                    ByteBuffer actual = single.float32(p.singleFileName());
                    assertThat(actual).as(p.singleFileName()).isEqualTo(expected);
                    assertThat(single.info(p.singleFileName()).elementCount()).isEqualTo(component.info(p.diffusersName()).elementCount());
                }
            }
        }
    }

    @Test
    void float32BuffersAreNewDirectNativeOrderAndAlignedTo64Bytes() throws IOException {
        try (SafetensorsFile file = SafetensorsFile.open(sd15SingleFile())) {
            String name = "model.diffusion_model.time_embed.0.weight";
            ByteBuffer a = file.float32(name);
            ByteBuffer b = file.float32(name);
            assertThat(a.isDirect()).isTrue();
            assertThat(a.order()).isEqualTo(ByteOrder.nativeOrder());
            assertThat(a.capacity()).isEqualTo(file.info(name).elementCount() * 4);
            assertThat(MemorySegment.ofBuffer(a).address() % 64).isZero();
            assertThat(MemorySegment.ofBuffer(b).address() % 64).isZero();
            assertThat(MemorySegment.ofBuffer(a).address()).isNotEqualTo(MemorySegment.ofBuffer(b).address());
            // the fp16 value decoded independently from the stored bits
            short firstBits = file.bytes(name).get(ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN), 0);
            assertThat(a.getFloat(0)).isEqualTo(Float.float16ToFloat(firstBits));
        }
    }

    @Test
    void missingTensorsIntegerTensorsAndClosedFilesAreNamedInErrors() throws IOException {
        Path path = sd15SingleFile();
        SafetensorsFile file = SafetensorsFile.open(path);
        assertThatThrownBy(() -> file.info("no.such.weight")).isInstanceOf(WeightsException.class)
                .hasMessageContaining(path.toString()).hasMessageContaining("no.such.weight");
        String ids = "cond_stage_model.transformer.text_model.embeddings.position_ids";
        assertThatThrownBy(() -> file.float32(ids)).isInstanceOf(WeightsException.class)
                .hasMessageContaining(ids).hasMessageContaining("I64");
        file.close();
        assertThatThrownBy(() -> file.float32("model.diffusion_model.out.2.bias")).isInstanceOf(WeightsException.class)
                .hasMessageContaining("closed").hasMessageContaining("model.diffusion_model.out.2.bias");
    }

    // ---- crafted bad files: each error names the file and, where one is at fault, the tensor ----

    private static final byte[] SIXTEEN = new byte[16];

    private void assertRejected(Path file, String... fragments) {
        assertThatThrownBy(() -> SafetensorsFile.open(file)).isInstanceOf(WeightsException.class)
                .hasMessageContaining(file.toString())
                .satisfies(e -> assertThat(e.getMessage()).contains(fragments));
    }

    @Test
    void truncatedDataIsRejectedNamingTheLastTensor() throws IOException {
        Path good = temp.resolve("good.safetensors");
        SafetensorsWriter.write(good, List.of(
                new SafetensorsWriter.Entry("first", DType.F32, new long[]{4}, TensorData.floats(DType.F32, 1, 2, 3, 4)),
                new SafetensorsWriter.Entry("last", DType.F32, new long[]{4}, TensorData.floats(DType.F32, 5, 6, 7, 8))));
        byte[] bytes = Files.readAllBytes(good);
        Path cut = Files.write(temp.resolve("cut.safetensors"), java.util.Arrays.copyOf(bytes, bytes.length - 3));
        assertRejected(cut, "'last'", "truncated");
    }

    @Test
    void headerLengthPastTheEndOfTheFileIsRejected() {
        byte[] header = "{}".getBytes(StandardCharsets.UTF_8);
        Path file = CraftedFiles.write(temp.resolve("long.safetensors"), 1000, header, new byte[0]);
        assertRejected(file, "header length 1000");
        Path huge = CraftedFiles.write(temp.resolve("negative.safetensors"), -8, header, new byte[0]);
        assertRejected(huge, "header length " + Long.toUnsignedString(-8));
    }

    @Test
    void fileShorterThanTheLengthFieldIsRejected() throws IOException {
        Path file = Files.write(temp.resolve("tiny.safetensors"), new byte[]{1, 2, 3});
        assertRejected(file, "too short");
    }

    @Test
    void malformedJsonIsRejected() {
        Path file = CraftedFiles.write(temp.resolve("json.safetensors"), "{\"a\": {\"dtype\": \"F32\", ", new byte[0]);
        assertRejected(file, "not valid JSON");
        Path array = CraftedFiles.write(temp.resolve("array.safetensors"), "[1, 2]", new byte[0]);
        assertRejected(array, "not a JSON object");
    }

    @Test
    void overlappingTensorsAreRejectedNamingBoth() {
        Path file = CraftedFiles.write(temp.resolve("overlap.safetensors"),
                "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
                        + "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}", SIXTEEN);
        assertRejected(file, "'b'", "'a'", "overlaps");
    }

    @Test
    void unknownDtypeIsRejectedNamingTensorAndDtype() {
        Path file = CraftedFiles.write(temp.resolve("dtype.safetensors"),
                "{\"weird\":{\"dtype\":\"C64\",\"shape\":[2],\"data_offsets\":[0,16]}}", SIXTEEN);
        assertRejected(file, "'weird'", "C64");
    }

    @Test
    void shapeThatDisagreesWithTheByteLengthIsRejected() {
        Path file = CraftedFiles.write(temp.resolve("shape.safetensors"),
                "{\"w\":{\"dtype\":\"F16\",\"shape\":[3,2],\"data_offsets\":[0,16]}}", SIXTEEN);
        assertRejected(file, "'w'", "[3, 2]", "needs 12 bytes", "span 16");
    }

    @Test
    void duplicateNamesNegativeDimensionsAndBackwardOffsetsAreRejected() {
        Path dup = CraftedFiles.write(temp.resolve("dup.safetensors"),
                "{\"w\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
                        + "\"w\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[8,16]}}", SIXTEEN);
        assertRejected(dup, "Duplicate field 'w'");
        Path negative = CraftedFiles.write(temp.resolve("neg.safetensors"),
                "{\"n\":{\"dtype\":\"F32\",\"shape\":[-2],\"data_offsets\":[0,8]}}", SIXTEEN);
        assertRejected(negative, "'n'", "shape");
        Path backwards = CraftedFiles.write(temp.resolve("back.safetensors"),
                "{\"r\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[8,0]}}", SIXTEEN);
        assertRejected(backwards, "'r'", "end before they begin");
    }

    @Test
    void aFileWithOnlyMetadataHasNoWeights() throws IOException {
        Path file = CraftedFiles.write(temp.resolve("empty.safetensors"), "{\"__metadata__\":{\"format\":\"pt\"}}", new byte[0]);
        try (SafetensorsFile f = SafetensorsFile.open(file)) {
            assertThat(f.names()).isEmpty();
            assertThat(f.metadata()).containsEntry("format", "pt");
        }
    }

    /**
     * A sparse file (no disk blocks for the gap) puts a tensor 3 GiB into the data area, after a U8 tensor
     * of 3 GiB: offsets and tensor sizes past the 2 GiB limit of ByteBuffer must work.
     */
    @Test
    void tensorsBeyondTwoGibibytesAreRead() throws IOException {
        long gap = 3L << 30;
        String header = "{\"filler\":{\"dtype\":\"U8\",\"shape\":[" + gap + "],\"data_offsets\":[0," + gap + "]},"
                + "\"far\":{\"dtype\":\"BF16\",\"shape\":[2,2],\"data_offsets\":[" + gap + "," + (gap + 8) + "]}}";
        byte[] headerBytes = header.getBytes(StandardCharsets.UTF_8);
        Path file = temp.resolve("sparse.safetensors");
        try (RandomAccessFile raf = new RandomAccessFile(file.toFile(), "rw")) {
            ByteBuffer start = ByteBuffer.allocate(8 + headerBytes.length).order(ByteOrder.LITTLE_ENDIAN);
            raf.write(start.putLong(headerBytes.length).put(headerBytes).array());
            long farOffset = 8 + headerBytes.length + gap;
            raf.setLength(farOffset + 8);
            raf.seek(farOffset);
            ByteBuffer far = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN);
            for (short bits : new short[]{0x3F80, (short) 0xC000, 0x4040, 0x0000}) far.putShort(bits); // 1, -2, 3, 0
            raf.write(far.array());
        }
        try (SafetensorsFile f = SafetensorsFile.open(file)) {
            assertThat(f.info("filler").byteLength()).isEqualTo(gap);
            assertThat(f.info("far").byteOffset()).isEqualTo(8 + headerBytes.length + gap);
            assertThat(f.bytes("filler").get(ValueLayout.JAVA_BYTE, gap - 1)).isZero();
            assertThat(f.names()).containsExactly("far");
            ByteBuffer values = f.float32("far");
            assertThat(new float[]{values.getFloat(0), values.getFloat(4), values.getFloat(8), values.getFloat(12)})
                    .containsExactly(1f, -2f, 3f, 0f);
        }
    }
}
