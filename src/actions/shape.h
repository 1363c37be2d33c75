#pragma once
// Request validation as data. Each action declares its members as a table of
// `field`s; one engine (validate) applies them in AWS's order:
//   1. member types, in table order: the first mismatch is a
//      SerializationException with AWS's Java-flavoured text;
//   2. constraints (required, length, pattern, enum, range), gathered into
//      one ValidationException of at most ten items.
// On success the request is normalised in place so handlers need not care
// about the wire format: null members are removed, blobs become json::binary
// (decoded from base64 in JSON), timestamps become numbers of epoch
// milliseconds, integers are truncated and clamped as AWS does.
#include <cstdint>
#include <optional>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "codec/codec.h"

namespace kinesd::actions {

enum class field_type { string, integer, long_integer, boolean, blob, timestamp, list, map, structure };

// A named whole-string pattern: the text AWS prints and a matcher for it.
struct pattern {
    std::string_view text;
    bool (*matches)(std::string_view);
};

struct field {
    std::string_view name;  // wire name, e.g. "StreamName"
    field_type type = field_type::string;
    bool required = false;
    std::optional<std::int64_t> min_length;
    std::optional<std::int64_t> max_length;
    const pattern* regex = nullptr;
    std::vector<std::string_view> enum_values;
    std::optional<std::int64_t> min_value;
    std::optional<std::int64_t> max_value;
    // structure members, or the members of each list element / map value
    // when those are structures
    const std::vector<field>* members = nullptr;
    // list elements or map values that are not structures
    field_type element_type = field_type::string;
    // constraints on each scalar list element (e.g. enum of ShardLevelMetrics)
    const field* element = nullptr;
    // Java class name AWS prints for a structure inside a list, e.g.
    // "com.amazonaws.kinesis.v20131202.PutRecordsRequestEntry"
    std::string_view java_class;
};

using shape = std::vector<field>;

// Throws api_error (SerializationException or ValidationException).
void validate(const shape& s, nlohmann::json& request, codec::wire_format format);

namespace patterns {
extern const pattern stream_name;     // [a-zA-Z0-9_.-]+
extern const pattern stream_arn;      // arn:aws.*:kinesis:.*:\d{12}:stream/\S+
extern const pattern resource_arn;    // arn:aws.*:kinesis:.*:\d{12}:.*(stream|channel|queue)/\S+
extern const pattern hash_key;        // 0|([1-9]\d{0,38})
extern const pattern sequence_number; // 0|([1-9]\d{0,128})
extern const pattern firehose_name;   // [a-zA-Z0-9_.-]+
extern const pattern digits;          // [0-9]+
}  // namespace patterns

// Common members shared by many actions.
namespace members {
field stream_name(bool required = false);
field stream_arn(bool required = false);
}  // namespace members

}  // namespace kinesd::actions
