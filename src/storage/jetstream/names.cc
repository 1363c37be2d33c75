#include "storage/jetstream/names.h"

namespace kinesd::storage::jetstream {

namespace {
bool plain_name_char(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
}
bool plain_key_char(char c) { return plain_name_char(c) || c == '/'; }
int hex_value(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}
}  // namespace

std::string name_token(std::string_view text) {
    std::string out(text);
    for (auto& c : out)
        if (!plain_name_char(c)) c = '_';
    return out;
}

std::string shard_stream_name(std::string_view prefix, std::string_view shard_name) {
    return name_token(prefix) + "_" + name_token(shard_name);
}

std::string shard_live_subject(std::string_view prefix, std::string_view shard_name) {
    return std::string(prefix) + ".rec." + std::string(shard_name);
}

std::string shard_closed_subject(std::string_view prefix, std::string_view shard_name) {
    return std::string(prefix) + ".closed." + std::string(shard_name);
}

std::string meta_bucket_name(std::string_view prefix) { return name_token(prefix) + "_meta"; }

std::string encode_meta_key(std::string_view key) {
    static constexpr char digits[] = "0123456789ABCDEF";
    std::string out;
    out.reserve(key.size());
    for (char c : key) {
        if (plain_key_char(c)) {
            out.push_back(c);
        } else {
            const auto b = static_cast<unsigned char>(c);
            out.push_back('=');
            out.push_back(digits[b >> 4]);
            out.push_back(digits[b & 0x0F]);
        }
    }
    return out;
}

bool decode_meta_key(std::string_view encoded, std::string* key) {
    key->clear();
    key->reserve(encoded.size());
    for (std::size_t i = 0; i < encoded.size(); ++i) {
        const char c = encoded[i];
        if (c != '=') {
            if (!plain_key_char(c)) return false;
            key->push_back(c);
            continue;
        }
        if (i + 2 >= encoded.size()) return false;
        const int hi = hex_value(encoded[i + 1]), lo = hex_value(encoded[i + 2]);
        if (hi < 0 || lo < 0) return false;
        key->push_back(char((hi << 4) | lo));
        i += 2;
    }
    return true;
}

}  // namespace kinesd::storage::jetstream
