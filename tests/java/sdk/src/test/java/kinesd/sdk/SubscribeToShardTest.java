package kinesd.sdk;

import static kinesd.sdk.Reads.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.math.BigInteger;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.extension.RegisterExtension;
import software.amazon.awssdk.core.SdkBytes;
import software.amazon.awssdk.services.kinesis.KinesisAsyncClient;
import software.amazon.awssdk.services.kinesis.model.Consumer;
import software.amazon.awssdk.services.kinesis.model.ConsumerDescription;
import software.amazon.awssdk.services.kinesis.model.ConsumerStatus;
import software.amazon.awssdk.services.kinesis.model.PutRecordResponse;
import software.amazon.awssdk.services.kinesis.model.PutRecordsRequestEntry;
import software.amazon.awssdk.services.kinesis.model.PutRecordsResponse;
import software.amazon.awssdk.services.kinesis.model.Record;
import software.amazon.awssdk.services.kinesis.model.ResourceInUseException;
import software.amazon.awssdk.services.kinesis.model.ResourceNotFoundException;
import software.amazon.awssdk.services.kinesis.model.ShardIteratorType;
import software.amazon.awssdk.services.kinesis.model.StartingPosition;
import software.amazon.awssdk.services.kinesis.model.SubscribeToShardEvent;

