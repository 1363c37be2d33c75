package kinesd.sdk;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.CompletionException;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.extension.RegisterExtension;
import software.amazon.awssdk.auth.credentials.AwsBasicCredentials;
import software.amazon.awssdk.auth.credentials.StaticCredentialsProvider;
import software.amazon.awssdk.awscore.retry.AwsRetryStrategy;
import software.amazon.awssdk.core.SdkBytes;
import software.amazon.awssdk.http.Protocol;
import software.amazon.awssdk.http.nio.netty.NettyNioAsyncHttpClient;
import software.amazon.awssdk.regions.Region;
import software.amazon.awssdk.services.kinesis.KinesisAsyncClient;
import software.amazon.awssdk.services.kinesis.model.KinesisException;
import software.amazon.awssdk.services.kinesis.model.ResourceNotFoundException;

/**
 * kinesd with a credentials file of two accounts, against the async client on
 * Netty HTTP/2 with static credentials: each key is accepted in its own
 * account, and a wrong secret or an unknown key gets AWS's exception.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class AuthTest {
    private static final String ALICE_KEY = "AKIAJAVAALICE0000001";
    private static final String ALICE_ACCOUNT = "111111111111";
    private static final String BOB_KEY = "AKIAJAVABOB000000002";
    private static final String BOB_ACCOUNT = "222222222222";

    private Path credentials;
    private KinesdServer server;
    @RegisterExtension
    final ServerLogOnFailure serverLog = new ServerLogOnFailure(() -> server);

    @BeforeAll
    void start() throws Exception {
        credentials = Files.createTempFile("kinesd-java-credentials-", "");
        Files.writeString(credentials, "[alice]\naws_access_key_id = " + ALICE_KEY
                + "\naws_secret_access_key = alice/secret\naws_account_id = " + ALICE_ACCOUNT + "\n\n[bob]\n"
                + "aws_access_key_id = " + BOB_KEY + "\naws_secret_access_key = bob+secret\naws_account_id = "
                + BOB_ACCOUNT + "\n", StandardCharsets.UTF_8);
        server = KinesdServer.start("--credentials-file", credentials.toString(), "--create-stream-ms", "200");
    }

    @AfterAll
    void stop() throws Exception {
        if (server != null) {
            server.close();
        }
        Files.deleteIfExists(credentials);
    }

    private KinesisAsyncClient client(String key, String secret) {
        return KinesisAsyncClient.builder()
                .endpointOverride(server.endpoint())
                .region(Region.US_EAST_1)
                .credentialsProvider(StaticCredentialsProvider.create(AwsBasicCredentials.create(key, secret)))
                .httpClientBuilder(Clients.trusting(NettyNioAsyncHttpClient.builder().protocol(Protocol.HTTP2)
                        .readTimeout(Duration.ofSeconds(60))))
                .overrideConfiguration(o -> o.retryStrategy(AwsRetryStrategy.doNotRetry()))
                .build();
    }

    private static KinesisException failure(Runnable call) {
        CompletionException e = assertThrows(CompletionException.class, call::run);
        assertTrue(e.getCause() instanceof KinesisException, e.getCause().toString());
        return (KinesisException) e.getCause();
    }

    @Test
    void eachKeyWorksInItsOwnAccount() {
        try (KinesisAsyncClient alice = client(ALICE_KEY, "alice/secret");
             KinesisAsyncClient bob = client(BOB_KEY, "bob+secret")) {
            String stream = "java-auth-" + (Clients.cbor() ? "cbor" : "json");
            bob.createStream(r -> r.streamName(stream).shardCount(1)).join();
            bob.waiter().waitUntilStreamExists(r -> r.streamName(stream), Clients.pollOften()).join();
            assertEquals("arn:aws:kinesis:us-east-1:" + BOB_ACCOUNT + ":stream/" + stream,
                    bob.describeStreamSummary(r -> r.streamName(stream)).join()
                            .streamDescriptionSummary().streamARN());
            bob.putRecord(r -> r.streamName(stream).partitionKey("k").data(SdkBytes.fromUtf8String("hi"))).join();
            assertTrue(bob.listStreams(r -> { }).join().streamNames().contains(stream));
            assertFalse(alice.listStreams(r -> { }).join().streamNames().contains(stream));

            KinesisException notFound = failure(() -> alice.describeStreamSummary(r -> r.streamName(stream)).join());
            assertTrue(notFound instanceof ResourceNotFoundException, notFound.toString());
            assertEquals("Stream " + stream + " under account " + ALICE_ACCOUNT + " not found.",
                    notFound.awsErrorDetails().errorMessage());
            bob.deleteStream(r -> r.streamName(stream)).join();
        }
    }

    @Test
    void aWrongSecretAndAnUnknownKeyAreRefused() {
        try (KinesisAsyncClient wrong = client(ALICE_KEY, "not-the-secret");
             KinesisAsyncClient stranger = client("AKIAJAVANOBODY000000", "x");
             KinesisAsyncClient alice = client(ALICE_KEY, "alice/secret")) {
            KinesisException mismatch = failure(() -> wrong.listStreams(r -> { }).join());
            assertEquals("InvalidSignatureException", mismatch.awsErrorDetails().errorCode());
            assertEquals(400, mismatch.statusCode());
            KinesisException unknown = failure(() -> stranger.listStreams(r -> { }).join());
            assertEquals("UnrecognizedClientException", unknown.awsErrorDetails().errorCode());
            assertEquals("The security token included in the request is invalid.",
                    unknown.awsErrorDetails().errorMessage());
            // The server keeps serving.
            alice.listStreams(r -> { }).join();
        }
    }
}
