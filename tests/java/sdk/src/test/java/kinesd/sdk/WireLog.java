package kinesd.sdk;

import java.nio.ByteBuffer;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CopyOnWriteArrayList;
import org.reactivestreams.Publisher;
import org.reactivestreams.Subscriber;
import org.reactivestreams.Subscription;
import software.amazon.awssdk.core.interceptor.Context;
import software.amazon.awssdk.core.interceptor.ExecutionAttribute;
import software.amazon.awssdk.core.interceptor.ExecutionAttributes;
import software.amazon.awssdk.core.interceptor.ExecutionInterceptor;
import software.amazon.awssdk.core.interceptor.SdkExecutionAttribute;

/**
 * Records what went over the wire for every call a client makes: the request's
 * and the response's Content-Type, whether the answer came over HTTP/2, and for
 * event streams the frames themselves (parsed by {@link EventStreamFrames}), so
 * that a test can check the encoding and a failure shows what was exchanged.
 */
final class WireLog implements ExecutionInterceptor {
    /** One call: filled in as the call proceeds. */
    static final class Exchange {
        final String operation;
        volatile String requestContentType;
        volatile int status;
        volatile String responseContentType;
        /** Netty adds this header to answers that arrived on an HTTP/2 stream. */
        volatile boolean http2;
        final EventStreamFrames frames = new EventStreamFrames();

        Exchange(String operation) {
            this.operation = operation;
        }

        @Override
        public String toString() {
            return operation + ": request " + requestContentType + " -> " + status + " " + responseContentType
                    + (http2 ? " over HTTP/2" : " over HTTP/1.1") + (frames.isEmpty() ? "" : ", frames " + frames);
        }
    }

    private static final ExecutionAttribute<Exchange> EXCHANGE = new ExecutionAttribute<>("kinesd.exchange");

    private final List<Exchange> exchanges = new CopyOnWriteArrayList<>();

    List<Exchange> exchanges() {
        return exchanges;
    }

    List<Exchange> exchanges(String operation) {
        return exchanges.stream().filter(e -> e.operation.equals(operation)).toList();
    }

    Exchange last(String operation) {
        List<Exchange> matching = exchanges(operation);
        if (matching.isEmpty()) {
            throw new AssertionError("no " + operation + " call was recorded; calls: " + exchanges);
        }
        return matching.get(matching.size() - 1);
    }

    @Override
    public void beforeTransmission(Context.BeforeTransmission context, ExecutionAttributes attributes) {
        Exchange exchange = new Exchange(attributes.getAttribute(SdkExecutionAttribute.OPERATION_NAME));
        exchange.requestContentType = context.httpRequest().firstMatchingHeader("Content-Type").orElse(null);
        attributes.putAttribute(EXCHANGE, exchange);
        exchanges.add(exchange);
    }

    @Override
    public void afterTransmission(Context.AfterTransmission context, ExecutionAttributes attributes) {
        Exchange exchange = attributes.getAttribute(EXCHANGE);
        if (exchange == null) {
            return;
        }
        exchange.status = context.httpResponse().statusCode();
        exchange.responseContentType = context.httpResponse().firstMatchingHeader("Content-Type").orElse(null);
        exchange.http2 = context.httpResponse().firstMatchingHeader("x-http2-stream-id").isPresent();
    }

    @Override
    public Optional<Publisher<ByteBuffer>> modifyAsyncHttpResponseContent(Context.ModifyHttpResponse context,
                                                                         ExecutionAttributes attributes) {
        Optional<Publisher<ByteBuffer>> body = context.responsePublisher();
        Exchange exchange = attributes.getAttribute(EXCHANGE);
        String type = context.httpResponse().firstMatchingHeader("Content-Type").orElse("");
        if (exchange == null || body.isEmpty() || !type.startsWith("application/vnd.amazon.eventstream")) {
            return body;
        }
        Publisher<ByteBuffer> source = body.get();
        return Optional.of(subscriber -> source.subscribe(new Tee(subscriber, exchange.frames)));
    }

    /** Passes every buffer on unchanged after copying its bytes to the frame parser. */
    private static final class Tee implements Subscriber<ByteBuffer> {
        private final Subscriber<? super ByteBuffer> downstream;
        private final EventStreamFrames frames;

        Tee(Subscriber<? super ByteBuffer> downstream, EventStreamFrames frames) {
            this.downstream = downstream;
            this.frames = frames;
        }

        @Override
        public void onSubscribe(Subscription subscription) {
            downstream.onSubscribe(subscription);
        }

        @Override
        public void onNext(ByteBuffer buffer) {
            frames.feed(buffer.duplicate());
            downstream.onNext(buffer);
        }

        @Override
        public void onError(Throwable error) {
            downstream.onError(error);
        }

        @Override
        public void onComplete() {
            downstream.onComplete();
        }
    }
}