/**
 * Enhanced fan-out through KinesisAsyncClient on the Netty client in HTTP/2:
 * RegisterStreamConsumer, DescribeStreamConsumer until ACTIVE, SubscribeToShard
 * with records put before and after subscribing, and resuming from a
 * ContinuationSequenceNumber without losing or repeating a record.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class SubscribeToShardTest {
    private static final String SHARD = "shardId-000000000000";
    /** Waits for a server that is working; they fail a hung one, never a slow one's speed. */
    private static final Duration EVENT_TIMEOUT = Duration.ofSeconds(30);
    /** AWS refuses a second subscription to a consumer's shard within 5 s of the previous one. */
    private static final Duration RESUBSCRIBE_GAP = Duration.ofMillis(5500);

    /**
     * The SDK marshals SubscribeToShard with its JSON protocol factory even when
     * CBOR is on for every other operation, and reads the event payloads as
     * JSON: the answer must follow the request, not the client's CBOR setting.
     */
    private static final String SUBSCRIBE_CONTENT_TYPE = "application/x-amz-json-1.1";

    private KinesdServer server;
    @RegisterExtension
    final ServerLogOnFailure serverLog = new ServerLogOnFailure(() -> server);
    private final WireLog wire = new WireLog();
    private KinesisAsyncClient kinesis;
    private final List<ShardSubscription> open = new ArrayList<>();

    @BeforeAll
    void start() throws Exception {
        server = KinesdServer.start("--create-stream-ms", "300", "--update-stream-ms", "300");
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

    @AfterEach
    void closeSubscriptions() {
        open.forEach(ShardSubscription::close);
        open.clear();
    }

    @Test
    void registerConsumerAndDescribeUntilActive() throws Exception {
        String streamArn = createActive(kinesis, "java-efo-register");
        Instant before = Instant.now();
        Consumer registered = await(kinesis.registerStreamConsumer(r -> r.streamARN(streamArn)
                .consumerName("reader"))).consumer();
        Instant after = Instant.now();
        assertEquals("reader", registered.consumerName());
        assertEquals(ConsumerStatus.CREATING, registered.consumerStatus());
        assertTrue(registered.consumerARN().startsWith(streamArn + "/consumer/reader:"), registered.consumerARN());
        Records.assertTimestampSane(registered.consumerCreationTimestamp(), before, after, "ConsumerCreationTimestamp");

        ConsumerDescription active = waitActive(kinesis, registered.consumerARN());
        assertEquals(registered.consumerARN(), active.consumerARN());
        assertEquals(streamArn, active.streamARN());
        assertEquals(registered.consumerCreationTimestamp(), active.consumerCreationTimestamp());

        ConsumerDescription byName = await(kinesis.describeStreamConsumer(r -> r.streamARN(streamArn)
                .consumerName("reader"))).consumerDescription();
        assertEquals(registered.consumerARN(), byName.consumerARN());
        List<Consumer> listed = await(kinesis.listStreamConsumers(r -> r.streamARN(streamArn))).consumers();
        assertEquals(List.of(registered.consumerARN()), listed.stream().map(Consumer::consumerARN).toList());
        checkWire();
    }

    /**
     * Records put before subscribing arrive, records put while subscribed are
     * pushed, and a second subscription AFTER_SEQUENCE_NUMBER the first one's
     * last ContinuationSequenceNumber delivers exactly the rest.
     */
    @Test
    void everyRecordArrivesAndResumingLosesAndRepeatsNothing() throws Exception {
        String streamArn = createActive(kinesis, "java-efo-resume");
        String consumerArn = registerActive(kinesis, streamArn, "resume");
        List<Records.Put> puts = new ArrayList<>(putRecords(kinesis, streamArn, Records.entries(300, 7, 300)));

        List<Record> delivered = new ArrayList<>();
        Instant firstStarted = Instant.now();
        ShardSubscription first = subscribe(consumerArn, StartingPosition.builder()
                .type(ShardIteratorType.TRIM_HORIZON).build());
        first.awaitStarted(EVENT_TIMEOUT);
        delivered.addAll(first.records(300, EVENT_TIMEOUT));

        // Pushed while subscribed: single PutRecord calls and a batch.
        for (int i = 0; i < 15; i++) {
            puts.add(putRecord(kinesis, streamArn, "pushed-" + (i % 4), ("pushed " + i).getBytes()));
        }
        puts.addAll(putRecords(kinesis, streamArn, Records.entries(25, 5, 25)));
        delivered.addAll(first.records(40, EVENT_TIMEOUT));
        assertEventsConsistent(first.events());
        String resumeAfter = first.continuation();
        assertNotNull(resumeAfter, "no ContinuationSequenceNumber in the first subscription's events");
        first.close();

        // Put while nobody listens, then again once resumed.
        puts.addAll(putRecords(kinesis, streamArn, Records.entries(30, 3, 30)));
        sleepUntil(firstStarted.plus(RESUBSCRIBE_GAP));
        ShardSubscription second = subscribe(consumerArn, StartingPosition.builder()
                .type(ShardIteratorType.AFTER_SEQUENCE_NUMBER).sequenceNumber(resumeAfter).build());
        second.awaitStarted(EVENT_TIMEOUT);
        for (int i = 0; i < 10; i++) {
            puts.add(putRecord(kinesis, streamArn, "late-" + (i % 2), new byte[] {(byte) i, 0, (byte) 0xff}));
        }
        delivered.addAll(second.records(40, EVENT_TIMEOUT));
        assertEventsConsistent(second.events());

        // The next event is a heartbeat: nothing more was owed, so nothing more comes.
        SubscribeToShardEvent idle = second.next(EVENT_TIMEOUT);
        assertNotNull(idle, "the stream ended instead of sending an idle event: " + second.endError());
        assertEquals(List.of(), idle.records(), "records delivered twice or never put");
        assertNotNull(idle.continuationSequenceNumber(), "ContinuationSequenceNumber of an idle event");
        String lastDelivered = delivered.get(delivered.size() - 1).sequenceNumber();
        assertTrue(new BigInteger(idle.continuationSequenceNumber()).compareTo(new BigInteger(lastDelivered)) >= 0,
                "the idle event's ContinuationSequenceNumber is before the last record delivered");

        Records.assertReadBack(puts, Map.of(SHARD, delivered));
        checkWire();
    }

    @Test
    void latestStartsAfterTheRecordsAlreadyThere() throws Exception {
        String streamArn = createActive(kinesis, "java-efo-latest");
        String consumerArn = registerActive(kinesis, streamArn, "latest");
        putRecords(kinesis, streamArn, Records.entries(10, 2, 10));
        ShardSubscription subscription = subscribe(consumerArn, StartingPosition.builder()
                .type(ShardIteratorType.LATEST).build());
        subscription.awaitStarted(EVENT_TIMEOUT);
        List<Records.Put> later = putRecords(kinesis, streamArn, Records.entries(5, 2, 5));
        Records.assertReadBack(later, Map.of(SHARD, subscription.records(5, EVENT_TIMEOUT)));
        checkWire();
    }

    @Test
    void atTimestampStartsAtTheFirstRecordAtOrAfterIt() throws Exception {
        String streamArn = createActive(kinesis, "java-efo-timestamp");
        String consumerArn = registerActive(kinesis, streamArn, "timestamp");
        putRecords(kinesis, streamArn, Records.entries(10, 2, 11));
        Thread.sleep(20);
        List<Records.Put> later = putRecords(kinesis, streamArn, Records.entries(10, 2, 12));
        Instant firstLate = Reads.readShard(await(kinesis.getShardIterator(r -> r.streamARN(streamArn).shardId(SHARD)
                        .shardIteratorType(ShardIteratorType.AT_SEQUENCE_NUMBER)
                        .startingSequenceNumber(later.get(0).sequenceNumber()))).shardIterator(),
                r -> await(kinesis.getRecords(r))).get(0).approximateArrivalTimestamp();
        ShardSubscription subscription = subscribe(consumerArn, StartingPosition.builder()
                .type(ShardIteratorType.AT_TIMESTAMP).timestamp(firstLate).build());
        subscription.awaitStarted(EVENT_TIMEOUT);
        Records.assertReadBack(later, Map.of(SHARD, subscription.records(10, EVENT_TIMEOUT)));
        checkWire();
    }

    /** A second call within 5 s is refused; one after 5 s takes over and ends the first with ResourceInUse. */
    @Test
    void aSecondSubscriptionIsRefusedThenTakesOver() throws Exception {
        String streamArn = createActive(kinesis, "java-efo-takeover");
        String consumerArn = registerActive(kinesis, streamArn, "takeover");
        StartingPosition latest = StartingPosition.builder().type(ShardIteratorType.LATEST).build();
        Instant firstStarted = Instant.now();
        ShardSubscription first = subscribe(consumerArn, latest);
        first.awaitStarted(EVENT_TIMEOUT);

        ShardSubscription refused = subscribe(consumerArn, latest);
        assertThrows(ResourceInUseException.class, () -> refused.awaitStarted(EVENT_TIMEOUT));

        sleepUntil(firstStarted.plus(RESUBSCRIBE_GAP));
        ShardSubscription second = subscribe(consumerArn, latest);
        second.awaitStarted(EVENT_TIMEOUT);
        Throwable firstEnd = first.awaitEnd(EVENT_TIMEOUT);
        assertInstanceOf(ResourceInUseException.class, rootCause(firstEnd), "how the first subscription ended");

        Records.Put put = putRecord(kinesis, streamArn, "after-takeover", new byte[] {42});
        Records.assertReadBack(List.of(put), Map.of(SHARD, second.records(1, EVENT_TIMEOUT)));
    }

    /**
     * A subscription ends cleanly when its lifetime is over (AWS: 5 minutes,
     * here a few seconds), sending idle events until then; the next one,
     * AFTER_SEQUENCE_NUMBER the last ContinuationSequenceNumber, delivers what
     * was put in between.
     */
    @Test
    void aSubscriptionEndsAtItsLifetimeAndTheNextOneResumes() throws Exception {
        try (KinesdServer shortLived = KinesdServer.start("--create-stream-ms", "300",
                "--subscription-lifetime-ms", "6000", "--subscribe-heartbeat-ms", "500");
             KinesisAsyncClient client = Clients.nettyHttp2(shortLived.endpoint(), wire)) {
            String streamArn = createActive(client, "java-efo-lifetime");
            String consumerArn = registerActive(client, streamArn, "lifetime");
            List<Records.Put> puts = new ArrayList<>(putRecords(client, streamArn, Records.entries(20, 2, 20)));
            ShardSubscription first = ShardSubscription.open(client, consumerArn, SHARD,
                    StartingPosition.builder().type(ShardIteratorType.TRIM_HORIZON).build());
            open.add(first);
            first.awaitStarted(EVENT_TIMEOUT);
            List<Record> delivered = new ArrayList<>(first.records(20, EVENT_TIMEOUT));
            int idleEvents = 0;
            for (SubscribeToShardEvent event; (event = first.next(EVENT_TIMEOUT)) != null; idleEvents++) {
                assertEquals(List.of(), event.records(), "records nobody put");
            }
            assertNull(first.endError(), "the subscription did not end cleanly at its lifetime");
            // Heartbeats every 0.5 s over a 6 s lifetime: at least one must have come.
            assertTrue(idleEvents >= 1, "no idle event before the end");
            assertEventsConsistent(first.events());

            puts.addAll(putRecords(client, streamArn, Records.entries(10, 2, 21)));
            ShardSubscription second = ShardSubscription.open(client, consumerArn, SHARD, StartingPosition.builder()
                    .type(ShardIteratorType.AFTER_SEQUENCE_NUMBER).sequenceNumber(first.continuation()).build());
            open.add(second);
            second.awaitStarted(EVENT_TIMEOUT);
            delivered.addAll(second.records(10, EVENT_TIMEOUT));
            Records.assertReadBack(puts, Map.of(SHARD, delivered));
            second.close();
        }
        checkWire();
    }

    /**
     * After a split, the parent's subscription delivers its records, then an
     * event with the two children and no ContinuationSequenceNumber, then ends.
     */
    @Test
    void aClosedShardEndsWithItsChildShards() throws Exception {
        String stream = "java-efo-split";
        String streamArn = createActive(kinesis, stream);
        String consumerArn = registerActive(kinesis, streamArn, "split");
        ShardSubscription subscription = subscribe(consumerArn, StartingPosition.builder()
                .type(ShardIteratorType.TRIM_HORIZON).build());
        subscription.awaitStarted(EVENT_TIMEOUT);
        List<Records.Put> puts = putRecords(kinesis, streamArn, Records.entries(30, 4, 33));
        await(kinesis.splitShard(r -> r.streamName(stream).shardToSplit(SHARD)
                .newStartingHashKey(BigInteger.ONE.shiftLeft(127).toString())));
        await(kinesis.waiter().waitUntilStreamExists(r -> r.streamName(stream), Clients.pollOften()));

        List<Record> delivered = new ArrayList<>();
        SubscribeToShardEvent last = null;
        for (SubscribeToShardEvent event; (event = subscription.next(EVENT_TIMEOUT)) != null; ) {
            assertNull(last, "an event after the one with ChildShards");
            delivered.addAll(event.records());
            if (event.hasChildShards() && !event.childShards().isEmpty()) {
                last = event;
            }
        }
        assertNull(subscription.endError(), "the stream of a closed shard did not end cleanly");
        assertNotNull(last, "no event with ChildShards before the end");
        assertNull(last.continuationSequenceNumber(), "ContinuationSequenceNumber at the end of a closed shard");
        assertEquals(List.of("shardId-000000000001", "shardId-000000000002"),
                last.childShards().stream().map(c -> c.shardId()).sorted().toList());
        for (var child : last.childShards()) {
            assertEquals(List.of(SHARD), child.parentShards(), "parents of " + child.shardId());
        }
        Records.assertReadBack(puts, Map.of(SHARD, delivered));
        checkWire();
    }

    /** The same over HTTP/1.1, where the event stream is a chunked body. */
    @Test
    void subscribeOverHttp11() throws Exception {
        WireLog http11Wire = new WireLog();
        try (KinesisAsyncClient client = Clients.nettyHttp11(server.endpoint(), http11Wire)) {
            String streamArn = createActive(client, "java-efo-http11");
            String consumerArn = registerActive(client, streamArn, "http11");
            List<Records.Put> puts = new ArrayList<>(putRecords(client, streamArn, Records.entries(50, 3, 50)));
            ShardSubscription subscription = ShardSubscription.open(client, consumerArn, SHARD,
                    StartingPosition.builder().type(ShardIteratorType.TRIM_HORIZON).build());
            open.add(subscription);
            subscription.awaitStarted(EVENT_TIMEOUT);
            List<Record> delivered = new ArrayList<>(subscription.records(50, EVENT_TIMEOUT));
            puts.addAll(putRecords(client, streamArn, Records.entries(10, 3, 51)));
            delivered.addAll(subscription.records(10, EVENT_TIMEOUT));
            Records.assertReadBack(puts, Map.of(SHARD, delivered));
            assertEventsConsistent(subscription.events());
            subscription.close();
        }
        WireLog.Exchange call = http11Wire.last("SubscribeToShard");
        assertEquals(SUBSCRIBE_CONTENT_TYPE, call.requestContentType);
        assertEquals("application/vnd.amazon.eventstream", call.responseContentType);
        assertFalse(call.http2, "HTTP/2 from an HTTP/1.1 client: " + call);
        assertEquals(List.of(), call.frames.errors());
    }

    @Test
    void unknownConsumerOrShardIsResourceNotFound() throws Exception {
        String streamArn = createActive(kinesis, "java-efo-unknown");
        String consumerArn = registerActive(kinesis, streamArn, "known");
        StartingPosition horizon = StartingPosition.builder().type(ShardIteratorType.TRIM_HORIZON).build();
        ShardSubscription noConsumer = subscribe(streamArn + "/consumer/nobody:1700000000", horizon);
        assertThrows(ResourceNotFoundException.class, () -> noConsumer.awaitStarted(EVENT_TIMEOUT));
        ShardSubscription noShard = ShardSubscription.open(kinesis, consumerArn, "shardId-000000000007", horizon);
        open.add(noShard);
        assertThrows(ResourceNotFoundException.class, () -> noShard.awaitStarted(EVENT_TIMEOUT));
    }

    // -- helpers -------------------------------------------------------------------

    private ShardSubscription subscribe(String consumerArn, StartingPosition position) {
        ShardSubscription subscription = ShardSubscription.open(kinesis, consumerArn, SHARD, position);
        open.add(subscription);
        return subscription;
    }

    private static String createActive(KinesisAsyncClient k, String stream) {
        await(k.createStream(r -> r.streamName(stream).shardCount(1)));
        await(k.waiter().waitUntilStreamExists(r -> r.streamName(stream), Clients.pollOften()));
        return await(k.describeStreamSummary(r -> r.streamName(stream))).streamDescriptionSummary().streamARN();
    }

    private static String registerActive(KinesisAsyncClient k, String streamArn, String name)
            throws InterruptedException {
        String arn = await(k.registerStreamConsumer(r -> r.streamARN(streamArn).consumerName(name)))
                .consumer().consumerARN();
        waitActive(k, arn);
        return arn;
    }

    private static ConsumerDescription waitActive(KinesisAsyncClient k, String consumerArn)
            throws InterruptedException {
        long deadline = System.nanoTime() + Duration.ofSeconds(60).toNanos();
        while (true) {
            ConsumerDescription description = await(k.describeStreamConsumer(r -> r.consumerARN(consumerArn)))
                    .consumerDescription();
            if (description.consumerStatus() == ConsumerStatus.ACTIVE) {
                return description;
            }
            assertEquals(ConsumerStatus.CREATING, description.consumerStatus());
            assertTrue(System.nanoTime() < deadline, "the consumer is still CREATING after 60 s");
            Thread.sleep(100);
        }
    }

    private static List<Records.Put> putRecords(KinesisAsyncClient k, String streamArn,
                                                List<PutRecordsRequestEntry> entries) {
        Instant before = Instant.now();
        PutRecordsResponse answer = await(k.putRecords(r -> r.streamARN(streamArn).records(entries)));
        Instant after = Instant.now();
        assertEquals(0, answer.failedRecordCount());
        List<Records.Put> puts = new ArrayList<>();
        for (int i = 0; i < entries.size(); i++) {
            puts.add(new Records.Put(entries.get(i).partitionKey(), entries.get(i).data().asByteArray(),
                    answer.records().get(i).sequenceNumber(), answer.records().get(i).shardId(), before, after));
        }
        return puts;
    }

    private static Records.Put putRecord(KinesisAsyncClient k, String streamArn, String key, byte[] data) {
        Instant before = Instant.now();
        PutRecordResponse answer = await(k.putRecord(r -> r.streamARN(streamArn).partitionKey(key)
                .data(SdkBytes.fromByteArray(data))));
        return new Records.Put(key, data, answer.sequenceNumber(), answer.shardId(), before, Instant.now());
    }

    /**
     * Each event's ContinuationSequenceNumber is at or after its last record's,
     * and MillisBehindLatest is present.
     */
    private static void assertEventsConsistent(List<SubscribeToShardEvent> events) {
        for (SubscribeToShardEvent event : events) {
            assertNotNull(event.millisBehindLatest(), "MillisBehindLatest");
            assertTrue(event.millisBehindLatest() >= 0, "MillisBehindLatest " + event.millisBehindLatest());
            assertNotNull(event.continuationSequenceNumber(), "ContinuationSequenceNumber on an open shard");
            if (!event.records().isEmpty()) {
                String last = event.records().get(event.records().size() - 1).sequenceNumber();
                assertTrue(new BigInteger(event.continuationSequenceNumber()).compareTo(new BigInteger(last)) >= 0,
                        "ContinuationSequenceNumber " + event.continuationSequenceNumber() + " before record " + last);
            }
        }
    }

    /**
     * The SubscribeToShard calls went over HTTP/2 in the run's encoding and
     * answered with event streams whose frames are well formed and whose
     * payloads are in the request's encoding.
     */
    private void checkWire() {
        List<WireLog.Exchange> calls = wire.exchanges("SubscribeToShard");
        Set<String> contentTypes = new TreeSet<>();
        for (WireLog.Exchange call : calls) {
            assertEquals(SUBSCRIBE_CONTENT_TYPE, call.requestContentType, "request of " + call);
            assertTrue(call.http2, "not over HTTP/2: " + call);
            if (call.status != 200) {
                continue;
            }
            assertEquals("application/vnd.amazon.eventstream", call.responseContentType, "answer to " + call);
            assertEquals(List.of(), call.frames.errors(), "framing of " + call);
            List<EventStreamFrames.Frame> frames = call.frames.frames();
            assertTrue(!frames.isEmpty(), "no frames in " + call);
            assertEquals("event", frames.get(0).header(":message-type"), "first frame of " + call);
            assertEquals("initial-response", frames.get(0).header(":event-type"), "first frame of " + call);
            for (EventStreamFrames.Frame frame : frames) {
                String type = frame.header(":message-type") + " " + (frame.header(":event-type") != null
                        ? frame.header(":event-type") : frame.header(":exception-type"));
                contentTypes.add(type + " -> " + frame.header(":content-type"));
                if ("SubscribeToShardEvent".equals(frame.header(":event-type"))) {
                    assertEquals('{', frame.payload()[0] & 0xff, "not a JSON object: " + frame);
                }
            }
        }
        System.out.println("SubscribeToShard frames seen (type -> :content-type): " + contentTypes);
        for (WireLog.Exchange call : wire.exchanges()) {
            if (!call.operation.equals("SubscribeToShard")) {
                assertEquals(Clients.contentType(), call.requestContentType, "request of " + call);
                assertEquals(Clients.contentType(), call.responseContentType, "answer to " + call);
                assertTrue(call.http2, "not over HTTP/2: " + call);
            }
        }
    }

    private static Throwable rootCause(Throwable error) {
        Throwable cause = error;
        while (cause != null && cause.getCause() != null && cause.getCause() != cause) {
            cause = cause.getCause();
        }
        return cause;
    }

    private static void sleepUntil(Instant moment) throws InterruptedException {
        long wait = Duration.between(Instant.now(), moment).toMillis();
        if (wait > 0) {
            Thread.sleep(wait);
        }
    }
}
