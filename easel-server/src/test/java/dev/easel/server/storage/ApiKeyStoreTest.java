package dev.easel.server.storage;

import dev.easel.server.auth.ApiKey;
import dev.easel.server.auth.ApiKeySecrets;
import dev.easel.server.auth.Authenticator;
import dev.easel.server.auth.Tier;
import org.junit.jupiter.api.Test;
import java.util.Optional;
import java.util.List;
import dev.easel.server.support.TestDatabases;
import org.junit.jupiter.params.provider.EnumSource;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;

import static org.assertj.core.api.Assertions.assertThat;

class ApiKeyStoreTest {
    @TempDir
    Path dir;

    /** Nodes starting at once on an empty shared database (each its own pool, as separate processes): one admin key. */
    @ParameterizedTest
    @EnumSource(TestDatabases.Kind.class)
    void nodesStartingAtOnceOnAnEmptyDatabaseMakeOneFirstAdminKey(TestDatabases.Kind kind) throws Exception {
        String url = kind == TestDatabases.Kind.POSTGRESQL ? TestDatabases.newPostgresUrl() : null;
        int nodes = 6;
        List<Database> dbs = new java.util.ArrayList<>();
        for (int i = 0; i < nodes; i++) dbs.add(url != null ? Database.openPostgres(url, null, null, 2) : Database.open(dir));
        try {
            java.util.concurrent.CyclicBarrier together = new java.util.concurrent.CyclicBarrier(nodes);
            List<java.util.concurrent.Future<Optional<ApiKeyStore.Created>>> made = new java.util.ArrayList<>();
            try (var pool = java.util.concurrent.Executors.newFixedThreadPool(nodes)) {
                for (Database db : dbs) {
                    made.add(pool.submit(() -> {
                        together.await();
                        return new ApiKeyStore(db, Clock.systemUTC()).createFirstAdmin();
                    }));
                }
            }
            long created = 0;
            for (var f : made) if (f.get().isPresent()) created++;
            ApiKeyStore store = new ApiKeyStore(dbs.getFirst(), Clock.systemUTC());
            assertThat(created).isEqualTo(1);
            assertThat(store.list()).singleElement().satisfies(k -> {
                assertThat(k.admin()).isTrue();
                assertThat(k.tier()).isEqualTo(Tier.PREMIUM);
            });
            // any key at all, admin or not, means there is no first key to make
            assertThat(store.createFirstAdmin()).isEmpty();
        } finally {
            dbs.forEach(Database::close);
        }
    }

    @Test
    void noFirstAdminKeyWhereAnyKeyExists() {
        try (Database db = Database.open(dir)) {
            ApiKeyStore store = new ApiKeyStore(db, Clock.systemUTC());
            store.create("alice", Tier.FREE, false);
            assertThat(store.createFirstAdmin()).isEmpty();
            assertThat(store.list()).hasSize(1);
        }
    }

    @Test
    void keysAreRandomShownOnceAndStoredHashed() throws Exception {
        String secret;
        try (Database db = Database.open(dir)) {
            ApiKeyStore store = new ApiKeyStore(db, Clock.systemUTC());
            ApiKeyStore.Created a = store.create("alice", Tier.PRO, false);
            ApiKeyStore.Created b = store.create("bob", Tier.FREE, false);
            secret = a.secret();
            assertThat(secret).startsWith("sk-easel-").hasSize(ApiKeySecrets.PREFIX.length() + 43);
            assertThat(a.secret()).isNotEqualTo(b.secret());
            assertThat(ApiKeySecrets.looksLikeSecret(secret)).isTrue();
            ApiKey found = store.findBySecret(secret).orElseThrow();
            assertThat(found.name()).isEqualTo("alice");
            assertThat(found.tier()).isEqualTo(Tier.PRO);
            assertThat(found.toString()).doesNotContain(secret);
            assertThat(store.findBySecret(secret + "x")).isEmpty();
            assertThat(store.list()).extracting(ApiKey::id).containsExactly("key_1", "key_2");
        }
        // the secret is nowhere in the database files, its hash is
        for (Path f : Files.list(dir).toList()) {
            String content = new String(Files.readAllBytes(f), java.nio.charset.StandardCharsets.ISO_8859_1);
            assertThat(content).as(f.toString()).doesNotContain(secret).doesNotContain(secret.substring(9, 30));
        }
    }

    @Test
    void revokedKeysStopAuthenticating() {
        try (Database db = Database.open(dir)) {
            ApiKeyStore store = new ApiKeyStore(db, Clock.systemUTC());
            ApiKeyStore.Created k = store.create("carol", Tier.PREMIUM, true);
            Authenticator auth = new Authenticator(store);
            assertThat(auth.authenticate("Bearer " + k.secret())).isInstanceOf(Authenticator.Result.Ok.class);
            assertThat(auth.authenticate("bearer   " + k.secret())).isInstanceOf(Authenticator.Result.Ok.class);
            assertThat(store.hasActiveAdmin()).isTrue();
            assertThat(store.revoke(k.key().id())).isTrue();
            assertThat(store.revoke(k.key().id())).isFalse();
            assertThat(auth.authenticate("Bearer " + k.secret())).isInstanceOf(Authenticator.Result.Revoked.class);
            assertThat(auth.authenticate(null)).isInstanceOf(Authenticator.Result.Missing.class);
            assertThat(auth.authenticate("Basic abc")).isInstanceOf(Authenticator.Result.Invalid.class);
            assertThat(store.hasActiveAdmin()).isFalse();
            assertThat(store.revoke("key_999")).isFalse();
            assertThat(store.revoke("nonsense")).isFalse();
        }
    }
}
