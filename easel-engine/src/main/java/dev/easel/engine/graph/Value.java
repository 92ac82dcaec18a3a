package dev.easel.engine.graph;

/** A named value in a graph under construction: an input, a weight, or a node's output. */
public record Value(String name) {
}
