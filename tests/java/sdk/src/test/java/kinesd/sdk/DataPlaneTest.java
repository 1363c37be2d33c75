package kinesd.sdk;

import static kinesd.sdk.Reads.await;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.math.BigInteger;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.extension.RegisterExtension;
import software.amazon.awssdk.core.SdkBytes;
import software.amazon.awssdk.services.kinesis.KinesisAsyncClient;
import software.amazon.awssdk.services.kinesis.model.DescribeStreamSummaryResponse;
import software.amazon.awssdk.services.kinesis.model.GetRecordsResponse;
import software.amazon.awssdk.services.kinesis.model.PutRecordResponse;
import software.amazon.awssdk.services.kinesis.model.PutRecordsRequestEntry;
import software.amazon.awssdk.services.kinesis.model.PutRecordsResponse;
import software.amazon.awssdk.services.kinesis.model.PutRecordsResultEntry;
import software.amazon.awssdk.services.kinesis.model.Record;
import software.amazon.awssdk.services.kinesis.model.Shard;
import software.amazon.awssdk.services.kinesis.model.ShardIteratorType;
import software.amazon.awssdk.services.kinesis.model.StreamStatus;

/**
 * The data plane through KinesisAsyncClient on the Netty client in HTTP/2
 * (h2c with prior knowledge), in CBOR or JSON as the run says.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class DataPlaneTest {
    private KinesdServer server;
    @RegisterExtension
    final ServerLogOnFailure serverLog = new ServerLogOnFailure(() -> server);
    private final WireLog wire = new WireLog();
    private KinesisAsyncClient kinesis;

    @BeforeAll
    void start() throws Exception {
        server = KinesdServer.start("--create-stream-ms", "300");
        kinesis = Clients.nettyHttp2(server.endpoint(), wire);
    }

    @AfterAll
    void stop() throws Exception {
        if (kinesis != null) {
            kinesis.close();
        }
        if (server != null) {
            server.close();
        }
    }

    /** Every call went over HTTP/2 in the run's encoding, both ways. */
    @AfterEach
    void checkWire() {
        assertFalse(wire.exchanges().isEmpty(), "no call was recorded");
        for (WireLog.Exchange exchange : wire.exchanges()) {
            assertEquals(Clients.contentType(), exchange.requestContentType, "request of " + exchange);
            assertEquals(Clients.contentType(), exchange.responseContentType, "answer to " + exchange);
            assertTrue(exchange.http2, "not over HTTP/2: " + exchange);
        }
    }

    @Test
    void createStreamDescribeAndListShards() {
        Instant before = Instant.now();
        String stream = "java-create";
        await(kinesis.createStream(r -> r.streamName(stream).shardCount(4)));
        await(kinesis.waiter().waitUntilStreamExists(r -> r.streamName(stream), Clients.pollOften()));
        Instant after = Instant.now();

        DescribeStreamSummaryResponse summary = await(kinesis.describeStreamSummary(r -> r.streamName(stream)));
        assertEquals(StreamStatus.ACTIVE, summary.streamDescriptionSummary().streamStatus());
        assertEquals(4, summary.streamDescriptionSummary().openShardCount());
        assertEquals("arn:aws:kinesis:us-east-1:000000000000:stream/" + stream,
                summary.streamDescriptionSummary().streamARN());
        Records.assertTimestampSane(summary.streamDescriptionSummary().streamCreationTimestamp(), before, after,
                "StreamCreationTimestamp");

        List<Shard> shards = listShards(stream);
        assertEquals(4, shards.size());
        // The hash key ranges tile 0 .. 2^128 - 1 without a gap or an overlap.
        List<Shard> byRange = new ArrayList<>(shards);
        byRange.sort(Comparator.comparing(s -> new BigInteger(s.hashKeyRange().startingHashKey())));
        BigInteger next = BigInteger.ZERO;
        for (Shard shard : byRange) {
            assertEquals(next, new BigInteger(shard.hashKeyRange().startingHashKey()), "range of " + shard.shardId());
            next = new BigInteger(shard.hashKeyRange().endingHashKey()).add(BigInteger.ONE);
            assertNotNull(shard.sequenceNumberRange().startingSequenceNumber());
            assertNull(shard.sequenceNumberRange().endingSequenceNumber(), "an open shard has no ending number");
        }
        assertEquals(BigInteger.ONE.shiftLeft(128), next);

        // Paging: one shard per page, four pages.
        List<String> paged = new ArrayList<>();
        String token = null;
        do {
            String page = token;
            var answer = await(kinesis.listShards(r -> {
                if (page == null) {
                    r.streamName(stream).maxResults(1);
                } else {
                    r.nextToken(page).maxResults(1);
                }
            }));
            answer.shards().forEach(s -> paged.add(s.shardId()));
            token = answer.nextToken();
        } while (token != null && paged.size() <= 4);
        assertEquals(shards.stream().map(Shard::shardId).toList(), paged);
    }

    @Test
    void putRecordThenGetRecordsAtItsSequenceNumber() {
        String stream = "java-put-record";
        createActive(stream, 1);
        byte[] data = {0, 1, 2, (byte) 0xff, (byte) 0xfe, '{', '"', 0x7f, (byte) 0x80, (byte) 0xc1};
        Instant before = Instant.now();
        PutRecordResponse put = await(kinesis.putRecord(r -> r.streamName(stream).partitionKey("only-key")
                .data(SdkBytes.fromByteArray(data))));
        Instant after = Instant.now();
        assertEquals("shardId-000000000000", put.shardId());

        String iterator = await(kinesis.getShardIterator(r -> r.streamName(stream).shardId(put.shardId())
                .shardIteratorType(ShardIteratorType.AT_SEQUENCE_NUMBER)
                .startingSequenceNumber(put.sequenceNumber()))).shardIterator();
        GetRecordsResponse got = await(kinesis.getRecords(r -> r.shardIterator(iterator)));
        assertEquals(1, got.records().size());
        Record record = got.records().get(0);
        assertEquals(put.sequenceNumber(), record.sequenceNumber());
        assertEquals("only-key", record.partitionKey());
        assertArrayEquals(data, record.data().asByteArray());
        Records.assertTimestampSane(record.approximateArrivalTimestamp(), before, after, "ApproximateArrivalTimestamp");
        assertNotNull(got.millisBehindLatest());
        assertNotNull(got.nextShardIterator());
    }

    @Test
    void putRecords500AndReadThemAllBack() {
        String stream = "java-put-records";
        createActive(stream, 4);
        List<Shard> shards = listShards(stream);
        List<Records.Put> puts = putRecords(stream, Records.entries(500, 23, 500));
        for (Records.Put put : puts) {
            assertEquals(Records.shardFor(put.key(), shards), put.shardId(), "shard of " + put.key());
        }
        Map<String, List<Record>> read = Reads.readAll(stream, shards,
                r -> await(kinesis.getShardIterator(r)), r -> await(kinesis.getRecords(r)));
        Records.assertReadBack(puts, read);
    }

    /** A Timestamp the client sends (milliseconds under CBOR tag 1, seconds in JSON) lands where it should. */
    @Test
    void atTimestampIteratorStartsAtTheFirstLaterRecord() throws InterruptedException {
        String stream = "java-at-timestamp";
        createActive(stream, 1);
        List<Records.Put> early = putRecords(stream, Records.entries(20, 3, 1));
        // The two batches must not share a millisecond.
        Thread.sleep(20);
        List<Records.Put> late = putRecords(stream, Records.entries(20, 3, 2));
        Map<String, List<Record>> all = Reads.readAll(stream, listShards(stream),
                r -> await(kinesis.getShardIterator(r)), r -> await(kinesis.getRecords(r)));
        List<Record> records = all.get("shardId-000000000000");
        assertEquals(40, records.size());
        Record firstLate = records.get(early.size());
        assertEquals(late.get(0).sequenceNumber(), firstLate.sequenceNumber());
        assertTrue(records.get(early.size() - 1).approximateArrivalTimestamp()
                .isBefore(firstLate.approximateArrivalTimestamp()), "the two batches share an arrival time");

        String iterator = await(kinesis.getShardIterator(r -> r.streamName(stream).shardId("shardId-000000000000")
                .shardIteratorType(ShardIteratorType.AT_TIMESTAMP)
                .timestamp(firstLate.approximateArrivalTimestamp()))).shardIterator();
        List<Record> fromThere = Reads.readShard(iterator, r -> await(kinesis.getRecords(r)));
        assertEquals(late.stream().map(Records.Put::sequenceNumber).toList(),
                fromThere.stream().map(Record::sequenceNumber).toList());
    }

    private void createActive(String stream, int shards) {
        await(kinesis.createStream(r -> r.streamName(stream).shardCount(shards)));
        await(kinesis.waiter().waitUntilStreamExists(r -> r.streamName(stream), Clients.pollOften()));
    }

    private List<Shard> listShards(String stream) {
        return await(kinesis.listShards(r -> r.streamName(stream))).shards();
    }

    private List<Records.Put> putRecords(String stream, List<PutRecordsRequestEntry> entries) {
        Instant before = Instant.now();
        PutRecordsResponse answer = await(kinesis.putRecords(r -> r.streamName(stream).records(entries)));
        Instant after = Instant.now();
        assertEquals(0, answer.failedRecordCount(), "FailedRecordCount");
        assertEquals(entries.size(), answer.records().size());
        List<Records.Put> puts = new ArrayList<>();
        for (int i = 0; i < entries.size(); i++) {
            PutRecordsResultEntry result = answer.records().get(i);
            assertNull(result.errorCode(), "entry " + i + " failed: " + result.errorMessage());
            puts.add(new Records.Put(entries.get(i).partitionKey(), entries.get(i).data().asByteArray(),
                    result.sequenceNumber(), result.shardId(), before, after));
        }
        return puts;
    }
}
