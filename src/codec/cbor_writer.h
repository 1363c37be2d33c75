#pragma once
// A CBOR serializer for response bodies, in the dialect the Java SDKs read:
// definite-length containers, byte strings for blobs, float64 for every
// floating-point number, and timestamps as tag 1
// followed by integer epoch *milliseconds* (RFC 8949 says seconds; the SDKs
// and AWS use milliseconds).
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

namespace kinesd::codec {

// Appends value as CBOR. An integer under a key for which is_timestamp_key()
// holds is written as tag 1 + that integer.
void write_cbor(const nlohmann::json& value, std::string& out);

// Appends an initial byte of major type `major` with argument `argument`,
// in the shortest form.
void write_cbor_head(std::uint8_t major, std::uint64_t argument, std::string& out);
// Ill-formed UTF-8 in s is replaced with U+FFFD, as in the JSON writer.
void write_cbor_text(std::string_view s, std::string& out);

std::size_t cbor_size_hint(const nlohmann::json& value);

}  // namespace kinesd::codec
