#include "codec/utf8.h"

namespace kinesd::codec {

std::size_t utf8_sequence_length(const unsigned char* p, std::size_t available) {
    const unsigned char c = p[0];
    if (c < 0x80) return 1;
    auto continuation = [&](std::size_t i, unsigned char lo = 0x80, unsigned char hi = 0xBF) {
        return i < available && p[i] >= lo && p[i] <= hi;
    };
    if (c < 0xC2) return 0;
    if (c < 0xE0) return continuation(1) ? 2 : 0;
    if (c < 0xF0) {
        const unsigned char lo = c == 0xE0 ? 0xA0 : 0x80;
        const unsigned char hi = c == 0xED ? 0x9F : 0xBF;
        return continuation(1, lo, hi) && continuation(2) ? 3 : 0;
    }
    if (c < 0xF5) {
        const unsigned char lo = c == 0xF0 ? 0x90 : 0x80;
        const unsigned char hi = c == 0xF4 ? 0x8F : 0xBF;
        return continuation(1, lo, hi) && continuation(2) && continuation(3) ? 4 : 0;
    }
    return 0;
}

std::size_t utf8_valid_prefix(std::string_view s) {
    const auto* p = reinterpret_cast<const unsigned char*>(s.data());
    const std::size_t n = s.size();
    std::size_t i = 0;
    while (i < n) {
        if (p[i] < 0x80) {
            ++i;
            continue;
        }
        const std::size_t len = utf8_sequence_length(p + i, n - i);
        if (len == 0) break;
        i += len;
    }
    return i;
}

void append_utf8_replacing_invalid(std::string_view s, std::string& out) {
    const std::size_t n = s.size();
    std::size_t i = 0;
    while (i < n) {
        const std::size_t valid = utf8_valid_prefix(s.substr(i));
        out.append(s.data() + i, valid);
        i += valid;
        if (i < n) {
            out.append(replacement_character);
            ++i;
        }
    }
}

}  // namespace kinesd::codec
