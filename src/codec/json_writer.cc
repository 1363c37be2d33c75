#include "codec/json_writer.h"

#include <array>
#include <charconv>
#include <cmath>
#include <cstring>

#include "codec/codec.h"
#include "codec/utf8.h"
#include "common/base64.h"

namespace kinesd::codec {
namespace {

using json = nlohmann::json;

enum : std::uint8_t { plain = 0, escape = 1, non_ascii = 2 };

constexpr std::array<std::uint8_t, 256> make_byte_classes() {
    std::array<std::uint8_t, 256> t{};
    for (int c = 0; c < 0x20; ++c) t[c] = escape;
    t['"'] = escape;
    t['\\'] = escape;
    for (int c = 0x80; c < 0x100; ++c) t[c] = non_ascii;
    return t;
}
constexpr auto byte_classes = make_byte_classes();

// True when one of the eight bytes is not `plain`: below 0x20, '"', '\\' or
// non-ASCII. Lets the common case (keys, ids) skip eight bytes per step.
inline bool has_special_byte(std::uint64_t w) {
    constexpr std::uint64_t ones = 0x0101010101010101ULL;
    constexpr std::uint64_t high = 0x8080808080808080ULL;
    const std::uint64_t quote = w ^ (ones * '"');
    const std::uint64_t backslash = w ^ (ones * '\\');
    const std::uint64_t found = ((w - ones * 0x20) | (quote - ones) | (backslash - ones) | w) & high;
    // With every high bit clear, no subtraction borrows unless some byte
    // is below its bound, so `found` is zero exactly when all eight are plain.
    return found != 0;
}

void write_escape(unsigned char c, std::string& out) {
    static constexpr char hex[] = "0123456789abcdef";
    switch (c) {
        case '"': out.append("\\\"", 2); return;
        case '\\': out.append("\\\\", 2); return;
        case '\b': out.append("\\b", 2); return;
        case '\f': out.append("\\f", 2); return;
        case '\n': out.append("\\n", 2); return;
        case '\r': out.append("\\r", 2); return;
        case '\t': out.append("\\t", 2); return;
        default: {
            const char u[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15]};
            out.append(u, 6);
        }
    }
}

template <typename Integer>
void write_integer(Integer v, std::string& out) {
    char buf[24];
    const auto result = std::to_chars(buf, buf + sizeof buf, v);
    out.append(buf, static_cast<std::size_t>(result.ptr - buf));
}

std::int64_t as_milliseconds(const json& v) {
    if (v.is_number_unsigned()) {
        const auto u = v.get<std::uint64_t>();
        return u > static_cast<std::uint64_t>(INT64_MAX) ? INT64_MAX : static_cast<std::int64_t>(u);
    }
    return v.get<std::int64_t>();
}

void write_value(const json& v, std::string& out, bool timestamp);

void write_object(const json::object_t& object, std::string& out) {
    out.push_back('{');
    bool first = true;
    for (const auto& [key, member] : object) {
        if (!first) out.push_back(',');
        first = false;
        write_json_string(key, out);
        out.push_back(':');
        write_value(member, out, member.is_number_integer() && is_timestamp_key(key));
    }
    out.push_back('}');
}

void write_value(const json& v, std::string& out, bool timestamp) {
    switch (v.type()) {
        case json::value_t::object:
            write_object(v.get_ref<const json::object_t&>(), out);
            return;
        case json::value_t::array: {
            out.push_back('[');
            bool first = true;
            for (const auto& element : v.get_ref<const json::array_t&>()) {
                if (!first) out.push_back(',');
                first = false;
                write_value(element, out, false);
            }
            out.push_back(']');
            return;
        }
        case json::value_t::string:
            write_json_string(v.get_ref<const std::string&>(), out);
            return;
        case json::value_t::binary: {
            const auto& bytes = v.get_binary();
            out.push_back('"');
            base64::encode_to(out, bytes.data(), bytes.size());
            out.push_back('"');
            return;
        }
        case json::value_t::boolean:
            out.append(v.get<bool>() ? "true" : "false");
            return;
        case json::value_t::number_integer:
            if (timestamp) return write_epoch_seconds(v.get<std::int64_t>(), out);
            return write_integer(v.get<std::int64_t>(), out);
        case json::value_t::number_unsigned:
            if (timestamp) return write_epoch_seconds(as_milliseconds(v), out);
            return write_integer(v.get<std::uint64_t>(), out);
        case json::value_t::number_float:
            return write_json_double(v.get<double>(), out);
        case json::value_t::null:
        case json::value_t::discarded:
            out.append("null", 4);
            return;
    }
}

}  // namespace

