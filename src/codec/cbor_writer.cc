#include "codec/cbor_writer.h"

#include <bit>

#include "codec/codec.h"
#include "codec/utf8.h"

namespace kinesd::codec {
namespace {

using json = nlohmann::json;

enum : std::uint8_t {
    major_unsigned = 0,
    major_negative = 1,
    major_bytes = 2,
    major_text = 3,
    major_array = 4,
    major_map = 5,
};
constexpr char tag_epoch_time = '\xC1';  // tag 1
constexpr char simple_false = '\xF4';
constexpr char simple_true = '\xF5';
constexpr char simple_null = '\xF6';
constexpr char float64_head = '\xFB';

void append_big_endian(std::uint64_t v, int bytes, std::string& out) {
    char buf[8];
    for (int i = bytes - 1; i >= 0; --i) {
        buf[i] = static_cast<char>(v & 0xFF);
        v >>= 8;
    }
    out.append(buf, static_cast<std::size_t>(bytes));
}

void write_signed(std::int64_t v, std::string& out) {
    if (v >= 0)
        write_cbor_head(major_unsigned, static_cast<std::uint64_t>(v), out);
    else
        write_cbor_head(major_negative, ~static_cast<std::uint64_t>(v), out);  // -1 - v
}

void write_double(double d, std::string& out) {
    // Always float64, even when float32 would hold the value exactly: a reader
    // that goes through the number's text (the Java SDK v2's default JSON node
    // factory does) would get a float32's shortest text, which need not name
    // the same double.
    out.push_back(float64_head);
    append_big_endian(std::bit_cast<std::uint64_t>(d), 8, out);
}

void write_value(const json& v, std::string& out) {
    switch (v.type()) {
        case json::value_t::object: {
            const auto& object = v.get_ref<const json::object_t&>();
            write_cbor_head(major_map, object.size(), out);
            for (const auto& [key, member] : object) {
                write_cbor_text(key, out);
                if (member.is_number_integer() && is_timestamp_key(key)) out.push_back(tag_epoch_time);
                write_value(member, out);
            }
            return;
        }
        case json::value_t::array: {
            const auto& array = v.get_ref<const json::array_t&>();
            write_cbor_head(major_array, array.size(), out);
            for (const auto& element : array) write_value(element, out);
            return;
        }
        case json::value_t::string:
            return write_cbor_text(v.get_ref<const std::string&>(), out);
        case json::value_t::binary: {
            const auto& bytes = v.get_binary();
            write_cbor_head(major_bytes, bytes.size(), out);
            out.append(reinterpret_cast<const char*>(bytes.data()), bytes.size());
            return;
        }
        case json::value_t::boolean:
            out.push_back(v.get<bool>() ? simple_true : simple_false);
            return;
        case json::value_t::number_integer:
            return write_signed(v.get<std::int64_t>(), out);
        case json::value_t::number_unsigned:
            return write_cbor_head(major_unsigned, v.get<std::uint64_t>(), out);
        case json::value_t::number_float:
            return write_double(v.get<double>(), out);
        case json::value_t::null:
        case json::value_t::discarded:
            out.push_back(simple_null);
            return;
    }
}

}  // namespace

void write_cbor_head(std::uint8_t major, std::uint64_t argument, std::string& out) {
    const auto type_bits = static_cast<std::uint8_t>(major << 5);
    if (argument < 24) {
        out.push_back(static_cast<char>(type_bits | argument));
    } else if (argument <= 0xFF) {
        out.push_back(static_cast<char>(type_bits | 24));
        append_big_endian(argument, 1, out);
    } else if (argument <= 0xFFFF) {
        out.push_back(static_cast<char>(type_bits | 25));
        append_big_endian(argument, 2, out);
    } else if (argument <= 0xFFFFFFFF) {
        out.push_back(static_cast<char>(type_bits | 26));
        append_big_endian(argument, 4, out);
    } else {
        out.push_back(static_cast<char>(type_bits | 27));
        append_big_endian(argument, 8, out);
    }
}

void write_cbor_text(std::string_view s, std::string& out) {
    if (utf8_valid_prefix(s) == s.size()) {
        write_cbor_head(major_text, s.size(), out);
        out.append(s);
        return;
    }
    // Jackson refuses a text string that is not UTF-8; the length must be
    // that of the repaired text, so repair first.
    std::string repaired;
    append_utf8_replacing_invalid(s, repaired);
    write_cbor_head(major_text, repaired.size(), out);
    out.append(repaired);
}

void write_cbor(const json& value, std::string& out) { write_value(value, out); }

std::size_t cbor_size_hint(const json& value) {
    switch (value.type()) {
        case json::value_t::object: {
            std::size_t size = 9;
            for (const auto& [key, member] : value.get_ref<const json::object_t&>())
                size += key.size() + 9 + cbor_size_hint(member);
            return size;
        }
        case json::value_t::array: {
            std::size_t size = 9;
            for (const auto& element : value.get_ref<const json::array_t&>()) size += cbor_size_hint(element);
            return size;
        }
        case json::value_t::string:
            return value.get_ref<const std::string&>().size() + 9;
        case json::value_t::binary:
            return value.get_binary().size() + 9;
        default:
            return 9;
    }
}

}  // namespace kinesd::codec
