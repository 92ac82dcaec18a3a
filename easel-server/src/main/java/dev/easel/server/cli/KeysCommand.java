package dev.easel.server.cli;

import dev.easel.server.auth.ApiKey;
import dev.easel.server.auth.Tier;
import dev.easel.server.config.ConfigException;
import dev.easel.server.storage.ApiKeyStore;
import dev.easel.server.storage.Database;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

import java.io.PrintStream;
import java.time.Clock;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.util.concurrent.Callable;

/** {@code easel keys create|list|revoke}: API keys in the data dir's database. */
@Command(name = "keys", mixinStandardHelpOptions = true,
        description = "Creates, lists and revokes API keys (stored hashed in the data dir).",
        subcommands = {KeysCommand.Create.class, KeysCommand.ListKeys.class, KeysCommand.Revoke.class})
public final class KeysCommand implements Runnable {

    @Override
    public void run() {
        new picocli.CommandLine(this).usage(System.out);
    }

    static ApiKeyStore open(ConfigOptions options, Database[] holder) {
        Database db = Database.open(options.load()); // database.url (shared PostgreSQL) or the data dir's SQLite
        holder[0] = db;
        return new ApiKeyStore(db, Clock.systemUTC());
    }

    @Command(name = "create", mixinStandardHelpOptions = true,
            description = "Creates a key and prints it; the key alone is the last line. It is shown only once.")
    static final class Create implements Callable<Integer> {
        @Mixin
        ConfigOptions options = new ConfigOptions();

        @Option(names = "--tier", required = true, description = "free, pro or premium")
        String tier;

        @Option(names = "--name", required = true, description = "Who or what the key is for")
        String name;

        @Option(names = "--admin", description = "The key may also call the admin endpoints")
        boolean admin;

        @Override
        public Integer call() {
            Tier t = Tier.parse(tier).orElse(null);
            if (t == null) {
                System.err.println("easel keys create: --tier must be free, pro or premium, not '" + tier + "'");
                return 2;
            }
            if (name.isBlank()) {
                System.err.println("easel keys create: --name must not be empty");
                return 2;
            }
            Database[] db = new Database[1];
            try {
                ApiKeyStore.Created created = open(options, db).create(name, t, admin);
                PrintStream out = System.out;
                out.println("Created " + created.key().id() + " (" + created.key().name() + ", " + t.id() + " tier"
                        + (admin ? ", admin" : "") + "). The key is shown only this once:");
                out.println(created.secret());
                out.flush();
                return 0;
            } catch (ConfigException e) {
                System.err.println("easel keys create: " + e.getMessage());
                return 2;
            } finally {
                if (db[0] != null) db[0].close();
            }
        }
    }

    @Command(name = "list", mixinStandardHelpOptions = true, description = "Lists the keys (never their secrets).")
    static final class ListKeys implements Callable<Integer> {
        @Mixin
        ConfigOptions options = new ConfigOptions();

        @Override
        public Integer call() {
            Database[] db = new Database[1];
            try {
                DateTimeFormatter time = DateTimeFormatter.ofPattern("yyyy-MM-dd HH:mm").withZone(ZoneOffset.UTC);
                PrintStream out = System.out;
                out.printf("%-10s %-8s %-6s %-17s %-17s %s%n", "ID", "TIER", "ADMIN", "CREATED (UTC)", "REVOKED (UTC)", "NAME");
                for (ApiKey k : open(options, db).list()) {
                    out.printf("%-10s %-8s %-6s %-17s %-17s %s%n", k.id(), k.tier().id(), k.admin() ? "yes" : "no",
                            time.format(k.createdAt()), k.revokedAt().map(time::format).orElse("-"), k.name());
                }
                return 0;
            } catch (ConfigException e) {
                System.err.println("easel keys list: " + e.getMessage());
                return 2;
            } finally {
                if (db[0] != null) db[0].close();
            }
        }
    }

    @Command(name = "revoke", mixinStandardHelpOptions = true, description = "Revokes a key; it stops working at once.")
    static final class Revoke implements Callable<Integer> {
        @Mixin
        ConfigOptions options = new ConfigOptions();

        @Parameters(paramLabel = "ID", description = "The key's id, as `easel keys list` shows it (key_12)")
        String id;

        @Override
        public Integer call() {
            Database[] db = new Database[1];
            try {
                ApiKeyStore store = open(options, db);
                if (store.find(id).isEmpty()) {
                    System.err.println("easel keys revoke: no key '" + id + "'");
                    return 1;
                }
                boolean revoked = store.revoke(id);
                System.out.println(revoked ? "Revoked " + id + "." : id + " was already revoked.");
                return 0;
            } catch (ConfigException e) {
                System.err.println("easel keys revoke: " + e.getMessage());
                return 2;
            } finally {
                if (db[0] != null) db[0].close();
            }
        }
    }
}
