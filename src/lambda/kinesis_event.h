#pragma once
// The JSON a function receives (Lambda's Kinesis event), and the failure
// document Lambda writes to an S3 on-failure destination. Records are kept
// as plain values so batches can be split (bisection, parallelization)
// without going back to the store.
#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace kinesd::lambda {

struct source_record {
    std::uint64_t counter = 0;
    std::int64_t arrival_ms = 0;
    std::string partition_key;
    std::string data;
    std::string sequence_number;
};

// What every record of one shard's events shares.
struct event_context {
    std::string shard_id;        // "shardId-000000000000"
    std::string stream_arn;      // eventSourceARN
    std::string region;
    std::string identity_arn;    // invokeIdentityArn
};

nlohmann::json event_record(const event_context& ctx, const source_record& r);
// {"Records": [...]}.
nlohmann::json kinesis_event(const event_context& ctx, const std::vector<source_record>& records);
// What a filter pattern sees of a record (see event_filter.h).
nlohmann::json filter_view(const event_context& ctx, const source_record& r);

// "2019-11-14T00:38:06.021Z"
std::string iso_ms(std::int64_t epoch_ms);

struct failure_info {
    std::string function_arn;
    std::string condition;  // RetryAttemptsExhausted | RecordAgeExceeded
    int approximate_invoke_count = 0;
    int status_code = 0;    // of the last invocation, 0 if none
    std::string function_error;
    std::int64_t now_ms = 0;
};
// The on-failure document: requestContext, responseContext, version,
// timestamp, KinesisBatchInfo and (for S3 destinations) the payload.
nlohmann::json failure_document(const event_context& ctx, const std::vector<source_record>& records,
                                const failure_info& info, const std::string& payload);
// aws/lambda/<mapping uuid>/<shard id>/YYYY/MM/DD/YYYY-MM-DDTHH.MM.SS-<uuid>
std::string failure_object_key(const std::string& mapping_uuid, const std::string& shard_id, std::int64_t now_ms);

}  // namespace kinesd::lambda