void write_json(const json& value, std::string& out) { write_value(value, out, false); }

void write_json_string(std::string_view s, std::string& out) {
    out.push_back('"');
    const auto* p = reinterpret_cast<const unsigned char*>(s.data());
    const std::size_t n = s.size();
    std::size_t run_start = 0;
    std::size_t i = 0;
    while (i < n) {
        if (n - i >= 8) {
            std::uint64_t w;
            std::memcpy(&w, p + i, 8);
            if (!has_special_byte(w)) {
                i += 8;
                continue;
            }
        }
        const std::uint8_t cls = byte_classes[p[i]];
        if (cls == plain) {
            ++i;
            continue;
        }
        if (cls == non_ascii) {
            const std::size_t len = utf8_sequence_length(p + i, n - i);
            if (len != 0) {
                i += len;
                continue;
            }
        }
        out.append(s.data() + run_start, i - run_start);
        if (cls == escape)
            write_escape(p[i], out);
        else
            out.append(replacement_character);
        run_start = ++i;
    }
    out.append(s.data() + run_start, n - run_start);
    out.push_back('"');
}

void write_epoch_seconds(std::int64_t milliseconds, std::string& out) {
    const bool negative = milliseconds < 0;
    // Negate in unsigned arithmetic so that INT64_MIN does not overflow.
    const std::uint64_t magnitude =
        negative ? ~static_cast<std::uint64_t>(milliseconds) + 1 : static_cast<std::uint64_t>(milliseconds);
    if (negative) out.push_back('-');
    write_integer(magnitude / 1000, out);
    unsigned fraction = static_cast<unsigned>(magnitude % 1000);
    if (fraction == 0) return;
    char digits[4] = {'.', static_cast<char>('0' + fraction / 100), static_cast<char>('0' + fraction / 10 % 10),
                      static_cast<char>('0' + fraction % 10)};
    std::size_t len = 4;
    while (digits[len - 1] == '0') --len;
    out.append(digits, len);
}

void write_json_double(double d, std::string& out) {
    if (!std::isfinite(d)) {
        out.append("null", 4);
        return;
    }
    char buf[32];
    const auto result = std::to_chars(buf, buf + sizeof buf, d);
    const std::string_view text(buf, static_cast<std::size_t>(result.ptr - buf));
    out.append(text);
    if (text.find_first_of(".e") == std::string_view::npos) out.append(".0", 2);
}

std::size_t json_size_hint(const json& value) {
    switch (value.type()) {
        case json::value_t::object: {
            std::size_t size = 2;
            for (const auto& [key, member] : value.get_ref<const json::object_t&>())
                size += key.size() + 4 + json_size_hint(member);
            return size;
        }
        case json::value_t::array: {
            std::size_t size = 2;
            for (const auto& element : value.get_ref<const json::array_t&>()) size += 1 + json_size_hint(element);
            return size;
        }
        case json::value_t::string:
            return value.get_ref<const std::string&>().size() + 2;
        case json::value_t::binary:
            return (value.get_binary().size() + 2) / 3 * 4 + 2;
        case json::value_t::number_integer:
        case json::value_t::number_unsigned:
        case json::value_t::number_float:
            return 24;
        default:
            return 5;
    }
}

}  // namespace kinesd::codec
