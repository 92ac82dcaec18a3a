package dev.easel.server.cli;

import dev.easel.server.auth.ApiKeySecrets;
import dev.easel.server.auth.Tier;
import dev.easel.server.storage.ApiKeyStore;
import dev.easel.server.storage.Database;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Clock;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

class KeysCommandTest {
    @TempDir
    Path data;

    record Run(int code, String out, String err) {
        List<String> lines() {
            return out.lines().toList();
        }
    }

    Run easel(String... args) {
        PrintStream oldOut = System.out;
        PrintStream oldErr = System.err;
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        try {
            System.setOut(new PrintStream(out, true, StandardCharsets.UTF_8));
            System.setErr(new PrintStream(err, true, StandardCharsets.UTF_8));
            CommandLine cli = EaselCli.commandLine();
            int code = cli.execute(args);
            return new Run(code, out.toString(StandardCharsets.UTF_8), err.toString(StandardCharsets.UTF_8));
        } finally {
            System.setOut(oldOut);
            System.setErr(oldErr);
        }
    }

    @Test
    void createPrintsTheNewKeyAloneOnItsLastLine() {
        Run r = easel("keys", "create", "--tier", "pro", "--name", "Design team", "--data-dir", data.toString());
        assertThat(r.code()).as(r.err()).isZero();
        String last = r.lines().getLast();
        assertThat(ApiKeySecrets.looksLikeSecret(last)).as(last).isTrue();
        try (Database db = Database.open(data)) {
            var key = new ApiKeyStore(db, Clock.systemUTC()).findBySecret(last).orElseThrow();
            assertThat(key.tier()).isEqualTo(Tier.PRO);
            assertThat(key.name()).isEqualTo("Design team");
        }
    }

    @Test
    void keysWorkAgainstTheSharedDatabaseOfDatabaseUrl() {
        String url = dev.easel.server.support.TestDatabases.newPostgresUrl();
        Run r = easel("keys", "create", "--tier", "premium", "--name", "shared", "--set", "database.url=" + url);
        assertThat(r.code()).as(r.err()).isZero();
        String secret = r.lines().getLast();
        try (Database db = Database.openPostgres(url, null, null, 2)) {
            assertThat(new ApiKeyStore(db, Clock.systemUTC()).findBySecret(secret).orElseThrow().tier()).isEqualTo(Tier.PREMIUM);
        }
        assertThat(easel("keys", "list", "--set", "database.url=" + url).out()).contains("shared").contains("premium");
    }

    @Test
    void listShowsKeysWithoutSecretsAndRevokeRevokes() {
        String secret = easel("keys", "create", "--tier", "free", "--name", "n1", "--data-dir", data.toString()).lines().getLast();
        Run list = easel("keys", "list", "--data-dir", data.toString());
        assertThat(list.code()).isZero();
        assertThat(list.out()).contains("key_1").contains("free").contains("n1").doesNotContain(secret);
        Run revoke = easel("keys", "revoke", "key_1", "--data-dir", data.toString());
        assertThat(revoke.code()).isZero();
        assertThat(revoke.out()).contains("Revoked key_1");
        String row = easel("keys", "list", "--data-dir", data.toString()).lines().stream()
                .filter(l -> l.startsWith("key_1 ")).findFirst().orElseThrow();
        assertThat(row.split("\\d{4}-\\d{2}-\\d{2}", -1)).as("created and revoked dates: " + row).hasSize(3);
        assertThat(easel("keys", "revoke", "key_9", "--data-dir", data.toString()).code()).isEqualTo(1);
    }

    @Test
    void badArgumentsAreClearErrors() {
        Run r = easel("keys", "create", "--tier", "gold", "--name", "x", "--data-dir", data.toString());
        assertThat(r.code()).isEqualTo(2);
        assertThat(r.err()).contains("free, pro or premium");
        assertThat(easel("keys", "create", "--name", "x").code()).isEqualTo(2); // --tier missing
        Run badConfig = easel("keys", "list", "--data-dir", data.toString(), "--set", "port=abc");
        assertThat(badConfig.code()).isEqualTo(2);
        assertThat(badConfig.err()).contains("port");
    }
}
