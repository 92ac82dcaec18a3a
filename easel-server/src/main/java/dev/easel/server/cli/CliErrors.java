package dev.easel.server.cli;

import dev.easel.diffusion.pipeline.InvalidRequestException;
import picocli.CommandLine;

import java.io.UncheckedIOException;
import java.nio.file.AccessDeniedException;
import java.nio.file.NoSuchFileException;

/** Turns exceptions into the one-line messages the CLI prints: never a stack trace. */
final class CliErrors {
    private CliErrors() {
    }

    static String describe(Throwable e) {
        if (e instanceof UncheckedIOException u && u.getCause() != null) {
            if (u.getCause() instanceof NoSuchFileException missing) return "no such file: " + missing.getFile();
            if (u.getCause() instanceof AccessDeniedException denied) return "permission denied: " + denied.getFile();
            String cause = u.getCause().getMessage() == null ? u.getCause().getClass().getSimpleName() : u.getCause().getMessage();
            return u.getMessage() == null || u.getMessage().equals(u.getCause().toString()) ? cause : u.getMessage() + ": " + cause;
        }
        String message = e.getMessage();
        if (message == null || message.isBlank()) return e.getClass().getSimpleName();
        if (e instanceof InvalidRequestException invalid && invalid.param() != null) {
            return optionFor(invalid.param()) + ": " + message;
        }
        return message;
    }

    /** The command-line option of a request field ({@link InvalidRequestException#param()}). */
    static String optionFor(String param) {
        return switch (param) {
            case "n" -> "-n";
            case "negative_prompt" -> "--negative-prompt";
            default -> "--" + param.replace('_', '-');
        };
    }

    /**
     * Bad command-line input (picocli's own checks and ours): "error: ..." on one line and the usage exit code;
     * the full usage is one {@code --help} away rather than printed under the message.
     */
    static int parameterError(CommandLine.ParameterException e, String[] args) {
        CommandLine cli = e.getCommandLine();
        String hint = "";
        if (e instanceof CommandLine.UnmatchedArgumentException unmatched && !unmatched.getSuggestions().isEmpty()) {
            hint = " (did you mean " + String.join(" or ", unmatched.getSuggestions()) + "?)";
        } else if (e instanceof CommandLine.UnmatchedArgumentException || e instanceof CommandLine.MissingParameterException) {
            hint = " (see '" + cli.getCommandSpec().qualifiedName() + " --help')";
        }
        cli.getErr().println("error: " + e.getMessage() + hint);
        cli.getErr().flush();
        return cli.getCommandSpec().exitCodeOnInvalidInput();
    }
}
