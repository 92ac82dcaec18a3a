package dev.easel.server.hub;

import dev.easel.server.config.ConfigLoader;
import dev.easel.server.config.ServerConfig;
import dev.easel.server.config.ServerConfig.FileSource;
import dev.easel.server.support.FakeHub;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** {@link ModelPuller} and {@link HubClient} against {@link FakeHub}, which answers as the public hub does. */
class ModelPullerTest {
    static final String SCHNELL = "black-forest-labs/FLUX.1-schnell";
    static final String DEV = "black-forest-labs/FLUX.1-dev";
    static final String ENCODERS = "comfyanonymous/flux_text_encoders";

    @TempDir
    Path models;
    FakeHub hub;
    ServerConfig config;
    final byte[] transformer = FakeHub.content(300_000, 1);
    final byte[] ae = FakeHub.content(120_000, 2);
    final byte[] clip = FakeHub.content(50_000, 3);
    final byte[] t5 = FakeHub.content(200_000, 4);
    final byte[] devTransformer = FakeHub.content(310_000, 5);

    @BeforeEach
    void start() throws IOException {
        hub = new FakeHub()
                .file(SCHNELL, "flux1-schnell.safetensors", transformer)
                .file(SCHNELL, "ae.safetensors", ae)
                .file(SCHNELL, "model_index.json", "{\"_class_name\": \"FluxPipeline\"}".getBytes())
                .file(ENCODERS, "clip_l.safetensors", clip)
                .file(ENCODERS, "t5xxl_fp16.safetensors", t5)
                .file(DEV, "flux1-dev.safetensors", devTransformer)
                .file(DEV, "ae.safetensors", ae)
                .gated(DEV, "hf_accepted");
        config = new ConfigLoader().load(Optional.empty(), Map.of(), Map.of("models-dir", models.toString()));
    }

    @AfterEach
    void stop() {
        hub.close();
    }

    HubClient client(String token) {
        return new HubClient(URI.create(hub.url()), Optional.ofNullable(token));
    }

    ModelPuller puller(String token, int retries) {
        return new ModelPuller(client(token), models, ModelPuller.Options.of(4, retries).withBackoff(Duration.ZERO));
    }

    List<FileSource> catalogFiles(String id) {
        return config.catalog().get(id).files();
    }

    List<String> leftovers() throws IOException {
        try (Stream<Path> s = Files.list(models)) {
            return s.map(p -> p.getFileName().toString()).filter(n -> n.endsWith(".part")).toList();
        }
    }

    @Test
    void pullsEveryFileOfTheCatalogsFluxSchnellFromItsTwoRepositories() throws Exception {
        ModelPuller puller = puller(null, 0);
        List<String> finished = Collections.synchronizedList(new ArrayList<>());
        ModelPuller.Plan plan = puller.plan(catalogFiles("flux.1-schnell"));
        assertThat(plan.missing()).hasSize(4);
        assertThat(plan.bytesToDownload()).isEqualTo(transformer.length + ae.length + clip.length + t5.length);
        puller.pull(plan, new PullListener() {
            @Override
            public void finished(ModelPuller.PlannedFile f) {
                finished.add(f.name());
            }
        });
        assertThat(finished).containsExactlyInAnyOrder("flux1-schnell.safetensors", "ae.safetensors", "clip_l.safetensors", "t5xxl_fp16.safetensors");
        assertThat(Files.readAllBytes(models.resolve("flux1-schnell.safetensors"))).isEqualTo(transformer);
        assertThat(Files.readAllBytes(models.resolve("ae.safetensors"))).isEqualTo(ae);
        assertThat(Files.readAllBytes(models.resolve("clip_l.safetensors"))).isEqualTo(clip);
        assertThat(Files.readAllBytes(models.resolve("t5xxl_fp16.safetensors"))).isEqualTo(t5);
        assertThat(leftovers()).isEmpty();
        // metadata by HEAD on resolve, bytes from the CDN's other origin after the 302
        assertThat(hub.requests()).filteredOn(r -> r.startsWith("HEAD ")).hasSize(4);
        assertThat(hub.transfers()).hasSize(4).allMatch(t -> t.from() == 0);

        // A second pull finds everything in place and asks the hub nothing.
        int before = hub.requests().size();
        ModelPuller.Plan again = puller.plan(catalogFiles("flux.1-schnell"));
        assertThat(again.missing()).isEmpty();
        puller.pull(again, PullListener.NONE);
        assertThat(hub.requests()).hasSize(before);
        assertThat(hub.transfers()).hasSize(4);
    }

