package kinesd.sdk;

import static org.junit.jupiter.api.Assertions.assertNotNull;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.function.Function;
import software.amazon.awssdk.services.kinesis.model.GetRecordsRequest;
import software.amazon.awssdk.services.kinesis.model.GetRecordsResponse;
import software.amazon.awssdk.services.kinesis.model.GetShardIteratorRequest;
import software.amazon.awssdk.services.kinesis.model.GetShardIteratorResponse;
import software.amazon.awssdk.services.kinesis.model.Record;
import software.amazon.awssdk.services.kinesis.model.Shard;
import software.amazon.awssdk.services.kinesis.model.ShardIteratorType;

/** Reading whole shards through GetShardIterator and GetRecords, with any client. */
final class Reads {
    /** GetRecords calls allowed per shard before a reader gives up (a server that never catches up). */
    private static final int MAX_CALLS = 1000;

    private Reads() {
    }

    /** The value of a call on the async client; its failure rethrown as it was. */
    static <T> T await(CompletableFuture<T> call) {
        try {
            return call.join();
        } catch (CompletionException e) {
            if (e.getCause() instanceof RuntimeException runtime) {
                throw runtime;
            }
            throw e;
        }
    }

    /**
     * Every record of every shard from TRIM_HORIZON, read until the shard is
     * caught up (an empty answer with MillisBehindLatest 0).
     */
    static Map<String, List<Record>> readAll(String stream, List<Shard> shards,
                                             Function<GetShardIteratorRequest, GetShardIteratorResponse> iterator,
                                             Function<GetRecordsRequest, GetRecordsResponse> getRecords) {
        Map<String, List<Record>> read = new LinkedHashMap<>();
        for (Shard shard : shards) {
            String position = iterator.apply(GetShardIteratorRequest.builder()
                    .streamName(stream)
                    .shardId(shard.shardId())
                    .shardIteratorType(ShardIteratorType.TRIM_HORIZON)
                    .build()).shardIterator();
            read.put(shard.shardId(), readShard(position, getRecords));
        }
        return read;
    }

    static List<Record> readShard(String position, Function<GetRecordsRequest, GetRecordsResponse> getRecords) {
        List<Record> records = new ArrayList<>();
        for (int call = 0; call < MAX_CALLS; call++) {
            assertNotNull(position, "GetRecords returned no NextShardIterator on an open shard");
            GetRecordsResponse answer = getRecords.apply(GetRecordsRequest.builder()
                    .shardIterator(position)
                    .limit(10000)
                    .build());
            records.addAll(answer.records());
            if (answer.records().isEmpty() && answer.millisBehindLatest() != null && answer.millisBehindLatest() == 0) {
                return records;
            }
            position = answer.nextShardIterator();
        }
        throw new AssertionError("the shard was not caught up after " + MAX_CALLS + " GetRecords calls");
    }
}
