package kinesd.kpl;

import com.google.common.util.concurrent.ListenableFuture;
import java.io.PrintStream;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import software.amazon.awssdk.auth.credentials.AwsBasicCredentials;
import software.amazon.awssdk.auth.credentials.StaticCredentialsProvider;
import software.amazon.kinesis.producer.Attempt;
import software.amazon.kinesis.producer.KinesisProducer;
import software.amazon.kinesis.producer.KinesisProducerConfiguration;
import software.amazon.kinesis.producer.UserRecordFailedException;
import software.amazon.kinesis.producer.UserRecordResult;

/**
 * Puts user records into one stream through the Kinesis Producer Library (its native
 * daemon does the HTTPS calls), with aggregation on, and prints one JSON line per user
 * record once every future has completed.
 *
 * <p>Options ({@code --name value}): host, port (the Kinesis endpoint, TLS), stream,
 * count (user records), keys (partition keys), verify ({@code true}/{@code false}),
 * ca-path (a directory of hashed CA certificates), ca-file (one CA certificate file),
 * temp-dir (where the KPL extracts its native binary), region, record-ttl (ms),
 * cloudwatch-port and sts-port (loopback ports that must stay unused).
 *
 * <p>Record {@code i} has partition key {@code key-<i mod keys>} and data
 * {@code <key>:<i div keys>}: a per-key counter, so a reader can check order and
 * completeness. Output lines: {@code {"key":…,"n":…,"ok":…,"shard":…,"sequence":…,
 * "attempts":…,"errors":[…]}}. Exit status 0 only if every record succeeded.
 */
public final class ProducerApp {
    public static void main(String[] args) throws Exception {
        Map<String, String> options = parse(args);
        String stream = required(options, "stream");
        int count = Integer.parseInt(required(options, "count"));
        int keys = Integer.parseInt(required(options, "keys"));

        KinesisProducerConfiguration config = new KinesisProducerConfiguration()
                .setKinesisEndpoint(required(options, "host"))
                .setKinesisPort(Long.parseLong(required(options, "port")))
                .setRegion(options.getOrDefault("region", "us-east-1"))
                // Any signature is accepted by a server without a credentials file; fixed
                // ones keep the KPL away from this machine's profiles and instance metadata.
                .setCredentialsProvider(
                        StaticCredentialsProvider.create(AwsBasicCredentials.create("test", "test")))
                .setAggregationEnabled(true)
                .setMetricsLevel("none")
                .setVerifyCertificate(Boolean.parseBoolean(options.getOrDefault("verify", "true")))
                .setLogLevel(options.getOrDefault("log-level", "info"))
                .setRecordMaxBufferedTime(100)
                .setRequestTimeout(10000);
        // CloudWatch must never be called with metrics off; if it were, it would reach
        // the test's own listener (which counts calls) instead of leaving this machine.
        if (options.containsKey("cloudwatch-port")) {
            config.setCloudwatchEndpoint("127.0.0.1")
                    .setCloudwatchPort(Long.parseLong(options.get("cloudwatch-port")));
        }
        if (options.containsKey("sts-port")) {
            config.setStsEndpoint("127.0.0.1").setStsPort(Long.parseLong(options.get("sts-port")));
        }
        if (options.containsKey("ca-path")) {
            config.setCaCertPath(options.get("ca-path"));
        }
        if (options.containsKey("ca-file")) {
            config.setCaCertFile(options.get("ca-file"));
        }
        if (options.containsKey("record-ttl")) {
            config.setRecordTtl(Long.parseLong(options.get("record-ttl")));
        }
        if (options.containsKey("temp-dir")) {
            config.setTempDirectory(options.get("temp-dir"));
        }

        KinesisProducer producer = new KinesisProducer(config);
        List<ListenableFuture<UserRecordResult>> futures = new ArrayList<>(count);
        // The KPL aggregates only once it knows the stream's shards (its first ListShards);
        // records put before that go out one by one. So the first round, one record per
        // key, is awaited before the rest is put, which then goes out in aggregates.
        int first = Math.min(keys, count);
        for (int i = 0; i < count; i++) {
            String key = String.format("key-%02d", i % keys);
            byte[] data = (key + ":" + (i / keys)).getBytes(StandardCharsets.UTF_8);
            futures.add(producer.addUserRecord(stream, key, ByteBuffer.wrap(data)));
            if (i == first - 1) {
                producer.flush();
                for (ListenableFuture<UserRecordResult> future : futures) {
                    await(future);
                }
            }
        }
        producer.flush();

        PrintStream out = System.out;
        int failed = 0;
        for (int i = 0; i < count; i++) {
            UserRecordResult result = await(futures.get(i));
            if (result == null || !result.isSuccessful()) {
                failed++;
            }
            out.println(line(String.format("key-%02d", i % keys), i / keys, result));
        }
        out.flush();
        producer.flushSync();
        producer.destroy();
        System.err.printf("%d of %d user records failed%n", failed, count);
        System.exit(failed == 0 ? 0 : 1);
    }

    private static UserRecordResult await(ListenableFuture<UserRecordResult> future)
            throws InterruptedException {
        try {
            return future.get(120, TimeUnit.SECONDS);
        } catch (ExecutionException e) {
            if (e.getCause() instanceof UserRecordFailedException failed) {
                return failed.getResult();
            }
            e.printStackTrace();
            return null;
        } catch (TimeoutException e) {
            return null;
        }
    }

    private static String line(String key, int n, UserRecordResult result) {
        StringBuilder b = new StringBuilder();
        b.append("{\"key\":").append(quote(key)).append(",\"n\":").append(n);
        if (result == null) {
            return b.append(",\"ok\":false,\"attempts\":0,\"errors\":[\"no result\"]}").toString();
        }
        b.append(",\"ok\":").append(result.isSuccessful());
        b.append(",\"shard\":").append(quote(result.getShardId()));
        b.append(",\"sequence\":").append(quote(result.getSequenceNumber()));
        b.append(",\"attempts\":").append(result.getAttempts().size());
        // Each distinct error once: a record retried for seconds fails the same way many times.
        Set<String> errors = new LinkedHashSet<>();
        for (Attempt attempt : result.getAttempts()) {
            if (!attempt.isSuccessful()) {
                errors.add(attempt.getErrorCode() + ": " + attempt.getErrorMessage());
            }
        }
        b.append(",\"errors\":[");
        String sep = "";
        for (String error : errors) {
            b.append(sep).append(quote(error));
            sep = ",";
        }
        return b.append("]}").toString();
    }

    private static String quote(String s) {
        if (s == null) {
            return "null";
        }
        StringBuilder b = new StringBuilder("\"");
        for (char c : s.toCharArray()) {
            if (c == '"' || c == '\\') {
                b.append('\\').append(c);
            } else if (c < 0x20) {
                b.append(String.format("\\u%04x", (int) c));
            } else {
                b.append(c);
            }
        }
        return b.append('"').toString();
    }

    private static Map<String, String> parse(String[] args) {
        Map<String, String> options = new HashMap<>();
        for (int i = 0; i + 1 < args.length; i += 2) {
            if (!args[i].startsWith("--")) {
                throw new IllegalArgumentException("expected --name value, got " + args[i]);
            }
            options.put(args[i].substring(2), args[i + 1]);
        }
        return options;
    }

    private static String required(Map<String, String> options, String name) {
        String value = options.get(name);
        if (value == null) {
            throw new IllegalArgumentException("--" + name + " is required");
        }
        return value;
    }
}
