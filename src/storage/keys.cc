#include "storage/keys.h"

namespace kinesd::storage::keys {

std::string shard_cf_name(std::uint64_t stream_uid, std::uint32_t shard_index) {
    return "shard-" + std::to_string(stream_uid) + "-" + std::to_string(shard_index);
}

bool is_shard_cf_name(std::string_view name) { return name.substr(0, 6) == "shard-"; }

void encode_counter(std::uint64_t counter, char out[8]) {
    for (int i = 7; i >= 0; --i) {
        out[i] = char(counter & 0xff);
        counter >>= 8;
    }
}

std::string counter_key(std::uint64_t counter) {
    std::string s(8, '\0');
    encode_counter(counter, s.data());
    return s;
}

std::uint64_t decode_counter(std::string_view key) {
    std::uint64_t v = 0;
    for (std::size_t i = 0; i < 8 && i < key.size(); ++i) v = (v << 8) | static_cast<unsigned char>(key[i]);
    return v;
}

std::size_t record_value_size(std::size_t partition_key_size, std::size_t data_size) {
    return 8 + 2 + partition_key_size + data_size;
}

void encode_record_value(std::string& out, std::int64_t arrival_ms, std::string_view partition_key,
                         std::string_view data, bool encrypted) {
    out.clear();
    out.reserve(record_value_size(partition_key.size(), data.size()));
    char head[10];
    encode_counter(std::uint64_t(arrival_ms), head);
    head[8] = char(((partition_key.size() >> 8) & 0x7f) | (encrypted ? 0x80 : 0));
    head[9] = char(partition_key.size() & 0xff);
    out.append(head, 10);
    out.append(partition_key);
    out.append(data);
}

bool decode_record_value(std::string_view bytes, record_value& out) {
    if (bytes.size() < 10) return false;
    out.arrival_ms = std::int64_t(decode_counter(bytes.substr(0, 8)));
    out.encrypted = (static_cast<unsigned char>(bytes[8]) & 0x80) != 0;
    std::size_t key_size = (std::size_t(static_cast<unsigned char>(bytes[8]) & 0x7f) << 8) |
                           static_cast<unsigned char>(bytes[9]);
    if (bytes.size() < 10 + key_size) return false;
    out.partition_key = bytes.substr(10, key_size);
    out.data = bytes.substr(10 + key_size);
    return true;
}

std::string stream_meta_key(std::string_view stream_name) {
    return std::string(stream_meta_prefix) + std::string(stream_name);
}

std::string counter_meta_key(std::string_view cf_name) { return "counter/" + std::string(cf_name); }

}  // namespace kinesd::storage::keys
