package dev.easel.diffusion.pipeline;

/** A request a model cannot run; {@code param} names the offending field (as the API spells it). */
public class InvalidRequestException extends RuntimeException {
    private final String param;

    public InvalidRequestException(String param, String message) {
        super(message);
        this.param = param;
    }

    public String param() {
        return param;
    }
}
