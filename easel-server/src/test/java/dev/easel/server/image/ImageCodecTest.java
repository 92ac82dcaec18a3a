package dev.easel.server.image;

import dev.easel.diffusion.image.Mask;
import dev.easel.diffusion.image.RgbImage;
import dev.easel.server.support.TestImages;
import org.junit.jupiter.api.Test;

import java.io.ByteArrayOutputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.Base64;
import java.util.zip.CRC32;
import java.util.zip.Deflater;
import java.util.zip.DeflaterOutputStream;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class ImageCodecTest {
    final ImageDecoder decoder = new ImageDecoder(4096, 4096L * 4096);

    @Test
    void headersGiveTheSizeOfEveryFormat() {
        assertThat(ImageHeader.read(TestImages.png(33, 17, 0))).hasValue(new ImageHeader(ImageFormat.PNG, 33, 17));
        assertThat(ImageHeader.read(TestImages.jpeg(40, 24))).hasValue(new ImageHeader(ImageFormat.JPEG, 40, 24));
        RgbImage img = new RgbImage(30, 20, new float[30 * 20 * 3]);
        assertThat(ImageHeader.read(ImageEncoder.encode(img, ImageFormat.WEBP, 80))).hasValue(new ImageHeader(ImageFormat.WEBP, 30, 20));
        assertThat(ImageHeader.read(ImageEncoder.encode(img, ImageFormat.WEBP, 100))).hasValue(new ImageHeader(ImageFormat.WEBP, 30, 20));
        assertThat(ImageHeader.read("GIF89a....".getBytes())).isEmpty();
        assertThat(ImageHeader.read(new byte[0])).isEmpty();
    }

    @Test
    void aHugeImageIsRefusedFromItsHeaderWithoutDecoding() {
        byte[] header = pngHeaderOnly(10_000, 10_000); // no pixel data at all: decoding would fail differently
        assertThatThrownBy(() -> decoder.decode("image", header))
                .isInstanceOf(ImageRejectedException.class).hasMessageContaining("10000x10000").hasMessageContaining("4096");
    }

    @Test
    void aDecompressionBombIsRefusedBeforeDecoding() throws IOException {
        byte[] bomb = grayscaleBomb(30_000, 30_000); // 900 MP of zeros in about a megabyte
        assertThat(bomb.length).isLessThan(2 << 20);
        long before = usedHeap();
        long t0 = System.nanoTime();
        assertThatThrownBy(() -> decoder.decode("image", bomb)).isInstanceOf(ImageRejectedException.class).hasMessageContaining("30000x30000");
        assertThat((System.nanoTime() - t0) / 1_000_000).isLessThan(500);
        assertThat(usedHeap() - before).isLessThan(64L << 20);
        // also a bomb that stays under the side limit but not the pixel limit
        ImageDecoder strict = new ImageDecoder(8192, 1_000_000);
        assertThatThrownBy(() -> strict.decode("image", grayscaleBomb(2000, 2000))).isInstanceOf(ImageRejectedException.class);
    }

    @Test
    void aJpegWithAHugeFrameIsRefused() {
        byte[] jpeg = {(byte) 0xFF, (byte) 0xD8, (byte) 0xFF, (byte) 0xC0, 0, 11, 8, (byte) 0xEA, 0x60, (byte) 0xEA, 0x60, 1, 1, 0x11, 0};
        assertThatThrownBy(() -> decoder.decode("image", jpeg)).isInstanceOf(ImageRejectedException.class).hasMessageContaining("60000x60000");
    }

    @Test
    void aTruncatedImageIsRefusedCleanly() {
        byte[] png = TestImages.png(64, 64, 0x123456);
        byte[] cut = java.util.Arrays.copyOf(png, png.length / 2);
        assertThatThrownBy(() -> decoder.decode("image", cut)).isInstanceOf(ImageRejectedException.class).hasMessageContaining("could not be decoded");
    }

    @Test
    void decodesAndEncodesEveryOutputFormat() {
        float[] px = new float[16 * 8 * 3];
        for (int i = 0; i < px.length; i++) px[i] = (i % 7) / 6f;
        RgbImage img = new RgbImage(16, 8, px);
        for (ImageFormat f : ImageFormat.values()) {
            byte[] bytes = ImageEncoder.encode(img, f, 90);
            assertThat(ImageFormat.sniff(bytes)).hasValue(f);
            DecodedImage back = decoder.decode("image", bytes);
            assertThat(back.width()).isEqualTo(16);
            assertThat(back.height()).isEqualTo(8);
        }
        DecodedImage png = decoder.decode("image", ImageEncoder.encode(img, ImageFormat.PNG, 0));
        RgbImage round = png.toRgb(16, 8);
        for (int i = 0; i < px.length; i++) assertThat(Math.abs(round.pixels()[i] - px[i])).isLessThan(0.5f / 255 + 1e-6f);
        assertThat(ImageEncoder.encode(img, ImageFormat.JPEG, 10).length).isLessThan(ImageEncoder.encode(img, ImageFormat.JPEG, 95).length);
    }

    @Test
    void base64DataUrlsAndPartsAreAccepted() {
        byte[] png = TestImages.png(8, 8, 0);
        String b64 = Base64.getEncoder().encodeToString(png);
        assertThat(ImageInput.fromText("image", b64)).isEqualTo(png);
        assertThat(ImageInput.fromText("image", "data:image/png;base64," + b64)).isEqualTo(png);
        assertThat(ImageInput.fromText("image", Base64.getUrlEncoder().encodeToString(png))).isEqualTo(png);
        assertThat(ImageInput.fromText("image", Base64.getMimeEncoder().encodeToString(png))).isEqualTo(png);
        assertThat(ImageInput.fromPart("image", png)).isEqualTo(png);
        assertThat(ImageInput.fromPart("image", b64.getBytes(StandardCharsets.US_ASCII))).isEqualTo(png);
        assertThatThrownBy(() -> ImageInput.fromText("image", "http://example.com/a.png")).hasMessageContaining("not fetched");
        assertThatThrownBy(() -> ImageInput.fromText("image", "data:image/png,raw")).hasMessageContaining("base64");
        assertThatThrownBy(() -> ImageInput.fromText("image", "!!!")).hasMessageContaining("not a PNG, JPEG or WebP");
        assertThatThrownBy(() -> ImageInput.fromPart("image", new byte[]{0, 1, 2, (byte) 0xff})).isInstanceOf(ImageRejectedException.class);
    }

    @Test
    void anOpenAiMaskRepaintsWhereAlphaIsZero() {
        DecodedImage mask = decoder.decode("mask", TestImages.mask(16, 16, 4, 4, 12, 8));
        assertThat(mask.hasAlpha()).isTrue();
        Mask m = mask.toOpenAiMask(16, 16);
        assertThat(m.get(5, 6)).isEqualTo(1f);
        assertThat(m.get(0, 0)).isEqualTo(0f);
        assertThat(m.get(10, 6)).isEqualTo(0f);
        Mask half = mask.toOpenAiMask(8, 8);
        assertThat(half.get(2, 3)).isEqualTo(1f);
        assertThat(half.get(6, 6)).isEqualTo(0f);
    }

    @Test
    void transparentPixelsOfAnInputImageAreCompositedOverWhite() {
        DecodedImage img = decoder.decode("image", TestImages.mask(4, 4, 0, 0, 2, 2));
        RgbImage rgb = img.toRgb(4, 4);
        assertThat(rgb.get(0, 0, 0)).isEqualTo(1f); // transparent -> white
        assertThat(rgb.get(3, 3, 0)).isEqualTo(0f); // opaque black stays black
    }

    @Test
    void resizingAveragesInsteadOfAliasing() {
        java.awt.image.BufferedImage stripes = new java.awt.image.BufferedImage(64, 64, java.awt.image.BufferedImage.TYPE_INT_RGB);
        for (int y = 0; y < 64; y++) for (int x = 0; x < 64; x++) stripes.setRGB(x, y, x % 2 == 0 ? 0xffffff : 0);
        RgbImage small = decoder.decode("image", TestImages.write(stripes, "png")).toRgb(16, 16);
        for (float v : small.pixels()) assertThat(v).isBetween(0.35f, 0.65f);
    }

    static long usedHeap() {
        Runtime r = Runtime.getRuntime();
        return r.totalMemory() - r.freeMemory();
    }

    static byte[] pngHeaderOnly(int w, int h) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        out.writeBytes(new byte[]{(byte) 0x89, 'P', 'N', 'G', 0x0d, 0x0a, 0x1a, 0x0a});
        out.writeBytes(chunk("IHDR", ihdr(w, h, 8, 2)));
        out.writeBytes(chunk("IEND", new byte[0]));
        return out.toByteArray();
    }

    /** A valid 1-bit grayscale PNG of zeros: tiny on disk, huge once decoded. */
    static byte[] grayscaleBomb(int w, int h) throws IOException {
        ByteArrayOutputStream idat = new ByteArrayOutputStream();
        try (DeflaterOutputStream z = new DeflaterOutputStream(idat, new Deflater(9))) {
            byte[] row = new byte[1 + (w + 7) / 8];
            for (int y = 0; y < h; y++) z.write(row);
        }
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        out.writeBytes(new byte[]{(byte) 0x89, 'P', 'N', 'G', 0x0d, 0x0a, 0x1a, 0x0a});
        out.writeBytes(chunk("IHDR", ihdr(w, h, 1, 0)));
        out.writeBytes(chunk("IDAT", idat.toByteArray()));
        out.writeBytes(chunk("IEND", new byte[0]));
        return out.toByteArray();
    }

    static byte[] ihdr(int w, int h, int depth, int colorType) {
        ByteArrayOutputStream b = new ByteArrayOutputStream();
        try (DataOutputStream d = new DataOutputStream(b)) {
            d.writeInt(w);
            d.writeInt(h);
            d.writeByte(depth);
            d.writeByte(colorType);
            d.writeByte(0);
            d.writeByte(0);
            d.writeByte(0);
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
        return b.toByteArray();
    }

    static byte[] chunk(String type, byte[] data) {
        ByteArrayOutputStream b = new ByteArrayOutputStream();
        try (DataOutputStream d = new DataOutputStream(b)) {
            d.writeInt(data.length);
            byte[] t = type.getBytes(StandardCharsets.US_ASCII);
            d.write(t);
            d.write(data);
            CRC32 crc = new CRC32();
            crc.update(t);
            crc.update(data);
            d.writeInt((int) crc.getValue());
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
        return b.toByteArray();
    }
}
