#pragma once
// Firehose data transformation: a delivery stream's ProcessingConfiguration
// with a processor of type Lambda sends the records of each sealed batch to
// a function and delivers what it answers.
//
// The request carries invocationId, deliveryStreamArn, region, records[]
// (recordId, approximateArrivalTimestamp in ms, base64 data) and, for a
// Kinesis stream source, sourceKinesisStreamArn and per record
// kinesisRecordMetadata. The function answers records[] with the same
// recordIds and a result each: Ok (its data, base64, is delivered), Dropped
// (nothing is delivered) or ProcessingFailed. An answer that is not JSON,
// lacks a recordId, repeats one or names an unknown one fails the whole
// invocation. Failed invocations are retried NumberOfRetries times; records
// that still fail, and those the function marked ProcessingFailed, become
// error documents (one JSON object per line) for the processing-failed
// error output prefix.
//
// The records of one sealed S3 batch are sent in invocations of at most
// BufferSizeInMBs of data (and within Lambda's 6 MB payload). The S3
// buffering hints decide when a batch seals; BufferIntervalInSeconds is
// checked and kept but adds no wait of its own.
//
// transform() blocks on the function: it runs on the upload pool, never on
// the I/O threads.
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "delivery/s3_client.h"

namespace kinesd::functions {
class invoker;
}

namespace kinesd::delivery {

// A Lambda processor's parameters with AWS's defaults.
struct lambda_settings {
    std::string lambda_arn;
    int retries = 3;                       // NumberOfRetries
    std::size_t buffer_bytes = 1u << 20;   // BufferSizeInMBs (0.2 - 3)
    std::int64_t buffer_interval_ms = 60000;  // BufferIntervalInSeconds (0 - 900)
    std::string role_arn;
};

// The enabled Lambda processor of an ExtendedS3 destination description,
// nullopt when there is none.
std::optional<lambda_settings> lambda_settings_of(const nlohmann::json& destination);

// ProcessingConfiguration rules beyond the request shape, as
// CreateDeliveryStream and UpdateDestination check them. Throws
// std::invalid_argument with the message for InvalidArgumentException.
void validate_processing_configuration(const nlohmann::json& processing);

struct source_record {
    std::string data;
    std::int64_t arrival_ms = 0;
    // Kinesis stream source only (from_stream)
    bool from_stream = false;
    std::string shard_id;
    std::string partition_key;
    std::string sequence_number;
    std::uint64_t subsequence_number = 0;
};

struct transformed_record {
    std::string data;
    // metadata.partitionKeys of the answer, for !{partitionKeyFromLambda:key}.
    std::map<std::string, std::string> partition_keys;
};

struct transform_result {
    std::vector<transformed_record> records;  // Ok records, in input order
    std::string error_documents;              // one JSON per line
    std::size_t dropped = 0;
    std::size_t failed = 0;
    std::size_t invocations = 0;
};

struct transform_context {
    functions::invoker* invoker = nullptr;
    std::string delivery_stream_arn;
    std::string source_stream_arn;  // empty for DirectPut
    std::string region;
    std::int64_t invoke_timeout_ms = 300000;
    std::function<std::int64_t()> now_ms;
    std::function<std::string()> new_id;  // invocation ids
};

// Lambda's synchronous request payload limit.
inline constexpr std::size_t max_invoke_payload = 6u << 20;

transform_result transform(const transform_context& ctx, const lambda_settings& settings,
                           const std::vector<source_record>& records);

// ---- How the delivery worker uses it.

// What a sealed batch carries for its transformation. run() invokes the
// function once per batch; S3 retries reuse its result.
struct batch_transform {
    batch_transform(lambda_settings s, std::vector<source_record> records, bool newline)
        : settings(std::move(s)), sources(std::move(records)), append_newline(newline) {}
    lambda_settings settings;
    transform_context ctx;
    std::vector<source_record> sources;
    std::string failed_key;  // the object for the error documents
    bool append_newline = false;
    bool done = false;
    std::string error_documents;
    bool errors_written = false;
    // metadata.partitionKeys of each Ok record, in body order.
    std::vector<std::map<std::string, std::string>> partition_keys;
    std::size_t delivered = 0;  // Ok records in the body

    // Replaces `body` (the raw records) with the Ok records' data.
    void run(std::string& body);
    // run(), then writes the error documents (once) to failed_key. False
    // when that write failed; `result` says why.
    bool run_and_write_errors(std::string& body, s3_client& s3, const std::string& bucket, s3_result& result);
};

// The source records of one stored record: its deaggregated parts (or its
// data whole), with Kinesis metadata for a stream source.
void collect_sources(std::vector<source_record>& out, bool from_stream, std::uint32_t shard_index,
                     std::uint64_t shard_created_s, std::uint64_t counter, std::int64_t arrival_ms,
                     std::string_view partition_key, const std::vector<std::string_view>& parts);

// ---- The pieces of transform(), exposed for tests.

// The transformation event for records[first, last) with recordIds ids.
std::string build_request(const transform_context& ctx, const std::string& invocation_id,
                          const std::vector<source_record>& records, std::size_t first, std::size_t last,
                          const std::vector<std::string>& ids);

struct record_answer {
    enum class result { ok, dropped, processing_failed } outcome = result::ok;
    std::string data;  // decoded
    std::map<std::string, std::string> partition_keys;
};
struct parsed_answer {
    // Empty error_code: the answer is valid and `records` is in request order.
    std::string error_code;
    std::string error_message;
    std::vector<record_answer> records;
};
parsed_answer parse_answer(const std::string& body, const std::vector<std::string>& ids);

}  // namespace kinesd::delivery
