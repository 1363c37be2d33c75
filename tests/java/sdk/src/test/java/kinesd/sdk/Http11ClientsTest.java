package kinesd.sdk;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;

import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.function.BiFunction;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import software.amazon.awssdk.services.kinesis.KinesisClient;
import software.amazon.awssdk.services.kinesis.model.PutRecordsRequestEntry;
import software.amazon.awssdk.services.kinesis.model.PutRecordsResponse;
import software.amazon.awssdk.services.kinesis.model.Shard;

/** The sync KinesisClient over HTTP/1.1 (Apache and URLConnection clients): put and read back. */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class Http11ClientsTest {
    private KinesdServer server;
    @RegisterExtension
    final ServerLogOnFailure serverLog = new ServerLogOnFailure(() -> server);

    @BeforeAll
    void start() throws Exception {
        server = KinesdServer.start("--create-stream-ms", "300");
    }

    @AfterAll
    void stop() throws Exception {
        if (server != null) {
            server.close();
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"apache", "url-connection"})
    void putRecordsAndGetRecords(String httpClient) {
        WireLog wire = new WireLog();
        BiFunction<java.net.URI, WireLog, KinesisClient> builder =
                httpClient.equals("apache") ? Clients::apache : Clients::urlConnection;
        try (KinesisClient kinesis = builder.apply(server.endpoint(), wire)) {
            String stream = "java-http11-" + httpClient;
            kinesis.createStream(r -> r.streamName(stream).shardCount(3));
            kinesis.waiter().waitUntilStreamExists(r -> r.streamName(stream), Clients.pollOften());
            List<Shard> shards = kinesis.listShards(r -> r.streamName(stream)).shards();
            assertEquals(3, shards.size());

            List<PutRecordsRequestEntry> entries = Records.entries(200, 11, httpClient.length());
            Instant before = Instant.now();
            PutRecordsResponse answer = kinesis.putRecords(r -> r.streamName(stream).records(entries));
            Instant after = Instant.now();
            assertEquals(0, answer.failedRecordCount());
            List<Records.Put> puts = new ArrayList<>();
            for (int i = 0; i < entries.size(); i++) {
                assertNull(answer.records().get(i).errorCode());
                puts.add(new Records.Put(entries.get(i).partitionKey(), entries.get(i).data().asByteArray(),
                        answer.records().get(i).sequenceNumber(), answer.records().get(i).shardId(), before, after));
            }
            Records.assertReadBack(puts, Reads.readAll(stream, shards, kinesis::getShardIterator, kinesis::getRecords));
        }
        assertFalse(wire.exchanges().isEmpty());
        for (WireLog.Exchange exchange : wire.exchanges()) {
            assertEquals(Clients.contentType(), exchange.requestContentType, "request of " + exchange);
            assertEquals(Clients.contentType(), exchange.responseContentType, "answer to " + exchange);
            assertFalse(exchange.http2, "HTTP/2 from an HTTP/1.1 client: " + exchange);
        }
    }
}
