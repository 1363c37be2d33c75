#pragma once
// A JSON serializer for response bodies. nlohmann's dump() cannot turn a
// binary value into base64 text or an integer of epoch milliseconds into
// epoch seconds, and it goes through a stream; this writer appends straight
// into a std::string.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

namespace kinesd::codec {

// Appends value as JSON. Binary values become base64 strings; an integer
// under a key for which is_timestamp_key() holds becomes epoch seconds.
void write_json(const nlohmann::json& value, std::string& out);

// Appends s as a quoted JSON string. Ill-formed UTF-8 is replaced with U+FFFD,
// one replacement per offending byte, so the output is always valid JSON.
void write_json_string(std::string_view s, std::string& out);

// Appends epoch milliseconds as seconds with up to three fraction digits and
// no trailing zeros: 1441215410867 -> 1441215410.867, 1441215410000 -> 1441215410
// (what JSON.stringify(ms / 1000) gives, which botocore and the JS SDK parse).
void write_epoch_seconds(std::int64_t milliseconds, std::string& out);

// Appends a double so that it reads back to the same value, and reads back
// as a floating-point number (3.0 stays "3.0"). NaN and infinities become null.
void write_json_double(double d, std::string& out);

// A cheap upper-bound-ish guess of the JSON size, for reserving once.
std::size_t json_size_hint(const nlohmann::json& value);

}  // namespace kinesd::codec
