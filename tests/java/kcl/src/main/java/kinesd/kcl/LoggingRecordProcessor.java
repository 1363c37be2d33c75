package kinesd.kcl;

import java.nio.charset.StandardCharsets;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import software.amazon.kinesis.exceptions.KinesisClientLibException;
import software.amazon.kinesis.exceptions.ShutdownException;
import software.amazon.kinesis.lifecycle.events.InitializationInput;
import software.amazon.kinesis.lifecycle.events.LeaseLostInput;
import software.amazon.kinesis.lifecycle.events.ProcessRecordsInput;
import software.amazon.kinesis.lifecycle.events.ShardEndedInput;
import software.amazon.kinesis.lifecycle.events.ShutdownRequestedInput;
import software.amazon.kinesis.processor.RecordProcessorCheckpointer;
import software.amazon.kinesis.processor.ShardRecordProcessor;
import software.amazon.kinesis.retrieval.KinesisClientRecord;

/**
 * Logs every record it is given and checkpoints after each batch.
 *
 * <p>Lines: {@code I shard startingSequence} when a shard starts, {@code R shard
 * partitionKey data sequenceNumber} per record, {@code C shard sequenceNumber} once a
 * checkpoint is stored, {@code E shard} when the shard's end is checkpointed, {@code L
 * shard} when the lease is lost.
 */
final class LoggingRecordProcessor implements ShardRecordProcessor {
    private static final Logger log = LoggerFactory.getLogger(LoggingRecordProcessor.class);

    private final RecordLog recordLog;
    private String shardId = "?";

    LoggingRecordProcessor(RecordLog recordLog) {
        this.recordLog = recordLog;
    }

    @Override
    public void initialize(InitializationInput input) {
        shardId = input.shardId();
        recordLog.line("I", shardId, input.extendedSequenceNumber().sequenceNumber());
    }

    @Override
    public void processRecords(ProcessRecordsInput input) {
        String last = null;
        for (KinesisClientRecord record : input.records()) {
            byte[] data = new byte[record.data().remaining()];
            record.data().get(data);
            last = record.sequenceNumber();
            recordLog.line("R", shardId, record.partitionKey(), new String(data, StandardCharsets.UTF_8), last);
        }
        if (last != null) {
            checkpoint(input.checkpointer(), "C", last);
        }
    }

    @Override
    public void leaseLost(LeaseLostInput input) {
        recordLog.line("L", shardId);
    }

    @Override
    public void shardEnded(ShardEndedInput input) {
        // The children are only handed out once the parent's end is checkpointed.
        checkpoint(input.checkpointer(), "E", null);
    }

    @Override
    public void shutdownRequested(ShutdownRequestedInput input) {
        try {
            input.checkpointer().checkpoint();
        } catch (KinesisClientLibException e) {
            log.warn("checkpoint at shutdown of {} failed", shardId, e);
        }
    }

    private void checkpoint(RecordProcessorCheckpointer checkpointer, String tag, String sequenceNumber) {
        try {
            // Without an argument the checkpoint is the batch's last record (or the shard's end).
            checkpointer.checkpoint();
            if (sequenceNumber == null) {
                recordLog.line(tag, shardId);
            } else {
                recordLog.line(tag, shardId, sequenceNumber);
            }
        } catch (ShutdownException e) {
            // The lease went to another worker: its records will be processed again from the
            // previous checkpoint, which the driver allows for.
            log.info("checkpoint of {} skipped: {}", shardId, e.getMessage());
        } catch (KinesisClientLibException e) {
            log.warn("checkpoint of {} failed", shardId, e);
        }
    }
}
