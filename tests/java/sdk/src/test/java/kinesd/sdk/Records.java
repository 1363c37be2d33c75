package kinesd.sdk;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import java.math.BigInteger;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import software.amazon.awssdk.core.SdkBytes;
import software.amazon.awssdk.services.kinesis.model.PutRecordsRequestEntry;
import software.amazon.awssdk.services.kinesis.model.Record;
import software.amazon.awssdk.services.kinesis.model.Shard;

/** Records a test puts, and the checks that what comes back is exactly what went in. */
final class Records {
    /**
     * Both clocks are this machine's; the slack only covers rounding. A server
     * that mixed up seconds and milliseconds is off by a factor of 1,000.
     */
    static final Duration CLOCK_SLACK = Duration.ofSeconds(5);

    /** One record as put: its content, where it went and when it was sent. */
    record Put(String key, byte[] data, String sequenceNumber, String shardId, Instant sentAfter,
               Instant answeredBefore) {
    }

    private Records() {
    }

    /**
     * `count` records over `keys` partition keys, with data of every byte value
     * and sizes from 1 byte to a few KiB. Deterministic for a given seed.
     */
    static List<PutRecordsRequestEntry> entries(int count, int keys, long seed) {
        Random random = new Random(seed);
        List<PutRecordsRequestEntry> entries = new ArrayList<>();
        for (int i = 0; i < count; i++) {
            int size = i % 50 == 0 ? 1 + random.nextInt(8192) : 1 + random.nextInt(600);
            byte[] data = new byte[size];
            random.nextBytes(data);
            // Some records start like text so that a base64 or UTF-8 mix-up shows.
            if (i % 7 == 0) {
                byte[] text = ("record " + i + " \u00e9\u6f22 {\"k\":1}").getBytes(StandardCharsets.UTF_8);
                System.arraycopy(text, 0, data, 0, Math.min(text.length, data.length));
            }
            entries.add(PutRecordsRequestEntry.builder()
                    .partitionKey("key-" + (i % keys))
                    .data(SdkBytes.fromByteArray(data))
                    .build());
        }
        return entries;
    }

    /** The shard a partition key belongs to: MD5 of the key, as a 128-bit number, inside the hash key range. */
    static String shardFor(String key, List<Shard> shards) {
        BigInteger hash;
        try {
            hash = new BigInteger(1, MessageDigest.getInstance("MD5").digest(key.getBytes(StandardCharsets.UTF_8)));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
        for (Shard shard : shards) {
            BigInteger low = new BigInteger(shard.hashKeyRange().startingHashKey());
            BigInteger high = new BigInteger(shard.hashKeyRange().endingHashKey());
            if (hash.compareTo(low) >= 0 && hash.compareTo(high) <= 0) {
                return shard.shardId();
            }
        }
        throw new AssertionError("no shard covers the hash of " + key);
    }

    static void assertTimestampSane(Instant timestamp, Instant notBefore, Instant notAfter, String what) {
        assertNotNull(timestamp, what + " has no timestamp");
        assertTrue(!timestamp.isBefore(notBefore.minus(CLOCK_SLACK)) && !timestamp.isAfter(notAfter.plus(CLOCK_SLACK)),
                what + " is " + timestamp + ", outside [" + notBefore + ", " + notAfter + "] (+/- " + CLOCK_SLACK
                        + "): seconds and milliseconds mixed up?");
    }

    /**
     * Every record put comes back exactly once, byte for byte, with its key, in
     * its shard, in put order per key, with a sane arrival time; nothing else
     * comes back. `read` maps each shard to the records read from it, in order.
     */
    static void assertReadBack(List<Put> puts, Map<String, List<Record>> read) {
        Map<String, Put> bySequence = new HashMap<>();
        for (Put put : puts) {
            assertNotNull(put.sequenceNumber(), "a put has no sequence number");
            if (bySequence.put(put.sequenceNumber(), put) != null) {
                fail("two puts got the same sequence number " + put.sequenceNumber());
            }
        }
        Map<String, List<String>> keyOrderRead = new LinkedHashMap<>();
        int seen = 0;
        for (Map.Entry<String, List<Record>> shard : read.entrySet()) {
            BigInteger previous = BigInteger.valueOf(-1);
            for (Record record : shard.getValue()) {
                Put put = bySequence.remove(record.sequenceNumber());
                if (put == null) {
                    fail("read a record that was not put, or read it twice: " + record.sequenceNumber()
                            + " in " + shard.getKey());
                }
                seen++;
                BigInteger sequence = new BigInteger(record.sequenceNumber());
                assertTrue(sequence.compareTo(previous) > 0, "sequence numbers go backwards in " + shard.getKey());
                previous = sequence;
                assertEquals(put.shardId(), shard.getKey(),
                        "record " + record.sequenceNumber() + " read from another shard");
                assertEquals(put.key(), record.partitionKey(), "partition key of " + record.sequenceNumber());
                assertArrayEquals(put.data(), record.data().asByteArray(), "data of " + record.sequenceNumber());
                assertTimestampSane(record.approximateArrivalTimestamp(), put.sentAfter(), put.answeredBefore(),
                        "ApproximateArrivalTimestamp of " + record.sequenceNumber());
                keyOrderRead.computeIfAbsent(record.partitionKey(), k -> new ArrayList<>())
                        .add(record.sequenceNumber());
            }
        }
        assertTrue(bySequence.isEmpty(), (puts.size() - seen) + " records put were never read, e.g. "
                + bySequence.keySet().stream().limit(5).toList());
        Map<String, List<String>> keyOrderPut = new LinkedHashMap<>();
        for (Put put : puts) {
            keyOrderPut.computeIfAbsent(put.key(), k -> new ArrayList<>()).add(put.sequenceNumber());
        }
        for (Map.Entry<String, List<String>> key : keyOrderPut.entrySet()) {
            assertEquals(key.getValue(), keyOrderRead.get(key.getKey()), "read order of " + key.getKey());
        }
    }
}
