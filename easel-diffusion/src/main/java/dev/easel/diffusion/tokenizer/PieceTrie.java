package dev.easel.diffusion.tokenizer;

import java.util.Arrays;

/**
 * A character trie over vocabulary pieces, for walking every piece that starts at a text position
 * (shortest first) without building substrings. Edges live in one open-addressing hash table keyed
 * by (node, UTF-16 char).
 */
final class PieceTrie {
    private static final int ROOT = 0;

    private final long[] edgeKeys;
    private final int[] edgeChildren;
    private final int mask;
    private int[] pieceAtNode;
    private int nodes = 1;

    /** A trie with room for pieces of {@code totalChars} characters in all. */
    PieceTrie(int totalChars) {
        int capacity = Integer.highestOneBit(Math.max(16, totalChars * 2 - 1)) << 1;
        edgeKeys = new long[capacity];
        Arrays.fill(edgeKeys, -1);
        edgeChildren = new int[capacity];
        mask = capacity - 1;
        pieceAtNode = new int[Math.max(16, totalChars + 1)];
        Arrays.fill(pieceAtNode, -1);
    }

    /** Adds a piece; a text added twice keeps its first id. */
    void add(String piece, int id) {
        int node = ROOT;
        for (int i = 0; i < piece.length(); i++) {
            int next = child(node, piece.charAt(i));
            if (next < 0) next = addChild(node, piece.charAt(i));
            node = next;
        }
        if (pieceAtNode[node] < 0) pieceAtNode[node] = id;
    }

    static int root() {
        return ROOT;
    }

    /** The node reached from {@code node} by {@code c}, or -1. */
    int child(int node, char c) {
        long key = key(node, c);
        for (int slot = slot(key); ; slot = (slot + 1) & mask) {
            long k = edgeKeys[slot];
            if (k == key) return edgeChildren[slot];
            if (k == -1) return -1;
        }
    }

    /** The id of the piece that ends at {@code node}, or -1. */
    int pieceAt(int node) {
        return pieceAtNode[node];
    }

    private int addChild(int node, char c) {
        long key = key(node, c);
        int slot = slot(key);
        while (edgeKeys[slot] != -1) slot = (slot + 1) & mask;
        int child = nodes++;
        edgeKeys[slot] = key;
        edgeChildren[slot] = child;
        return child;
    }

    private static long key(int node, char c) {
        return ((long) node << 16) | c;
    }

    private int slot(long key) {
        long h = key * 0x9E3779B97F4A7C15L;
        return (int) (h >>> 40) & mask;
    }
}
