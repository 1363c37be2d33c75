#pragma once
// Firehose's S3 object keys: `<evaluated prefix><object name>`, where the
// object name is `<stream>-<version>-<yyyy>-<MM>-<dd>-<HH>-<mm>-<ss>-<uuid><ext>`
// (all times UTC).
//
// Prefix expressions (Firehose developer guide, "Custom prefixes for Amazon
// S3 objects"):
// - `!{timestamp:<Java DateTimeFormatter pattern>}`: every instance in one
//   key shows the same instant, the approximate arrival time of the oldest
//   record in the object. Text in single quotes is literal.
// - `!{firehose:random-string}`: 11 random characters, fresh per instance.
// - `!{firehose:error-output-type}`: only in ErrorOutputPrefix.
// - `!{partitionKeyFromQuery:k}` / `!{partitionKeyFromLambda:k}`: only with
//   dynamic partitioning.
// A Prefix without a timestamp expression gets `yyyy/MM/dd/HH/` appended by
// plain concatenation: AWS inserts no '/' ("logs" gives "logs2024/01/02/03/"),
// which is what the guide's rule text says and what delivered objects show,
// although one example table in the same guide prints a slash.
//
// Time and randomness are parameters so that keys are reproducible in tests.
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <string_view>

namespace kinesd::delivery {

// Returns uniformly distributed 64-bit values.
using random_source = std::function<std::uint64_t()>;

inline constexpr std::size_t max_evaluated_prefix_length = 512;
inline constexpr std::size_t random_string_length = 11;

// Values of !{firehose:error-output-type}.
namespace error_output_type {
inline constexpr std::string_view processing_failed = "processing-failed";
inline constexpr std::string_view format_conversion_failed = "format-conversion-failed";
inline constexpr std::string_view elasticsearch_failed = "elasticsearch-failed";
inline constexpr std::string_view splunk_failed = "splunk-failed";
inline constexpr std::string_view http_endpoint_failed = "http-endpoint-failed";
}  // namespace error_output_type

// What a prefix is evaluated against.
struct prefix_values {
    // Approximate arrival time of the oldest record in the object.
    std::chrono::system_clock::time_point timestamp{};
    const random_source* random = nullptr;  // needed only for random-string
    std::string_view error_output_type;     // for ErrorOutputPrefix
    // Values for partitionKeyFrom* expressions (dynamic partitioning).
    const std::map<std::string, std::string>* partition_keys = nullptr;
};

// Checks Prefix and ErrorOutputPrefix as CreateDeliveryStream and
// UpdateDestination do, and throws api_error (InvalidArgumentException)
// naming the rule broken. An empty string stands for an unset field.
void validate_s3_prefixes(std::string_view prefix, std::string_view error_output_prefix,
                          bool dynamic_partitioning = false);

// Evaluates Prefix for a delivered object, appending the default time
// prefix when Prefix has no timestamp expression. Throws
// std::invalid_argument for a prefix validate_s3_prefixes would reject.
std::string evaluate_prefix(std::string_view prefix, const prefix_values& values);

// Evaluates ErrorOutputPrefix. When it is unset (allowed only for a Prefix
// without expressions) the result is `<prefix><error-output-type>/yyyy/MM/dd/HH/`.
std::string evaluate_error_output_prefix(std::string_view error_output_prefix, std::string_view prefix,
                                         const prefix_values& values);

// `<stream>-<version>-<yyyy>-<MM>-<dd>-<HH>-<mm>-<ss>-<uuid><extension>`.
std::string object_name(std::string_view stream_name, std::string_view version_id,
                        std::chrono::system_clock::time_point when, std::string_view uuid,
                        std::string_view extension);

// A version-4 UUID ("xxxxxxxx-xxxx-4xxx-yxxx-xxxxxxxxxxxx") drawn from `random`.
std::string random_uuid(const random_source& random);
// random_string_length lowercase hex characters.
std::string random_string(const random_source& random);

// Formats `when` (UTC) with a Java DateTimeFormatter pattern. Supported
// letters: y u (year), M L (month: 1-2 digits, 3 "Aug", 4 "August", 5 "A"),
// d, D (day of year), H, k, h, K, m, s, S (fraction, one digit per letter),
// a (AM/PM), E (3 "Mon", 4 "Monday", 5 "M"); '...' quotes literal text and
// '' is a quote; [ ] (optional sections) print their content. Throws
// std::invalid_argument with Java-like wording for anything else.
std::string format_timestamp(std::string_view pattern, std::chrono::system_clock::time_point when);

}  // namespace kinesd::delivery
