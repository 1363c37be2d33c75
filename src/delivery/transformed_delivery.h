#pragma once
// A sealed batch of a stream with a Lambda processor, on its way to the
// destination (destination.h).
//
// The worker buffers source records (after KPL de-aggregation and
// RecordDeAggregation) unpartitioned; once sealed, the first attempt, on
// the upload pool, does the rest of the processing in AWS's order:
//
//   1. the Lambda transformation (lambda_processor.h), invoked once per
//      batch: its answer is kept, so retries of the delivery never invoke
//      the function again
//   2. MetadataExtraction on the transformed records
//   3. dynamic partitioning by the keys of 1 (metadata.partitionKeys, for
//      !{partitionKeyFromLambda:..}) and 2 (!{partitionKeyFromQuery:..}):
//      the batch splits into one object per partition; partition keys come
//      from the function's answer, so a partition can only be known after
//      it and partitions are not buffered across batches
//   4. AppendDelimiterToRecord
//
// It then delivers each part through the destination, plus error documents
// for records the function failed (processing-failed) and records that
// could not be partitioned (partitioning-failed). The source records as
// read go to the backup bucket with the first part. Each step is done once
// and remembered, so a retry repeats only what failed; the batch is
// acknowledged (and the checkpoint moves) when all of them are.
//
// The active-partition quota counts buffered partitions at read time; the
// parts of one transformed batch do not count toward it.
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "delivery/destination.h"
#include "delivery/lambda_processor.h"
#include "delivery/record_processing.h"

namespace kinesd::delivery {

struct transform_input {
    lambda_settings settings;
    transform_context ctx;
    processing_settings processing;
    std::vector<source_record> sources;  // what the function gets
    std::string source_body;             // the same records as read, for backups
    std::string uuid;                    // of the sealed batch
    std::int64_t oldest_ms = 0;
};

std::unique_ptr<delivery> make_transformed_delivery(std::shared_ptr<destination> dest, transform_input input);

}  // namespace kinesd::delivery
