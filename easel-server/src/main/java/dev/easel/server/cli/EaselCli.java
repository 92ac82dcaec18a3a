package dev.easel.server.cli;

import picocli.CommandLine;
import picocli.CommandLine.Command;

/** The {@code easel} command. */
@Command(name = "easel", mixinStandardHelpOptions = true, version = "easel 0.1.0",
        description = "Self-hosted, OpenAI-compatible image generation.",
        subcommands = {ServeCommand.class, KeysCommand.class, GenerateCommand.class, BenchCommand.class,
                PullCommand.class, ModelsCommand.class, CacheCommand.class})
public final class EaselCli {

    public static void main(String[] args) {
        System.exit(commandLine().execute(args));
    }

    /** The configured command line; errors print as one clear line, never a stack trace. */
    public static CommandLine commandLine() {
        CommandLine cli = new CommandLine(new EaselCli());
        cli.setExecutionExceptionHandler((e, commandLine, parseResult) -> {
            commandLine.getErr().println("error: " + CliErrors.describe(e));
            return 2;
        });
        cli.setParameterExceptionHandler(CliErrors::parameterError);
        return cli;
    }
}
