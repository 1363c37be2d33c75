package kinesd.kcl;

import java.net.URI;
import java.time.Duration;
import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import software.amazon.awssdk.auth.credentials.AwsBasicCredentials;
import software.amazon.awssdk.auth.credentials.StaticCredentialsProvider;
import software.amazon.awssdk.http.Protocol;
import software.amazon.awssdk.http.nio.netty.NettyNioAsyncHttpClient;
import software.amazon.awssdk.regions.Region;
import software.amazon.awssdk.services.cloudwatch.CloudWatchAsyncClient;
import software.amazon.awssdk.services.dynamodb.DynamoDbAsyncClient;
import software.amazon.awssdk.services.kinesis.KinesisAsyncClient;
import software.amazon.kinesis.common.ConfigsBuilder;
import software.amazon.kinesis.common.InitialPositionInStream;
import software.amazon.kinesis.common.InitialPositionInStreamExtended;
import software.amazon.kinesis.coordinator.CoordinatorConfig;
import software.amazon.kinesis.coordinator.Scheduler;
import software.amazon.kinesis.leases.LeaseManagementConfig;
import software.amazon.kinesis.metrics.MetricsConfig;
import software.amazon.kinesis.metrics.MetricsLevel;
import software.amazon.kinesis.metrics.NullMetricsFactory;
import software.amazon.kinesis.processor.SingleStreamTracker;
import software.amazon.kinesis.retrieval.RetrievalConfig;
import software.amazon.kinesis.retrieval.polling.PollingConfig;

/**
 * A KCL 3.x consumer application: one Scheduler reading one stream from the beginning,
 * its leases in a DynamoDB-compatible server, every record logged by {@link RecordLog}.
 *
 * <p>Options ({@code --name value}): kinesis, dynamodb, cloudwatch (endpoints), stream,
 * app (application name: lease table and fan-out consumer name), worker, mode
 * ({@code polling} or {@code fanout}), out (the record log).
 *
 * <p>The KCL's intervals are cut from minutes to about a second so that a test sees
 * shard syncs, lease moves and failovers within seconds. SIGTERM shuts it down gracefully.
 */
public final class ConsumerApp {
    private static final Logger log = LoggerFactory.getLogger(ConsumerApp.class);

    public static void main(String[] args) throws Exception {
        Map<String, String> options = parse(args);
        String stream = required(options, "stream");
        String app = required(options, "app");
        String worker = required(options, "worker");
        String mode = options.getOrDefault("mode", "polling");
        if (!mode.equals("polling") && !mode.equals("fanout")) {
            throw new IllegalArgumentException("--mode must be polling or fanout");
        }

        // Fixed region and credentials: the SDK must not look for either outside the test.
        StaticCredentialsProvider credentials =
                StaticCredentialsProvider.create(AwsBasicCredentials.create("test", "test"));
        Region region = Region.US_EAST_1;
        // HTTP/2 (h2c with prior knowledge on an http:// endpoint), as the KCL's own
        // client helper sets it up: SubscribeToShard needs it.
        KinesisAsyncClient kinesis = KinesisAsyncClient.builder()
                .endpointOverride(URI.create(required(options, "kinesis")))
                .region(region)
                .credentialsProvider(credentials)
                .httpClientBuilder(NettyNioAsyncHttpClient.builder()
                        .protocol(Protocol.HTTP2)
                        .maxConcurrency(Integer.MAX_VALUE)
                        .connectionAcquisitionTimeout(Duration.ofSeconds(30)))
                .build();
        DynamoDbAsyncClient dynamo = DynamoDbAsyncClient.builder()
                .endpointOverride(URI.create(required(options, "dynamodb")))
                .region(region)
                .credentialsProvider(credentials)
                .build();
        // Metrics are off; if the KCL called CloudWatch anyway, the call would go to the
        // test's own loopback listener, which counts it.
        CloudWatchAsyncClient cloudWatch = CloudWatchAsyncClient.builder()
                .endpointOverride(URI.create(required(options, "cloudwatch")))
                .region(region)
                .credentialsProvider(credentials)
                .build();

        RecordLog recordLog = new RecordLog(required(options, "out"));
        ConfigsBuilder configs = new ConfigsBuilder(
                new SingleStreamTracker(stream,
                        InitialPositionInStreamExtended.newInitialPosition(InitialPositionInStream.TRIM_HORIZON)),
                app, kinesis, dynamo, cloudWatch, worker,
                () -> new LoggingRecordProcessor(recordLog));

        Scheduler scheduler = new Scheduler(
                configs.checkpointConfig(),
                coordinatorConfig(configs),
                leaseManagementConfig(configs),
                configs.lifecycleConfig(),
                metricsConfig(configs),
                configs.processorConfig(),
                retrievalConfig(configs, stream, kinesis, mode));

        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            try {
                scheduler.startGracefulShutdown().get(20, TimeUnit.SECONDS);
            } catch (Exception e) {
                log.warn("graceful shutdown did not finish", e);
            }
        }));
        log.info("starting worker {} of {} on stream {} in {} mode", worker, app, stream, mode);
        scheduler.run();
    }

    private static CoordinatorConfig coordinatorConfig(ConfigsBuilder configs) {
        return configs.coordinatorConfig()
                .parentShardPollIntervalMillis(500)
                .shardConsumerDispatchPollIntervalMillis(200)
                .schedulerInitializationBackoffTimeMillis(500);
    }

    private static LeaseManagementConfig leaseManagementConfig(ConfigsBuilder configs) {
        LeaseManagementConfig lease = configs.leaseManagementConfig()
                .failoverTimeMillis(3000)
                .leaseAssignmentIntervalMillis(1000L)
                .shardSyncIntervalMillis(2000)
                .leasesRecoveryAuditorExecutionFrequencyMillis(2000)
                .listShardsBackoffTimeInMillis(200)
                .listShardsCacheAllowedAgeInSeconds(1)
                .dynamoDbLockBasedLeaderLeaseDurationInMillis(5000)
                .dynamoDbLockBasedLeaderHeartbeatPeriodInMillis(1000);
        // Worker metrics would probe the EC2 instance metadata address: off.
        lease.workerUtilizationAwareAssignmentConfig()
                .disableWorkerMetrics(true)
                .inMemoryWorkerMetricsCaptureFrequencyMillis(250)
                .workerMetricsReporterFreqInMillis(1000);
        return lease;
    }

    private static MetricsConfig metricsConfig(ConfigsBuilder configs) {
        return configs.metricsConfig()
                .metricsLevel(MetricsLevel.NONE)
                .metricsFactory(new NullMetricsFactory());
    }

    private static RetrievalConfig retrievalConfig(
            ConfigsBuilder configs, String stream, KinesisAsyncClient kinesis, String mode) {
        RetrievalConfig retrieval = configs.retrievalConfig();
        if (mode.equals("polling")) {
            retrieval.retrievalSpecificConfig(new PollingConfig(stream, kinesis)
                    .idleTimeBetweenReadsInMillis(PollingConfig.MIN_IDLE_MILLIS_BETWEEN_READS));
        }
        // Otherwise the default: enhanced fan-out, a consumer named after the application.
        return retrieval;
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
