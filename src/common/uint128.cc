#include "common/uint128.h"

#include <algorithm>

namespace kinesd {

std::string to_decimal(uint128 v) {
    if (v == 0) return "0";
    char buf[40];
    int pos = 40;
    while (v != 0) {
        buf[--pos] = char('0' + int(v % 10));
        v /= 10;
    }
    return std::string(buf + pos, buf + 40);
}

std::optional<uint128> parse_uint128(std::string_view text) {
    if (text.empty() || text.size() > 39) return std::nullopt;
    uint128 v = 0;
    for (char c : text) {
        if (c < '0' || c > '9') return std::nullopt;
        uint128 digit = uint128(c - '0');
        if (v > (uint128_max - digit) / 10) return std::nullopt;
        v = v * 10 + digit;
    }
    return v;
}

}  // namespace kinesd
