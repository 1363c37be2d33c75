package kinesd.sdk;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import org.reactivestreams.Subscriber;
import org.reactivestreams.Subscription;
import software.amazon.awssdk.services.kinesis.KinesisAsyncClient;
import software.amazon.awssdk.services.kinesis.model.Record;
import software.amazon.awssdk.services.kinesis.model.StartingPosition;
import software.amazon.awssdk.services.kinesis.model.SubscribeToShardEvent;
import software.amazon.awssdk.services.kinesis.model.SubscribeToShardEventStream;
import software.amazon.awssdk.services.kinesis.model.SubscribeToShardResponse;
import software.amazon.awssdk.services.kinesis.model.SubscribeToShardResponseHandler;

/**
 * One SubscribeToShard call through the SDK's event-stream handler. Events are
 * requested one at a time and queued; a test takes them with a deadline.
 */
final class ShardSubscription implements AutoCloseable {
    /** What the queue holds: an event, or the end of the stream (with its error, if any). */
    private record Item(SubscribeToShardEvent event, boolean end, Throwable error) {
    }

    private final LinkedBlockingQueue<Item> items = new LinkedBlockingQueue<>();
    private final CompletableFuture<Void> call;
    private final CompletableFuture<SubscribeToShardResponse> initialResponse = new CompletableFuture<>();
    private volatile Subscription upstream;
    private volatile boolean cancelled;
    private volatile Throwable endError;
    private volatile boolean ended;
    private String continuation;
    private final List<SubscribeToShardEvent> events = new ArrayList<>();

    private ShardSubscription(KinesisAsyncClient kinesis, String consumerArn, String shardId,
                              StartingPosition position) {
        SubscribeToShardResponseHandler handler = SubscribeToShardResponseHandler.builder()
                .onResponse(initialResponse::complete)
                .onEventStream(publisher -> publisher.subscribe(new Collector()))
                .onError(error -> items.add(new Item(null, true, error)))
                .build();
        call = kinesis.subscribeToShard(r -> r.consumerARN(consumerArn).shardId(shardId).startingPosition(position),
                handler);
        call.whenComplete((ok, error) -> items.add(new Item(null, true, error)));
    }

    static ShardSubscription open(KinesisAsyncClient kinesis, String consumerArn, String shardId,
                                  StartingPosition position) {
        return new ShardSubscription(kinesis, consumerArn, shardId, position);
    }

    /** The SDK's answer to the call (from the initial-response event), or the call's failure. */
    SubscribeToShardResponse awaitStarted(Duration timeout) throws Exception {
        CompletableFuture<Object> first = CompletableFuture.anyOf(initialResponse, call);
        try {
            first.get(timeout.toMillis(), TimeUnit.MILLISECONDS);
        } catch (java.util.concurrent.ExecutionException e) {
            throw e.getCause() instanceof Exception cause ? cause : e;
        }
        if (!initialResponse.isDone()) {
            throw new AssertionError("the subscription ended before its initial response");
        }
        return initialResponse.get();
    }

    /**
     * The next event, or null once the stream has ended (see {@link #endError()}).
     * Fails when nothing arrives within `timeout`.
     */
    SubscribeToShardEvent next(Duration timeout) throws InterruptedException, TimeoutException {
        if (ended) {
            return null;
        }
        Item item = items.poll(timeout.toMillis(), TimeUnit.MILLISECONDS);
        if (item == null) {
            throw new TimeoutException("no event within " + timeout);
        }
        if (item.end()) {
            ended = true;
            endError = item.error();
            return null;
        }
        events.add(item.event());
        if (item.event().continuationSequenceNumber() != null) {
            continuation = item.event().continuationSequenceNumber();
        }
        return item.event();
    }

    /**
     * Takes events until `count` records have come, all within `timeout` of the
     * previous event; fails if the stream ends first or more records come.
     */
    List<Record> records(int count, Duration timeout) throws InterruptedException, TimeoutException {
        List<Record> records = new ArrayList<>();
        while (records.size() < count) {
            SubscribeToShardEvent event = next(timeout);
            if (event == null) {
                throw new AssertionError("the stream ended after " + records.size() + " of " + count
                        + " records: " + endError);
            }
            records.addAll(event.records());
        }
        if (records.size() != count) {
            throw new AssertionError("expected " + count + " records, got " + records.size());
        }
        return records;
    }

    /** The ContinuationSequenceNumber of the last event taken. */
    String continuation() {
        return continuation;
    }

    /** Every event taken so far. */
    List<SubscribeToShardEvent> events() {
        return events;
    }

    boolean ended() {
        return ended;
    }

    Throwable endError() {
        return endError;
    }

    /** Waits for the end of the stream, skipping events; returns how it ended (null: cleanly). */
    Throwable awaitEnd(Duration timeout) throws InterruptedException, TimeoutException {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (!ended) {
            long left = deadline - System.nanoTime();
            if (left <= 0) {
                throw new TimeoutException("the stream did not end within " + timeout);
            }
            next(Duration.ofNanos(left));
        }
        return endError;
    }

    @Override
    public void close() {
        cancelled = true;
        Subscription subscription = upstream;
        if (subscription != null) {
            subscription.cancel();
        }
        call.cancel(true);
    }

    private final class Collector implements Subscriber<SubscribeToShardEventStream> {
        @Override
        public void onSubscribe(Subscription subscription) {
            upstream = subscription;
            if (cancelled) {
                subscription.cancel();
            } else {
                subscription.request(1);
            }
        }

        @Override
        public void onNext(SubscribeToShardEventStream item) {
            if (item instanceof SubscribeToShardEvent event) {
                items.add(new Item(event, false, null));
            } else {
                items.add(new Item(null, true, new AssertionError("an event of an unknown type: " + item)));
            }
            if (!cancelled) {
                upstream.request(1);
            }
        }

        @Override
        public void onError(Throwable error) {
            items.add(new Item(null, true, error));
        }

        @Override
        public void onComplete() {
            items.add(new Item(null, true, null));
        }
    }
}
