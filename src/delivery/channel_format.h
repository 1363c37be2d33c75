#pragma once
// How a Kinesis channel writes records into S3 objects, and what it does with
// records it cannot write. A channel is delivered by an internal delivery
// stream (see delivery_stream::channel); these are the parts in which it
// differs from Firehose's S3 delivery:
//
// - Record format. Records are delivered in their source format, not
//   transformed. JSON and STRING records are validated (a JSON document, a
//   well-formed UTF-8 string) and written one per line, so that an object is
//   JSON Lines or text lines; BYTE_ARRAY records are opaque and written back
//   to back as they came. A record that fails validation goes to the
//   dead-letter bucket instead, as one JSON line holding its bytes in base64
//   and the reason.
// - Object keys come from OutputKeyTemplate: literal text and !{variable}
//   references, evaluated against the arrival time (UTC) of the oldest
//   record in the object. A unique suffix is added to every key (before a
//   trailing !{extension}, so that the key keeps its extension), so keys
//   never collide even when the template's time is coarse.
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

namespace kinesd::delivery {

enum class record_format { json, string, byte_array };

// "JSON", "STRING", "BYTE_ARRAY"; nullopt for anything else (GSR_JSON is
// for S3 Tables destinations only).
std::optional<record_format> parse_record_format(std::string_view name);

inline constexpr std::string_view default_key_template =
    "kinesis-channel/!{channel-name}/!{channel-id}/!{yyyy}/!{MM}/!{dd}/!{HH}/"
    "!{channel-name}-!{channel-id}-!{yyyy}-!{MM}-!{dd}-!{HH}-!{mm}!{extension}";
inline constexpr std::string_view default_error_output_prefix = "kinesis-channel-errors/";
inline constexpr std::size_t max_key_template_length = 1024;
// The error-output-type of a channel's rejected records: their buffer is
// sealed into a dead-letter object.
inline constexpr std::string_view channel_dead_letter = "channel-dead-letter";

// What delivery needs to know about the channel behind a delivery stream.
struct channel_settings {
    std::string name;
    std::string id;
    record_format format = record_format::json;
    std::string key_template;  // never empty: the default when none was given
    std::string dlq_bucket;
    std::string dlq_prefix;
};

// Reads the stored channel (see delivery_stream::channel).
channel_settings channel_settings_of(const nlohmann::json& channel);

// Whether a record may be delivered in this format.
bool accepts(record_format format, std::string_view record);
// Whether records of this format end with a newline in an object.
inline bool newline_delimited(record_format format) { return format != record_format::byte_array; }

// The dead-letter line for a rejected record (ends with '\n').
std::string dead_letter_line(const channel_settings& c, std::string_view record, std::int64_t arrival_ms);

// Checks an OutputKeyTemplate; returns what is wrong, or nullopt.
std::optional<std::string> key_template_error(std::string_view key_template);

// The object key for a batch whose oldest record arrived at `when`.
// `unique` is the suffix that keeps keys apart; `extension` the compression's.
std::string channel_object_key(const channel_settings& c, std::chrono::system_clock::time_point when,
                               std::string_view unique, std::string_view extension);
// The dead-letter object key for the same batch.
std::string channel_dead_letter_key(const channel_settings& c, std::chrono::system_clock::time_point when,
                                    std::string_view unique);

}  // namespace kinesd::delivery
