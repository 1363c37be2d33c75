#include "storage/keys.h"

#include <cstring>
#include <stdexcept>

namespace kinesd::storage::keys {

std::string shard_cf_name(std::uint64_t stream_uid, std::uint32_t shard_index) {
    return "shard-" + std::to_string(stream_uid) + "-" + std::to_string(shard_index);
}

bool is_shard_cf_name(std::string_view name) { return name.substr(0, 6) == "shard-"; }

namespace {
bool parse_decimal(std::string_view text, std::uint64_t max, std::uint64_t* out) {
    if (text.empty() || text.size() > 20) return false;
    std::uint64_t v = 0;
    for (char c : text) {
        if (c < '0' || c > '9') return false;
        const std::uint64_t digit = std::uint64_t(c - '0');
        if (v > (max - digit) / 10) return false;
        v = v * 10 + digit;
    }
    *out = v;
    return true;
}
}  // namespace

std::string shard_prefix(std::string_view shard_name) {
    std::uint64_t uid = 0, index = 0;
    const auto dash = shard_name.rfind('-');
    if (!is_shard_cf_name(shard_name) || dash == std::string_view::npos || dash < 6 ||
        !parse_decimal(shard_name.substr(6, dash - 6), UINT64_MAX, &uid) ||
        !parse_decimal(shard_name.substr(dash + 1), UINT32_MAX, &index))
        throw std::invalid_argument("not a shard name: " + std::string(shard_name));
    std::string out(shard_prefix_size, '\0');
    encode_counter(uid, out.data());
    for (int i = 3; i >= 0; --i) {
        out[8 + i] = char(index & 0xff);
        index >>= 8;
    }
    return out;
}

std::size_t encode_record_key(std::string_view prefix, std::uint64_t counter, char out[max_record_key_size]) {
    std::memcpy(out, prefix.data(), prefix.size());
    encode_counter(counter, out + prefix.size());
    return prefix.size() + 8;
}

std::uint64_t record_key_counter(std::string_view key) {
    return key.size() < 8 ? 0 : decode_counter(key.substr(key.size() - 8));
}

void encode_counter_meta(std::uint64_t counter, std::int64_t last_arrival_ms, char out[16]) {
    encode_counter(counter, out);
    encode_counter(std::uint64_t(last_arrival_ms), out + 8);
}

bool decode_counter_meta(std::string_view value, std::uint64_t* counter, std::int64_t* last_arrival_ms) {
    if (value.size() < 8) return false;
    *counter = decode_counter(value.substr(0, 8));
    *last_arrival_ms = value.size() >= 16 ? std::int64_t(decode_counter(value.substr(8, 8))) : 0;
    return true;
}

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

namespace {

void put_be(char* out, std::uint64_t v, int bytes) {
    for (int i = bytes - 1; i >= 0; --i) {
        out[i] = char(v & 0xff);
        v >>= 8;
    }
}

std::uint64_t get_be(std::string_view in, int bytes) {
    std::uint64_t v = 0;
    for (int i = 0; i < bytes; ++i) v = (v << 8) | static_cast<unsigned char>(in[i]);
    return v;
}
}  // namespace

void write_chunk_head(char* out, std::int64_t arrival_ms, std::uint32_t count) {
    out[0] = char(chunk_marker);
    put_be(out + 1, std::uint64_t(arrival_ms), 8);
    put_be(out + 9, count, 4);
}

void write_chunk_record_head(char* out, std::size_t partition_key_size, std::size_t data_size, bool encrypted) {
    out[0] = char(((partition_key_size >> 8) & 0x7f) | (encrypted ? 0x80 : 0));
    out[1] = char(partition_key_size & 0xff);
    put_be(out + 2, data_size, 4);
}

bool chunk_reader::open(std::string_view value) {
    taken_ = 0;
    if (!value.empty() && static_cast<unsigned char>(value[0]) == chunk_marker) {
        if (value.size() < chunk_head_size) return false;
        single_ = false;
        arrival_ms_ = std::int64_t(get_be(value.substr(1), 8));
        count_ = std::uint32_t(get_be(value.substr(9), 4));
        rest_ = value.substr(chunk_head_size);
        return true;
    }
    record_value rv;
    if (!decode_record_value(value, rv)) return false;
    single_ = true;
    arrival_ms_ = rv.arrival_ms;
    count_ = 1;
    rest_ = value;
    return true;
}

bool chunk_reader::next(record_value& out) {
    if (taken_ >= count_) return false;
    if (single_) {
        ++taken_;
        return decode_record_value(rest_, out);
    }
    if (rest_.size() < chunk_record_head_size) return false;
    const auto b0 = static_cast<unsigned char>(rest_[0]);
    const std::size_t key_size = (std::size_t(b0 & 0x7f) << 8) | static_cast<unsigned char>(rest_[1]);
    const std::size_t data_size = get_be(rest_.substr(2), 4);
    if (rest_.size() - chunk_record_head_size < key_size + data_size) return false;
    out.arrival_ms = arrival_ms_;
    out.encrypted = (b0 & 0x80) != 0;
    out.partition_key = rest_.substr(chunk_record_head_size, key_size);
    out.data = rest_.substr(chunk_record_head_size + key_size, data_size);
    rest_.remove_prefix(chunk_record_head_size + key_size + data_size);
    ++taken_;
    return true;
}

std::string stream_meta_key(std::string_view stream_name) {
    return std::string(stream_meta_prefix) + std::string(stream_name);
}

std::string shard_meta_key(std::string_view cf_name) { return std::string(shard_meta_prefix) + std::string(cf_name); }

std::string counter_meta_key(std::string_view cf_name) { return "counter/" + std::string(cf_name); }

std::string trim_meta_key(std::string_view cf_name) { return "trim/" + std::string(cf_name); }

}  // namespace kinesd::storage::keys
