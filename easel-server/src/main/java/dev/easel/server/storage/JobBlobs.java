package dev.easel.server.storage;

import dev.easel.diffusion.image.ImageCodec;
import dev.easel.diffusion.image.Mask;
import dev.easel.diffusion.image.RgbImage;

import javax.imageio.ImageIO;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.zip.DeflaterOutputStream;
import java.util.zip.InflaterInputStream;

/**
 * The binary data of a job that travels between nodes through {@code job_data}: an edit's input image and mask as
 * their exact floats (so every node runs the same edit), a finished job's images as PNG (lossless for the 8-bit
 * images every output format is made from), and a streamed preview as the bytes its client receives.
 */
public final class JobBlobs {
    private JobBlobs() {
    }

    /** An edit's inputs. */
    public record Inputs(RgbImage image, Optional<Mask> mask) {
    }

    public static byte[] inputs(RgbImage image, Optional<Mask> mask) {
        return write(out -> {
            writeFloats(out, image.width(), image.height(), image.pixels());
            out.writeBoolean(mask.isPresent());
            if (mask.isPresent()) writeFloats(out, mask.get().width(), mask.get().height(), mask.get().values());
        });
    }

    public static Inputs readInputs(byte[] data) {
        try (DataInputStream in = open(data)) {
            int w = in.readInt();
            int h = in.readInt();
            RgbImage image = new RgbImage(w, h, readFloats(in));
            Optional<Mask> mask = Optional.empty();
            if (in.readBoolean()) {
                int mw = in.readInt();
                int mh = in.readInt();
                mask = Optional.of(new Mask(mw, mh, readFloats(in)));
            }
            return new Inputs(image, mask);
        } catch (IOException e) {
            throw new UncheckedIOException("corrupt job inputs", e);
        }
    }

    public static byte[] images(List<RgbImage> images) {
        return write(out -> {
            out.writeInt(images.size());
            for (RgbImage image : images) {
                byte[] png = ImageCodec.png(image);
                out.writeInt(png.length);
                out.write(png);
            }
        });
    }

    public static List<RgbImage> readImages(byte[] data) {
        try (DataInputStream in = open(data)) {
            int n = in.readInt();
            List<RgbImage> images = new ArrayList<>(n);
            for (int i = 0; i < n; i++) {
                byte[] png = in.readNBytes(in.readInt());
                images.add(ImageCodec.fromBufferedImage(ImageIO.read(new ByteArrayInputStream(png))));
            }
            return images;
        } catch (IOException e) {
            throw new UncheckedIOException("corrupt job images", e);
        }
    }

    /** A streamed preview as its node encoded it (the job's output format), with its place in the stream. */
    public record Preview(int imageIndex, int partialIndex, byte[] encoded) {
    }

    public static byte[] preview(Preview p) {
        return write(out -> {
            out.writeInt(p.imageIndex());
            out.writeInt(p.partialIndex());
            out.writeInt(p.encoded().length);
            out.write(p.encoded());
        });
    }

    public static Preview readPreview(byte[] data) {
        try (DataInputStream in = open(data)) {
            int image = in.readInt();
            int partial = in.readInt();
            return new Preview(image, partial, in.readNBytes(in.readInt()));
        } catch (IOException e) {
            throw new UncheckedIOException("corrupt job preview", e);
        }
    }

    private interface Writer {
        void write(DataOutputStream out) throws IOException;
    }

    private static byte[] write(Writer w) {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        try (DataOutputStream out = new DataOutputStream(new DeflaterOutputStream(bytes))) {
            w.write(out);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return bytes.toByteArray();
    }

    private static DataInputStream open(byte[] data) {
        return new DataInputStream(new InflaterInputStream(new ByteArrayInputStream(data)));
    }

    private static void writeFloats(DataOutputStream out, int w, int h, float[] values) throws IOException {
        out.writeInt(w);
        out.writeInt(h);
        out.writeInt(values.length);
        for (float v : values) out.writeFloat(v);
    }

    private static float[] readFloats(DataInputStream in) throws IOException {
        float[] values = new float[in.readInt()];
        for (int i = 0; i < values.length; i++) values[i] = in.readFloat();
        return values;
    }
}
