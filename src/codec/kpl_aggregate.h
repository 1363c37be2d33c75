#pragma once
// The Kinesis Producer Library's aggregated record: magic F3 89 9A C2, a
// protobuf (proto2) AggregatedRecord, then the MD5 of the protobuf bytes.
//
//   AggregatedRecord { 1: repeated string partition_key_table;
//                      2: repeated string explicit_hash_key_table;
//                      3: repeated Record records; }
//   Record { 1: uint64 partition_key_index; 2: optional uint64 explicit_hash_key_index;
//            3: bytes data; 4: repeated Tag tags; }
//
// Firehose (Kinesis-stream source) and the KCL split such a record into its
// user records; Lambda does not. A record that is not a complete, valid
// aggregate (wrong magic, MD5 mismatch, malformed protobuf, an index outside
// its table, no records) is not an aggregate at all and is used whole, as
// the KCL does: a producer may put any bytes, including ones that happen to
// start with the magic.
#include <optional>
#include <string_view>
#include <vector>

namespace kinesd::codec {

inline constexpr std::string_view kpl_magic{"\xF3\x89\x9A\xC2", 4};

struct kpl_user_record {
    std::string_view partition_key;
    std::optional<std::string_view> explicit_hash_key;
    std::string_view data;
};

// Fills `out` with the user records (views into `record`) and returns true
// when `record` is a valid aggregate; otherwise clears `out` and returns
// false. Unknown fields (tags included) are skipped.
bool kpl_deaggregate(std::string_view record, std::vector<kpl_user_record>& out);

// Builds an aggregate (tests and tools; kinesd itself never aggregates).
struct kpl_input_record {
    std::string_view partition_key;
    std::optional<std::string_view> explicit_hash_key;
    std::string_view data;
};
std::string kpl_aggregate(const std::vector<kpl_input_record>& records);

}  // namespace kinesd::codec