    @Test
    void anInterruptedDownloadIsKeptAndTheNextPullFetchesOnlyTheRest() throws Exception {
        long cut = 123_457;
        hub.cutOnce(SCHNELL, "flux1-schnell.safetensors", cut);
        List<FileSource> files = List.of(catalogFiles("flux.1-schnell").getFirst());
        assertThatThrownBy(() -> pull(puller(null, 0), files))
                .isInstanceOf(PullException.class)
                .hasMessageContaining("flux1-schnell.safetensors: the transfer was interrupted")
                .hasMessageContaining("run the same pull again to resume it");
        assertThat(models.resolve("flux1-schnell.safetensors")).doesNotExist();
        Path part = models.resolve("flux1-schnell.safetensors.part");
        // what arrived before the connection dropped (the server wrote `cut` bytes; the client may have kept fewer)
        long kept = Files.size(part);
        assertThat(kept).isPositive().isLessThanOrEqualTo(cut);

        ModelPuller.Plan plan = puller(null, 0).plan(files);
        assertThat(plan.missing().getFirst().partBytes()).isEqualTo(kept);
        assertThat(plan.bytesToDownload()).isEqualTo(transformer.length - kept);
        puller(null, 0).pull(plan, PullListener.NONE);

        assertThat(Files.readAllBytes(models.resolve("flux1-schnell.safetensors"))).isEqualTo(transformer);
        assertThat(part).doesNotExist();
        // the second run asked for the rest only: the bytes kept from the first were not fetched again
        assertThat(hub.transfers()).hasSize(2);
        FakeHub.Transfer resumed = hub.transfers().get(1);
        assertThat(resumed.from()).isEqualTo(kept);
        assertThat(resumed.bytes()).isEqualTo(transformer.length - kept);
    }

    @Test
    void aBrokenConnectionIsResumedInTheSameRun() throws Exception {
        hub.cutOnce(ENCODERS, "t5xxl_fp16.safetensors", 70_000);
        List<String> retries = Collections.synchronizedList(new ArrayList<>());
        ModelPuller puller = puller(null, 2);
        puller.pull(puller.plan(catalogFiles("flux.1-schnell")), new PullListener() {
            @Override
            public void retrying(ModelPuller.PlannedFile f, int attempt, String reason) {
                retries.add(f.name() + " " + attempt);
            }
        });
        assertThat(retries).containsExactly("t5xxl_fp16.safetensors 1");
        assertThat(Files.readAllBytes(models.resolve("t5xxl_fp16.safetensors"))).isEqualTo(t5);
        List<FakeHub.Transfer> t5Transfers = hub.transfersOf(ENCODERS, "t5xxl_fp16.safetensors");
        assertThat(t5Transfers).hasSize(2);
        // resumed from where the broken transfer stopped, for exactly the rest
        assertThat(t5Transfers.get(1).from()).isPositive().isLessThanOrEqualTo(70_000);
        assertThat(t5Transfers.get(1).from() + t5Transfers.get(1).bytes()).isEqualTo(t5.length);
    }

    @Test
    void aCorruptedByteIsCaughtByTheChecksumAndTheFileDeleted() throws Exception {
        hub.corrupt(ENCODERS, "clip_l.safetensors", 31_337);
        assertThatThrownBy(() -> pull(puller(null, 0), catalogFiles("flux.1-schnell")))
                .isInstanceOf(PullException.class)
                .hasMessageContaining("clip_l.safetensors: checksum mismatch (sha256 expected")
                .hasMessageContaining("the download was deleted");
        assertThat(models.resolve("clip_l.safetensors")).doesNotExist();
        assertThat(leftovers()).isEmpty();
        // the other files were unaffected and are in place
        assertThat(Files.readAllBytes(models.resolve("t5xxl_fp16.safetensors"))).isEqualTo(t5);
    }

    @Test
    void aMirrorWithoutLinkedHeadersIsVerifiedFromTheModelApi() throws Exception {
        hub.withoutLinkedHeaders();
        RemoteFile remote = client(null).metadata(catalogFiles("flux.1-schnell").getFirst());
        assertThat(remote.size()).isEqualTo(transformer.length);
        assertThat(remote.sha256()).isPresent();
        assertThat(hub.requests()).anyMatch(r -> r.startsWith("GET /api/models/black-forest-labs/FLUX.1-schnell/revision/main?blobs=true"));
        hub.corrupt(SCHNELL, "ae.safetensors", 5);
        assertThatThrownBy(() -> pull(puller(null, 0), catalogFiles("flux.1-schnell")))
                .hasMessageContaining("ae.safetensors: checksum mismatch");
    }

