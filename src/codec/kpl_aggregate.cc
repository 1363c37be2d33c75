#include "codec/kpl_aggregate.h"

#include <openssl/evp.h>

#include <cstdint>
#include <string>

namespace kinesd::codec {

namespace {

constexpr std::size_t md5_size = 16;

bool read_varint(std::string_view& in, std::uint64_t& v) {
    v = 0;
    for (int shift = 0; shift < 64 && !in.empty(); shift += 7) {
        auto byte = static_cast<unsigned char>(in[0]);
        in.remove_prefix(1);
        v |= std::uint64_t(byte & 0x7f) << shift;
        if (byte < 0x80) return true;
    }
    return false;
}

// Calls fn(field, wire_type, varint, bytes) for each field; false when the
// message is malformed or fn refuses a field.
template <typename Fn>
bool each_field(std::string_view in, Fn fn) {
    while (!in.empty()) {
        std::uint64_t key = 0, n = 0;
        if (!read_varint(in, key) || (key >> 3) == 0) return false;
        std::string_view bytes;
        switch (key & 7) {
            case 0:
                if (!read_varint(in, n)) return false;
                break;
            case 1:
            case 5: {
                std::size_t width = (key & 7) == 1 ? 8 : 4;
                if (in.size() < width) return false;
                in.remove_prefix(width);
                break;
            }
            case 2:
                if (!read_varint(in, n) || n > in.size()) return false;
                bytes = in.substr(0, n);
                in.remove_prefix(n);
                break;
            default: return false;  // groups are not used by this message
        }
        if (!fn(key >> 3, unsigned(key & 7), n, bytes)) return false;
    }
    return true;
}

bool md5(std::string_view in, unsigned char (&digest)[EVP_MAX_MD_SIZE]) {
    unsigned int size = 0;
    return EVP_Digest(in.data(), in.size(), digest, &size, EVP_md5(), nullptr) == 1 && size == md5_size;
}

void put_varint(std::string& out, std::uint64_t v) {
    while (v >= 0x80) {
        out.push_back(char(v | 0x80));
        v >>= 7;
    }
    out.push_back(char(v));
}

void put_bytes(std::string& out, std::uint64_t field, std::string_view bytes) {
    put_varint(out, field << 3 | 2);
    put_varint(out, bytes.size());
    out.append(bytes);
}

}  // namespace

bool kpl_deaggregate(std::string_view record, std::vector<kpl_user_record>& out) {
    out.clear();
    if (record.size() < kpl_magic.size() + md5_size || record.substr(0, kpl_magic.size()) != kpl_magic) return false;
    auto message = record.substr(kpl_magic.size(), record.size() - kpl_magic.size() - md5_size);
    unsigned char digest[EVP_MAX_MD_SIZE];
    if (!md5(message, digest) ||
        record.substr(record.size() - md5_size) != std::string_view(reinterpret_cast<const char*>(digest), md5_size))
        return false;

    std::vector<std::string_view> partition_keys, hash_keys;
    struct pending {
        std::uint64_t pk = UINT64_MAX;
        std::optional<std::uint64_t> ehk;
        std::string_view data;
    };
    std::vector<pending> records;
    bool ok = each_field(message, [&](std::uint64_t field, unsigned wire, std::uint64_t, std::string_view bytes) {
        if (field > 3) return true;  // unknown: skipped, as protobuf readers do
        if (wire != 2) return false;
        if (field == 1) partition_keys.push_back(bytes);
        else if (field == 2) hash_keys.push_back(bytes);
        else {
            pending p;
            bool has_pk = false;
            bool parsed = each_field(bytes, [&](std::uint64_t f, unsigned w, std::uint64_t v, std::string_view b) {
                if (f == 1 || f == 2) {
                    if (w != 0) return false;
                    if (f == 1) {
                        p.pk = v;
                        has_pk = true;
                    } else {
                        p.ehk = v;
                    }
                } else if (f == 3) {
                    if (w != 2) return false;
                    p.data = b;
                }
                return true;  // tags (4) and unknown fields
            });
            // partition_key_index is a required field of the proto2 message.
            if (!parsed || !has_pk) return false;
            records.push_back(p);
        }
        return true;
    });
    if (!ok || records.empty()) return false;
    out.reserve(records.size());
    for (const auto& p : records) {
        if (p.pk >= partition_keys.size() || (p.ehk && *p.ehk >= hash_keys.size())) {
            out.clear();
            return false;
        }
        kpl_user_record u{partition_keys[p.pk], std::nullopt, p.data};
        if (p.ehk) u.explicit_hash_key = hash_keys[*p.ehk];
        out.push_back(u);
    }
    return true;
}

std::string kpl_aggregate(const std::vector<kpl_input_record>& records) {
    std::vector<std::string_view> pks, ehks;
    auto index_of = [](std::vector<std::string_view>& table, std::string_view v) {
        for (std::size_t i = 0; i < table.size(); ++i)
            if (table[i] == v) return i;
        table.push_back(v);
        return table.size() - 1;
    };
    std::string body;
    for (const auto& r : records) {
        std::string rec;
        put_varint(rec, 1 << 3 | 0);
        put_varint(rec, index_of(pks, r.partition_key));
        if (r.explicit_hash_key) {
            put_varint(rec, 2 << 3 | 0);
            put_varint(rec, index_of(ehks, *r.explicit_hash_key));
        }
        put_bytes(rec, 3, r.data);
        put_bytes(body, 3, rec);
    }
    std::string message;
    for (auto pk : pks) put_bytes(message, 1, pk);
    for (auto ehk : ehks) put_bytes(message, 2, ehk);
    message += body;
    unsigned char digest[EVP_MAX_MD_SIZE];
    md5(message, digest);
    std::string out(kpl_magic);
    out += message;
    out.append(reinterpret_cast<const char*>(digest), md5_size);
    return out;
}

}  // namespace kinesd::codec
