package dev.easel.diffusion.family;

/** What a set of opened model parts closes when it is closed (the files it opened), without checked exceptions. */
@FunctionalInterface
interface Owned extends AutoCloseable {
    Owned NOTHING = () -> {
    };

    @Override
    void close();
}
