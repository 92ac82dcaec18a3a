package dev.easel.server.image;

/** An input image the server will not decode; {@code param} is the request field it came in. */
public class ImageRejectedException extends RuntimeException {
    private final String param;

    public ImageRejectedException(String param, String message) {
        super(message);
        this.param = param;
    }

    public ImageRejectedException(String param, String message, Throwable cause) {
        super(message, cause);
        this.param = param;
    }

    public String param() {
        return param;
    }
}
