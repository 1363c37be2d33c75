#include "storage/jetstream/record_frame.h"

namespace kinesd::storage::jetstream {

namespace {
constexpr std::size_t arrival_size = 8;

std::size_t varint_size(std::size_t v) {
    std::size_t n = 1;
    while (v >= 0x80) {
        v >>= 7;
        ++n;
    }
    return n;
}
}  // namespace

std::size_t record_frame_size(std::size_t partition_key_size, std::size_t data_size) {
    return 1 + arrival_size + varint_size(partition_key_size) + partition_key_size + data_size;
}

void encode_record_frame(std::string& out, std::int64_t arrival_ms, std::string_view partition_key,
                         std::string_view data, bool encrypted) {
    out.reserve(out.size() + record_frame_size(partition_key.size(), data.size()));
    out.push_back(char(frame_marker | (encrypted ? frame_flag_encrypted : 0)));
    const auto arrival = std::uint64_t(arrival_ms);
    for (int shift = 56; shift >= 0; shift -= 8) out.push_back(char((arrival >> shift) & 0xFF));
    std::size_t length = partition_key.size();
    while (length >= 0x80) {
        out.push_back(char((length & 0x7F) | 0x80));
        length >>= 7;
    }
    out.push_back(char(length));
    out.append(partition_key);
    out.append(data);
}

bool decode_record_frame(std::string_view bytes, record_frame& out) {
    out = {};
    if (bytes.size() < 1 + arrival_size + 1) return false;
    const auto head = static_cast<unsigned char>(bytes[0]);
    if ((head & frame_marker_mask) != frame_marker) return false;
    std::uint64_t arrival = 0;
    for (std::size_t i = 1; i <= arrival_size; ++i) arrival = (arrival << 8) | static_cast<unsigned char>(bytes[i]);
    std::size_t pos = 1 + arrival_size;
    std::uint64_t length = 0;
    for (int shift = 0;; shift += 7) {
        if (pos >= bytes.size() || shift > 28) return false;
        const auto b = static_cast<unsigned char>(bytes[pos++]);
        length |= std::uint64_t(b & 0x7F) << shift;
        if (!(b & 0x80)) break;
    }
    if (length > bytes.size() - pos) return false;
    out.arrival_ms = std::int64_t(arrival);
    out.encrypted = head & frame_flag_encrypted;
    out.partition_key = bytes.substr(pos, length);
    out.data = bytes.substr(pos + length);
    return true;
}

}  // namespace kinesd::storage::jetstream
