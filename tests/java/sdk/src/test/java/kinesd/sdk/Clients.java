package kinesd.sdk;

import java.net.URI;
import java.time.Duration;
import java.util.function.Consumer;
import software.amazon.awssdk.auth.credentials.AwsBasicCredentials;
import software.amazon.awssdk.auth.credentials.StaticCredentialsProvider;
import software.amazon.awssdk.awscore.retry.AwsRetryStrategy;
import software.amazon.awssdk.core.client.config.ClientOverrideConfiguration;
import software.amazon.awssdk.core.retry.backoff.FixedDelayBackoffStrategy;
import software.amazon.awssdk.core.waiters.WaiterOverrideConfiguration;
import software.amazon.awssdk.http.Protocol;
import software.amazon.awssdk.http.SdkHttpClient;
import software.amazon.awssdk.http.apache.ApacheHttpClient;
import software.amazon.awssdk.http.nio.netty.NettyNioAsyncHttpClient;
import software.amazon.awssdk.http.urlconnection.UrlConnectionHttpClient;
import software.amazon.awssdk.regions.Region;
import software.amazon.awssdk.services.kinesis.KinesisAsyncClient;
import software.amazon.awssdk.services.kinesis.KinesisClient;

/** Kinesis clients pointed at a kinesd endpoint, each with a {@link WireLog}. */
final class Clients {
    static final StaticCredentialsProvider FAKE_CREDENTIALS =
            StaticCredentialsProvider.create(AwsBasicCredentials.create("AKIDEXAMPLE", "fake-secret-key"));

    private Clients() {
    }

    /** The SDK speaks CBOR unless the system property aws.cborEnabled is false. */
    static boolean cbor() {
        return !"false".equalsIgnoreCase(System.getProperty("aws.cborEnabled", "true"));
    }

    /** The Content-Type every request and answer must carry in this run. */
    static String contentType() {
        return cbor() ? "application/x-amz-cbor-1.1" : "application/x-amz-json-1.1";
    }

    /**
     * Retries off: a server error must fail the test, not be hidden by a
     * second attempt that happens to work.
     */
    private static ClientOverrideConfiguration overrides(WireLog log) {
        return ClientOverrideConfiguration.builder()
                .retryStrategy(AwsRetryStrategy.doNotRetry())
                .addExecutionInterceptor(log)
                .apiCallAttemptTimeout(Duration.ofSeconds(60))
                .build();
    }

    /**
     * The SDK's waiters poll every 10 s by default; the test server activates
     * streams within a second, so poll often (for at most a minute).
     */
    static Consumer<WaiterOverrideConfiguration.Builder> pollOften() {
        return waiter -> waiter.backoffStrategy(FixedDelayBackoffStrategy.create(Duration.ofMillis(100)))
                .maxAttempts(600);
    }

    /** In the https mode, trusting the servers' certificate; no ALPN either way. */
    private static NettyNioAsyncHttpClient.Builder trusting(NettyNioAsyncHttpClient.Builder netty) {
        return Tls.enabled() ? netty.tlsTrustManagersProvider(Tls::trustManagers) : netty;
    }

    /**
     * The async client on Netty in HTTP/2 with prior knowledge: h2c over
     * http://, or inside TLS without ALPN in the https mode.
     */
    static KinesisAsyncClient nettyHttp2(URI endpoint, WireLog log) {
        return KinesisAsyncClient.builder()
                .endpointOverride(endpoint)
                .region(Region.US_EAST_1)
                .credentialsProvider(FAKE_CREDENTIALS)
                .httpClientBuilder(trusting(NettyNioAsyncHttpClient.builder()
                        .protocol(Protocol.HTTP2)
                        .maxConcurrency(32)
                        .readTimeout(Duration.ofSeconds(60))))
                .overrideConfiguration(overrides(log))
                .build();
    }

    /** The async client on Netty in HTTP/1.1: event streams come as a chunked body. */
    static KinesisAsyncClient nettyHttp11(URI endpoint, WireLog log) {
        return KinesisAsyncClient.builder()
                .endpointOverride(endpoint)
                .region(Region.US_EAST_1)
                .credentialsProvider(FAKE_CREDENTIALS)
                .httpClientBuilder(trusting(NettyNioAsyncHttpClient.builder()
                        .protocol(Protocol.HTTP1_1)
                        .readTimeout(Duration.ofSeconds(60))))
                .overrideConfiguration(overrides(log))
                .build();
    }

    static KinesisClient apache(URI endpoint, WireLog log) {
        ApacheHttpClient.Builder http = ApacheHttpClient.builder();
        if (Tls.enabled()) {
            http.tlsTrustManagersProvider(Tls::trustManagers);
        }
        return sync(endpoint, log, http.build());
    }

    static KinesisClient urlConnection(URI endpoint, WireLog log) {
        UrlConnectionHttpClient.Builder http = UrlConnectionHttpClient.builder();
        if (Tls.enabled()) {
            http.tlsTrustManagersProvider(Tls::trustManagers);
        }
        return sync(endpoint, log, http.build());
    }

    private static KinesisClient sync(URI endpoint, WireLog log, SdkHttpClient http) {
        return KinesisClient.builder()
                .endpointOverride(endpoint)
                .region(Region.US_EAST_1)
                .credentialsProvider(FAKE_CREDENTIALS)
                .httpClient(http)
                .overrideConfiguration(overrides(log))
                .build();
    }
}
