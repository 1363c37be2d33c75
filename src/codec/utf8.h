#pragma once
// UTF-8 well-formedness for the writers. Request strings are not guaranteed
// to be UTF-8 (CBOR decoding does not check text strings), and an action may
// echo them in a message; responses must still be valid text.
#include <cstddef>
#include <string>
#include <string_view>

namespace kinesd::codec {

// Length of the well-formed UTF-8 sequence starting at p (Unicode table 3-7:
// no overlongs, no surrogates, nothing above U+10FFFF), or 0 if there is none.
std::size_t utf8_sequence_length(const unsigned char* p, std::size_t available);

// Length of the longest prefix of s that is well-formed UTF-8.
std::size_t utf8_valid_prefix(std::string_view s);

// Appends s with each byte that starts no well-formed sequence replaced by
// U+FFFD.
void append_utf8_replacing_invalid(std::string_view s, std::string& out);

inline constexpr std::string_view replacement_character = "\xEF\xBF\xBD";

}  // namespace kinesd::codec
