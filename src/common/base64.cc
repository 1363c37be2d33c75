#include "common/base64.h"

#include <array>
#include <cstdint>
#include <cstring>

namespace kinesd::base64 {
namespace {

constexpr char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

// Two output characters per 12 input bits: one lookup per half of a 3-byte group.
constexpr std::array<char, 2 * 4096> make_pair_table() {
    std::array<char, 2 * 4096> t{};
    for (int i = 0; i < 4096; ++i) {
        t[2 * i] = alphabet[i >> 6];
        t[2 * i + 1] = alphabet[i & 63];
    }
    return t;
}
constexpr auto pair_table = make_pair_table();

// One table per position in a quad, pre-shifted, so a quad decodes with four
// lookups and ORs; any byte outside the alphabet (including '=') sets bad_bit.
constexpr std::uint32_t bad_bit = 0x01000000;
struct decode_tables {
    std::uint32_t at[4][256];
};
constexpr decode_tables make_decode_tables() {
    decode_tables t{};
    for (int k = 0; k < 4; ++k)
        for (int c = 0; c < 256; ++c) t.at[k][c] = bad_bit;
    for (std::uint32_t v = 0; v < 64; ++v) {
        const auto c = static_cast<unsigned char>(alphabet[v]);
        t.at[0][c] = v << 18;
        t.at[1][c] = v << 12;
        t.at[2][c] = v << 6;
        t.at[3][c] = v;
    }
    return t;
}
constexpr decode_tables tables = make_decode_tables();

bool in_alphabet(unsigned char c) { return (tables.at[3][c] & bad_bit) == 0; }

// AWS's services count the length in UTF-16 code units (Java strings), so a
// non-ASCII character counts as one (or two, outside the BMP), not as its bytes.
std::size_t utf16_length(std::string_view text) {
    std::size_t n = 0;
    for (const char ch : text) {
        const auto c = static_cast<unsigned char>(ch);
        if ((c & 0xC0) != 0x80) ++n;
        if (c >= 0xF0) ++n;
    }
    return n;
}

// The character starting at text[i], whole if it is a well-formed UTF-8 sequence.
std::string_view character_at(std::string_view text, std::size_t i) {
    const auto c = static_cast<unsigned char>(text[i]);
    std::size_t len = c < 0xC0 ? 1 : c < 0xE0 ? 2 : c < 0xF0 ? 3 : c < 0xF8 ? 4 : 1;
    if (i + len > text.size()) return text.substr(i, 1);
    for (std::size_t k = 1; k < len; ++k)
        if ((static_cast<unsigned char>(text[i + k]) & 0xC0) != 0x80) return text.substr(i, 1);
    return text.substr(i, len);
}

// Reached only once the fast path has failed: works out which of AWS's three
// complaints applies, checked in AWS's order (length, then the first bad
// character, where a '=' followed by anything but '=' counts as bad, then
// everything else, such as stray padding or non-zero trailing bits).
std::string describe_failure(std::string_view text) {
    const std::size_t length = utf16_length(text);
    if (length % 4 != 0)
        return "Base64 encoded length is expected a multiple of 4 bytes but found: " + std::to_string(length);
    for (std::size_t i = 0; i < text.size(); ++i) {
        const auto c = static_cast<unsigned char>(text[i]);
        if (in_alphabet(c)) continue;
        if (c == '=') {
            if (i + 1 < text.size() && text[i + 1] != '=') return "Invalid Base64 character: '='";
            continue;
        }
        std::string message = "Invalid Base64 character: '";
        message += character_at(text, i);
        message += '\'';
        return message;
    }
    return "Invalid last non-pad Base64 character dectected";
}

bool fail(std::string_view text, std::string& out, std::string* error) {
    out.clear();
    if (error) *error = describe_failure(text);
    return false;
}

}  // namespace

char* encode_raw(char* dst, const void* bytes, std::size_t size) {
    const auto* src = static_cast<const unsigned char*>(bytes);
    std::size_t i = 0;
    // Six bytes at a time from one 8-byte load: four table lookups and one
    // 8-byte store per step instead of two of each per three bytes.
    for (; i + 8 <= size; i += 6, dst += 8) {
        std::uint64_t w;
        std::memcpy(&w, src + i, 8);
        w = __builtin_bswap64(w);  // the first byte on top
        char out[8];
        std::memcpy(out, &pair_table[2 * ((w >> 52) & 0xFFF)], 2);
        std::memcpy(out + 2, &pair_table[2 * ((w >> 40) & 0xFFF)], 2);
        std::memcpy(out + 4, &pair_table[2 * ((w >> 28) & 0xFFF)], 2);
        std::memcpy(out + 6, &pair_table[2 * ((w >> 16) & 0xFFF)], 2);
        std::memcpy(dst, out, 8);
    }
    for (; i + 3 <= size; i += 3, dst += 4) {
        const std::uint32_t v = (std::uint32_t{src[i]} << 16) | (std::uint32_t{src[i + 1]} << 8) | src[i + 2];
        std::memcpy(dst, &pair_table[2 * (v >> 12)], 2);
        std::memcpy(dst + 2, &pair_table[2 * (v & 0xFFF)], 2);
    }
    const std::size_t rest = size - i;
    if (rest == 1) {
        const std::uint32_t v = std::uint32_t{src[i]} << 16;
        dst[0] = alphabet[v >> 18];
        dst[1] = alphabet[(v >> 12) & 63];
        dst[2] = '=';
        dst[3] = '=';
        dst += 4;
    } else if (rest == 2) {
        const std::uint32_t v = (std::uint32_t{src[i]} << 16) | (std::uint32_t{src[i + 1]} << 8);
        dst[0] = alphabet[v >> 18];
        dst[1] = alphabet[(v >> 12) & 63];
        dst[2] = alphabet[(v >> 6) & 63];
        dst[3] = '=';
        dst += 4;
    }
    return dst;
}

void encode_to(std::string& out, const void* bytes, std::size_t size) {
    const std::size_t start = out.size();
    out.resize(start + encoded_size(size));
    encode_raw(out.data() + start, bytes, size);
}

std::string encode(std::string_view bytes) {
    std::string out;
    encode_to(out, bytes.data(), bytes.size());
    return out;
}

namespace {

// Decodes as decode_to does. A quad is checked before any of its bytes is
// written, so on failure exactly `quads_written` quads have been decoded.
std::size_t decode_counting(std::string_view text, char* out, std::size_t& quads_written) {
    quads_written = 0;
    const std::size_t n = text.size();
    if (n == 0) return 0;
    if (n % 4 != 0) return npos;

    std::size_t pad = 0;
    if (text[n - 1] == '=') pad = text[n - 2] == '=' ? 2 : 1;

    const auto* src = reinterpret_cast<const unsigned char*>(text.data());
    auto* dst = reinterpret_cast<unsigned char*>(out);
    const std::size_t full_quads = n / 4 - (pad ? 1 : 0);

    // Every quad is read before its three bytes are written, and the output
    // never overtakes the input, so out may alias text.
    for (std::size_t q = 0; q < full_quads; ++q, src += 4, dst += 3) {
        const std::uint32_t v =
            tables.at[0][src[0]] | tables.at[1][src[1]] | tables.at[2][src[2]] | tables.at[3][src[3]];
        if (v & bad_bit) return npos;
        dst[0] = static_cast<unsigned char>(v >> 16);
        dst[1] = static_cast<unsigned char>(v >> 8);
        dst[2] = static_cast<unsigned char>(v);
        ++quads_written;
    }

    if (pad == 1) {
        const std::uint32_t v = tables.at[0][src[0]] | tables.at[1][src[1]] | tables.at[2][src[2]];
        // The low two bits of the third character carry no data and must be zero.
        if ((v & bad_bit) || (v & 0xFF) != 0) return npos;
        dst[0] = static_cast<unsigned char>(v >> 16);
        dst[1] = static_cast<unsigned char>(v >> 8);
        dst += 2;
    } else if (pad == 2) {
        const std::uint32_t v = tables.at[0][src[0]] | tables.at[1][src[1]];
        if ((v & bad_bit) || (v & 0xFFFF) != 0) return npos;
        dst[0] = static_cast<unsigned char>(v >> 16);
        dst += 1;
    }
    return static_cast<std::size_t>(dst - reinterpret_cast<unsigned char*>(out));
}

}  // namespace

std::size_t decode_to(std::string_view text, char* out) {
    std::size_t quads;
    return decode_counting(text, out, quads);
}

std::size_t decode_in_place(char* text, std::size_t size) {
    std::size_t quads;
    const std::size_t decoded = decode_counting({text, size}, text, quads);
    // The quads already decoded were whole, unpadded and canonical.
    if (decoded == npos) encode_in_place(text, quads * 3);
    return decoded;
}

void encode_in_place(char* bytes, std::size_t size) {
    auto* p = reinterpret_cast<unsigned char*>(bytes);
    // Back to front: group i reads bytes 3i..3i+2 and writes 4i..4i+3, which
    // overlap only its own bytes and those of later groups, already encoded.
    std::size_t groups = size / 3;
    const std::size_t rest = size - groups * 3;
    if (rest) {
        unsigned char tail[2] = {p[groups * 3], rest == 2 ? p[groups * 3 + 1] : static_cast<unsigned char>(0)};
        encode_raw(bytes + groups * 4, tail, rest);
    }
    while (groups--) {
        const std::uint32_t v =
            (std::uint32_t{p[groups * 3]} << 16) | (std::uint32_t{p[groups * 3 + 1]} << 8) | p[groups * 3 + 2];
        std::memcpy(bytes + groups * 4, &pair_table[2 * (v >> 12)], 2);
        std::memcpy(bytes + groups * 4 + 2, &pair_table[2 * (v & 0xFFF)], 2);
    }
}

bool decode(std::string_view text, std::string& out, std::string* error) {
    out.resize(decoded_size_bound(text.size()));
    const std::size_t size = decode_to(text, out.data());
    if (size == npos) return fail(text, out, error);
    out.resize(size);
    return true;
}

}  // namespace kinesd::base64
