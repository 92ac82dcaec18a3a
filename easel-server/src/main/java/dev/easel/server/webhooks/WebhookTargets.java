package dev.easel.server.webhooks;

import java.net.InetAddress;
import java.net.URI;
import java.net.UnknownHostException;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * Which URLs a webhook may be sent to: http(s) only, and no address on a private, loopback, link-local, CGNAT,
 * multicast or unspecified range (a webhook must not reach into the server's own network) unless the operator
 * lists the range in {@code webhooks.allowed-networks}. Checked when a URL is given and again before every delivery,
 * which then connects to exactly the addresses checked ({@link Target}).
 */
public final class WebhookTargets {
    private final List<Cidr> allowed;
    private final Resolver resolver;

    /** How a host name becomes addresses: the system's resolver, or a test's. */
    @FunctionalInterface
    public interface Resolver {
        InetAddress[] resolve(String host) throws UnknownHostException;
    }

    /**
     * A URL that may be called, with the addresses it was checked on: the delivery connects to one of these, never
     * resolving the host again (a DNS answer that changed in between cannot reach a refused address).
     */
    public record Target(URI uri, List<InetAddress> addresses) {
    }

    /** A checked URL: its target, or why it is refused. */
    public record Check(Target target, String refusal) {
    }

    /** @param allowedNetworks comma-separated CIDR ranges ("127.0.0.0/8,::1/128"); empty = none */
    public WebhookTargets(String allowedNetworks) {
        this(allowedNetworks, InetAddress::getAllByName);
    }

    public WebhookTargets(String allowedNetworks, Resolver resolver) {
        this.resolver = resolver;
        this.allowed = new ArrayList<>();
        if (allowedNetworks != null) {
            for (String part : allowedNetworks.split(",")) {
                if (!part.isBlank()) allowed.add(Cidr.parse(part.strip()));
            }
        }
    }

    /** Why the URL is refused, or null when it may be called. Resolves the host name. */
    public String refusal(String url) {
        return check(url).refusal();
    }

    /** Checks a URL: resolves its host once and checks every address it resolves to (all must be allowed). */
    public Check check(String url) {
        URI uri;
        try {
            uri = new URI(url);
        } catch (Exception e) {
            return refused("it is not a valid URL");
        }
        String scheme = uri.getScheme() == null ? "" : uri.getScheme().toLowerCase(Locale.ROOT);
        if (!scheme.equals("http") && !scheme.equals("https")) return refused("only http and https URLs are allowed");
        if (uri.getHost() == null || uri.getHost().isBlank()) return refused("it has no host");
        if (uri.getRawUserInfo() != null) return refused("credentials in the URL are not allowed");
        InetAddress[] addresses;
        try {
            addresses = resolver.resolve(hostName(uri));
        } catch (UnknownHostException e) {
            return refused("its host does not resolve");
        }
        if (addresses == null || addresses.length == 0) return refused("its host does not resolve");
        for (InetAddress a : addresses) {
            if (restricted(a) && allowed.stream().noneMatch(c -> c.contains(a))) {
                return refused("its address " + a.getHostAddress() + " is on a private, loopback or link-local network");
            }
        }
        return new Check(new Target(uri, List.of(addresses)), null);
    }

    /** The URL's host without an IPv6 literal's brackets. */
    static String hostName(URI uri) {
        String h = uri.getHost();
        return h.startsWith("[") && h.endsWith("]") ? h.substring(1, h.length() - 1) : h;
    }

    private static Check refused(String why) {
        return new Check(null, why);
    }

    static boolean restricted(InetAddress a) {
        if (a.isLoopbackAddress() || a.isSiteLocalAddress() || a.isLinkLocalAddress() || a.isAnyLocalAddress()
                || a.isMulticastAddress()) return true;
        byte[] b = a.getAddress();
        if (b.length == 4) {
            int first = b[0] & 0xff;
            int second = b[1] & 0xff;
            return first == 0 || (first == 100 && second >= 64 && second < 128) // CGNAT 100.64/10
                    || (first == 192 && second == 0 && (b[2] & 0xff) == 0) || first >= 240;
        }
        int first = b[0] & 0xff;
        if ((first & 0xfe) == 0xfc) return true; // unique local fc00::/7
        // IPv4-mapped ::ffff:a.b.c.d: judge the IPv4 address
        boolean mapped = true;
        for (int i = 0; i < 10; i++) mapped &= b[i] == 0;
        if (mapped && (b[10] & 0xff) == 0xff && (b[11] & 0xff) == 0xff) {
            try {
                return restricted(InetAddress.getByAddress(java.util.Arrays.copyOfRange(b, 12, 16)));
            } catch (UnknownHostException e) {
                return true;
            }
        }
        return false;
    }

    /** An address range. */
    record Cidr(byte[] network, int bits) {
        static Cidr parse(String text) {
            int slash = text.indexOf('/');
            try {
                InetAddress a = InetAddress.getByName(slash < 0 ? text : text.substring(0, slash));
                int max = a.getAddress().length * 8;
                int bits = slash < 0 ? max : Integer.parseInt(text.substring(slash + 1));
                if (bits < 0 || bits > max) throw new IllegalArgumentException("bad prefix length in " + text);
                return new Cidr(a.getAddress(), bits);
            } catch (UnknownHostException | NumberFormatException e) {
                throw new IllegalArgumentException("webhooks.allowed-networks: '" + text + "' is not a CIDR range");
            }
        }

        boolean contains(InetAddress a) {
            byte[] b = a.getAddress();
            if (b.length != network.length) return false;
            for (int i = 0; i < bits; i++) {
                int mask = 0x80 >> (i % 8);
                if ((b[i / 8] & mask) != (network[i / 8] & mask)) return false;
            }
            return true;
        }
    }
}
