#include "codec/event_stream.h"

#include <zlib.h>

#include <stdexcept>

namespace kinesd::codec::event_stream {

namespace {

constexpr std::uint8_t string_type = 7;

void put_u32(std::string& out, std::uint32_t v) {
    const char bytes[4] = {char(v >> 24), char(v >> 16), char(v >> 8), char(v)};
    out.append(bytes, 4);
}

std::uint32_t get_u32(const unsigned char* p) {
    return std::uint32_t(p[0]) << 24 | std::uint32_t(p[1]) << 16 | std::uint32_t(p[2]) << 8 | std::uint32_t(p[3]);
}

std::uint32_t crc_of(std::string_view bytes, std::uint32_t crc = 0) {
    return std::uint32_t(
        ::crc32(crc, reinterpret_cast<const Bytef*>(bytes.data()), static_cast<uInt>(bytes.size())));
}

// Bytes a value of each fixed-size type takes (types 0-5, 8, 9); -1 for the
// length-prefixed ones (6, 7) and for unknown types.
int fixed_value_size(std::uint8_t type) {
    switch (type) {
        case 0: case 1: return 0;
        case 2: return 1;
        case 3: return 2;
        case 4: return 4;
        case 5: case 8: return 8;
        case 9: return 16;
        default: return -1;
    }
}

}  // namespace

void append_message(std::string& out, const std::vector<header>& headers, std::string_view payload) {
    std::size_t headers_size = 0;
    for (const auto& h : headers) {
        if (h.name.size() > 255 || h.value.size() > 0xffff)
            throw std::length_error("event-stream header too long");
        headers_size += 1 + h.name.size() + 1 + 2 + h.value.size();
    }
    const std::size_t total = prelude_size + headers_size + payload.size() + trailer_size;
    const std::size_t start = out.size();
    out.reserve(start + total);
    put_u32(out, std::uint32_t(total));
    put_u32(out, std::uint32_t(headers_size));
    put_u32(out, crc_of(std::string_view(out).substr(start, 8)));
    for (const auto& h : headers) {
        out.push_back(char(h.name.size()));
        out.append(h.name);
        out.push_back(char(string_type));
        out.push_back(char(h.value.size() >> 8));
        out.push_back(char(h.value.size()));
        out.append(h.value);
    }
    out.append(payload);
    put_u32(out, crc_of(std::string_view(out).substr(start)));
}

void append_event(std::string& out, std::string_view event_type, std::string_view content_type,
                  std::string_view payload) {
    append_message(out, {{":event-type", event_type}, {":content-type", content_type}, {":message-type", "event"}},
                   payload);
}

void append_exception(std::string& out, std::string_view exception_type, std::string_view content_type,
                      std::string_view payload) {
    append_message(out,
                   {{":exception-type", exception_type}, {":content-type", content_type},
                    {":message-type", "exception"}},
                   payload);
}

const std::string* message::find(std::string_view name) const {
    for (const auto& [n, v] : headers)
        if (n == name) return &v;
    return nullptr;
}

read_status read_message(std::string_view in, message& out, std::size_t& used) {
    if (in.size() < prelude_size) return read_status::incomplete;
    const auto* p = reinterpret_cast<const unsigned char*>(in.data());
    const std::uint32_t total = get_u32(p), headers_size = get_u32(p + 4);
    if (get_u32(p + 8) != crc_of(in.substr(0, 8))) return read_status::corrupt;
    if (total < prelude_size + trailer_size || headers_size > total - prelude_size - trailer_size ||
        headers_size > max_headers_size || total - prelude_size - trailer_size - headers_size > max_payload_size)
        return read_status::corrupt;
    if (in.size() < total) return read_status::incomplete;
    if (get_u32(p + total - 4) != crc_of(in.substr(0, total - 4))) return read_status::corrupt;

    out = {};
    std::size_t at = prelude_size;
    const std::size_t headers_end = prelude_size + headers_size;
    while (at < headers_end) {
        const std::size_t name_size = p[at++];
        if (at + name_size + 1 > headers_end) return read_status::corrupt;
        std::string name(in.substr(at, name_size));
        at += name_size;
        const std::uint8_t type = p[at++];
        std::size_t value_size;
        if (type == 6 || type == string_type) {
            if (at + 2 > headers_end) return read_status::corrupt;
            value_size = std::size_t(p[at]) << 8 | p[at + 1];
            at += 2;
        } else {
            const int fixed = fixed_value_size(type);
            if (fixed < 0) return read_status::corrupt;
            value_size = std::size_t(fixed);
        }
        if (at + value_size > headers_end) return read_status::corrupt;
        out.headers.emplace_back(std::move(name), std::string(in.substr(at, value_size)));
        at += value_size;
    }
    out.payload.assign(in.substr(headers_end, total - headers_end - trailer_size));
    used = total;
    return read_status::ok;
}

}  // namespace kinesd::codec::event_stream
