#pragma once
// The one codec layer between wire bodies and nlohmann::json values.
//
// Conventions every action relies on:
//  - A blob in a response is a json::binary value: base64 text in JSON,
//    a byte string (major type 2) in CBOR.
//  - A timestamp in a response is an integer of epoch *milliseconds* under a
//    key for which is_timestamp_key() is true. JSON writes it as epoch seconds
//    with a millisecond fraction (1.441215410867E9 style is not needed; plain
//    1441215410.867 is what SDKs parse); CBOR writes tag 1 + integer
//    milliseconds, which is what the Java SDKs write and expect (not RFC 8949).
//  - Requests decode to json as they are: a JSON blob is a base64 string, a
//    CBOR blob is a json::binary; a CBOR timestamp arrives as its integer of
//    milliseconds (the tag is dropped), a JSON one as a number of seconds.
//    The typed getters in actions/shapes make sense of them per wire format.
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "kinesd/api_error.h"

namespace kinesd::codec {

enum class wire_format { json, cbor };

// application/x-amz-json-1.1 or application/x-amz-cbor-1.1 (parameters such as
// "; charset=utf-8" allowed); nullopt for anything else.
std::optional<wire_format> format_from_content_type(std::string_view content_type);
const char* content_type(wire_format f);

// Deepest object/array nesting decode() accepts; deeper bodies are refused as
// SerializationException before anything recursive walks them.
inline constexpr std::size_t max_nesting_depth = 100;

// Throws api_error::serialization() when the body does not parse or is not an
// object (map). Indefinite-length CBOR maps/arrays and tags are accepted.
nlohmann::json decode(wire_format f, std::string_view body);

std::string encode(wire_format f, const nlohmann::json& value);
// Appends to out.
void encode_to(wire_format f, const nlohmann::json& value, std::string& out);

// {"__type": ..., "message": ...} (or "Message"), omitting message when empty.
std::string encode_error(wire_format f, const api_error& e);

bool is_timestamp_key(std::string_view key);

}  // namespace kinesd::codec
