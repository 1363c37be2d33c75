#pragma once
// 128-bit unsigned integers for Kinesis hash keys, which are decimal strings
// in [0, 2^128 - 1].
#include <optional>
#include <string>
#include <string_view>

namespace kinesd {

using uint128 = unsigned __int128;

constexpr uint128 uint128_max = ~uint128(0);

std::string to_decimal(uint128 v);
// Parses plain decimal digits; nullopt on an empty string, a non-digit, or a
// value of 2^128 or more.
std::optional<uint128> parse_uint128(std::string_view text);

}  // namespace kinesd