    @Test
    void aSmallFileKeptInGitIsCheckedByItsBlobId() throws Exception {
        FileSource json = new FileSource(SCHNELL, null, "model_index.json", "flux/model_index.json");
        RemoteFile remote = client(null).metadata(json);
        assertThat(remote.sha256()).isEmpty();
        assertThat(remote.gitSha1()).isPresent();
        pull(puller(null, 0), List.of(json));
        assertThat(Files.readString(models.resolve("flux/model_index.json"))).contains("FluxPipeline");
    }

    @Test
    void aGatedRepositoryIsRefusedWithoutATokenAndFetchedWithOne() throws Exception {
        assertThatThrownBy(() -> pull(puller(null, 0), catalogFiles("oxlo-image-pro")))
                .isInstanceOf(PullException.class)
                .hasMessageContaining("flux1-dev.safetensors: " + DEV + " is a gated repository")
                .hasMessageContaining("accept its licence at " + hub.url() + "/" + DEV)
                .hasMessageContaining("HF_TOKEN");
        assertThatThrownBy(() -> pull(puller("hf_not_accepted", 0), catalogFiles("oxlo-image-pro")))
                .hasMessageContaining("the token in HF_TOKEN has no access to the gated repository " + DEV + " (HTTP 403)");
        // refused before anything was written or downloaded, the public text encoders included
        assertThat(hub.transfers()).isEmpty();
        try (Stream<Path> s = Files.list(models)) {
            assertThat(s).isEmpty();
        }

        pull(puller("hf_accepted", 0), catalogFiles("oxlo-image-pro"));
        assertThat(Files.readAllBytes(models.resolve("flux1-dev.safetensors"))).isEqualTo(devTransformer);
        assertThat(Files.readAllBytes(models.resolve("ae.safetensors"))).isEqualTo(ae);
        // the token goes to the hub only, never to the CDN the hub redirects to
        assertThat(hub.transfers()).hasSize(4).noneMatch(FakeHub.Transfer::authorized);
    }

    @Test
    void notEnoughDiskSpaceIsRefusedBeforeTheDownloadStarts() throws Exception {
        long need = transformer.length + ae.length + clip.length + t5.length;
        ModelPuller puller = new ModelPuller(client(null), models,
                ModelPuller.Options.of(4, 0).withFreeSpace(dir -> need - 1));
        assertThatThrownBy(() -> pull(puller, catalogFiles("flux.1-schnell")))
                .isInstanceOf(PullException.class)
                .hasMessageContaining("not enough disk space in " + models.toAbsolutePath())
                .hasMessageContaining("needs " + Bytes.format(need));
        assertThat(hub.transfers()).isEmpty();
        assertThat(leftovers()).isEmpty();
        // exactly enough is enough
        pull(new ModelPuller(client(null), models, ModelPuller.Options.of(4, 0).withFreeSpace(dir -> need)), catalogFiles("flux.1-schnell"));
        assertThat(models.resolve("t5xxl_fp16.safetensors")).exists();
    }

    @Test
    void missingFilesAndRepositoriesAreNamed() {
        assertThatThrownBy(() -> pull(puller(null, 0), List.of(new FileSource(SCHNELL, null, "nope.safetensors", null))))
                .hasMessageContaining("nope.safetensors: " + SCHNELL + " has no file 'nope.safetensors' at revision 'main' (HTTP 404)");
        assertThatThrownBy(() -> pull(puller("hf_x", 0), List.of(new FileSource("nobody/nothing", null, "a.safetensors", null))))
                .hasMessageContaining("there is no repository nobody/nothing");
        assertThatThrownBy(() -> pull(puller(null, 0), List.of(new FileSource(SCHNELL, "v9", "ae.safetensors", null))))
                .hasMessageContaining(SCHNELL + " has no revision 'v9'");
        assertThat(hub.transfers()).isEmpty();
    }

    static void pull(ModelPuller puller, List<FileSource> files) throws PullException {
        puller.pull(puller.plan(files), PullListener.NONE);
    }
}
