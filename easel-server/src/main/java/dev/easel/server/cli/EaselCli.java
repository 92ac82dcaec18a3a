package dev.easel.server.cli;

import picocli.CommandLine;
import picocli.CommandLine.Command;

/** {@code easel}: the command line. */
@Command(name = "easel", mixinStandardHelpOptions = true, version = "easel 0.1.0",
        description = "Self-hosted OpenAI-compatible image generation.",
        subcommands = {ServeCommand.class, KeysCommand.class})
public final class EaselCli implements Runnable {

    public static void main(String[] args) {
        System.exit(new CommandLine(new EaselCli()).execute(args));
    }

    @Override
    public void run() {
        new CommandLine(this).usage(System.out);
    }
}
