#pragma once
// The processors of ExtendedS3 ProcessingConfiguration, applied to each
// stored record in the order Firehose applies them:
//
//   1. KPL de-aggregation (Kinesis-stream source only; AWS always does it,
//      and before any transformation: the function sees user records)
//   2. RecordDeAggregation (SubRecordType JSON or DELIMITED)
//   3. Lambda transformation (lambda_processor.h): once per sealed batch,
//      on the upload pool, not per stored record; the function may drop
//      records, fail them (processing-failed) or rewrite them, and its
//      answer's metadata.partitionKeys become delivery_record::lambda_keys
//   4. MetadataExtraction: the jq query runs on what the function returned
//   5. AppendDelimiterToRecord, applied when a record joins a buffer
//
// Dynamic partitioning then reads the keys of steps 3 and 4. Without a
// Lambda processor run() does steps 1, 2 and 4 as records are read, and
// partitioning happens at read time; with one, run() stops after step 2
// and the rest happens to the transformed batch.
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "delivery/jq_query.h"

namespace kinesd::delivery {

// One record on its way to a buffer.
struct delivery_record {
    std::string data;
    std::int64_t arrival_ms = 0;
    std::string partition_key;  // the Kinesis (or KPL user) record's partition key
    std::map<std::string, std::string> query_keys;   // partitionKeyFromQuery
    std::map<std::string, std::string> lambda_keys;  // partitionKeyFromLambda
};

// A record that cannot be delivered normally: it goes to ErrorOutputPrefix
// with !{firehose:error-output-type} = error_output_type.
struct failed_record {
    std::string raw;
    std::int64_t arrival_ms = 0;
    std::string error_output_type;
    std::string code;
    std::string message;
};

enum class sub_record_type { none, json, delimited };
enum class key_source { query, lambda };

// A !{partitionKeyFrom...:name} of the Prefix, in order.
struct partition_key_ref {
    key_source source = key_source::query;
    std::string name;
};

// What the processors and dynamic partitioning do, parsed once per
// destination version. The destination was validated when it was set.
struct processing_settings {
    bool kpl = false;  // Kinesis-stream source
    sub_record_type split = sub_record_type::none;
    std::string split_delimiter;
    bool lambda = false;
    std::string metadata_query;  // empty: no MetadataExtraction
    std::optional<std::string> record_delimiter;  // AppendDelimiterToRecord
    bool dynamic_partitioning = false;
    std::vector<partition_key_ref> prefix_keys;

    static processing_settings from(const nlohmann::json& destination, bool kinesis_source);
};

// Splits concatenated JSON objects ({"a":1}{"a":2} or one per line).
// Returns false, leaving `out` empty, when the text is not such a sequence.
bool split_json_objects(std::string_view text, std::vector<std::string_view>& out);
// Splits at each `delimiter`; a trailing delimiter ends the last record
// rather than opening an empty one.
void split_delimited(std::string_view text, std::string_view delimiter, std::vector<std::string_view>& out);

// Runs steps 1 to 4 for one stored record. One per worker thread (it holds
// the thread's jq programs).
class record_pipeline {
public:
    void run(const processing_settings& settings, std::string_view data, std::int64_t arrival_ms,
             std::string_view partition_key, std::vector<delivery_record>& out, std::vector<failed_record>& failed);

    // Step 4 alone (also for transformed records).
    void extract_metadata(const processing_settings& settings, std::vector<delivery_record>& records,
                          std::vector<failed_record>& failed);

private:
    jq_runner jq_;
    std::vector<std::string_view> parts_;
};

// The !{firehose:error-output-type} of records dynamic partitioning could
// not place.
inline constexpr std::string_view partitioning_failed = "partitioning-failed";

// The buffer id of a processed record ("" without dynamic partitioning)
// and its partition keys, or nullopt with `why` set when a key of the Prefix
// is missing from the record's keys.
std::optional<std::string> partition_of(const processing_settings& processing, const delivery_record& r,
                                        std::map<std::string, std::string>& keys, std::string& why);

// The JSON line written for a failed record under ErrorOutputPrefix.
std::string error_document(const failed_record& f, std::int64_t now_ms);

}  // namespace kinesd::delivery
