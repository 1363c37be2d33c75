#include "streams/encoding.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <array>
#include <cstring>
#include <memory>

#include "common/base64.h"

namespace kinesd::encoding {

std::string shard_id(std::uint32_t index) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "shardId-%012u", index);
    return buf;
}

std::optional<std::uint32_t> parse_shard_id(std::string_view text) {
    auto dash = text.rfind('-');
    std::string_view digits = dash == std::string_view::npos ? text : text.substr(dash + 1);
    if (digits.empty() || digits.size() > 12) return std::nullopt;
    std::uint64_t v = 0;
    for (char c : digits) {
        if (c < '0' || c > '9') return std::nullopt;
        v = v * 10 + std::uint64_t(c - '0');
    }
    if (v > 0xffffffffULL) return std::nullopt;
    return std::uint32_t(v);
}

uint128 partition_hash(std::string_view partition_key) {
    // EVP_Digest looks MD5 up and allocates a context on every call, which
    // cost more than the hash itself; once per process and per thread is enough.
    static EVP_MD* const md5 = EVP_MD_fetch(nullptr, "MD5", nullptr);
    thread_local std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx(EVP_MD_CTX_new(), EVP_MD_CTX_free);
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    EVP_DigestInit_ex2(ctx.get(), md5, nullptr);
    EVP_DigestUpdate(ctx.get(), partition_key.data(), partition_key.size());
    EVP_DigestFinal_ex(ctx.get(), md, &len);
    uint128 v = 0;
    for (int i = 0; i < 16; ++i) v = (v << 8) | md[i];
    return v;
}

namespace {

// A 192-bit unsigned value in three 64-bit words, most significant first:
// just enough arithmetic to move sequence numbers between bits and decimal.
struct u192 {
    std::array<std::uint64_t, 3> w{};

    void shift_in(std::uint64_t value, int bits) {
        // (this << bits) | value, for bits <= 64
        if (bits == 64) {
            w[0] = w[1];
            w[1] = w[2];
            w[2] = value;
            return;
        }
        w[0] = (w[0] << bits) | (w[1] >> (64 - bits));
        w[1] = (w[1] << bits) | (w[2] >> (64 - bits));
        w[2] = (w[2] << bits) | value;
    }
    std::uint64_t bits_at(int lsb, int count) const {
        // bits [lsb, lsb+count) counted from the least significant end
        std::uint64_t out = 0;
        for (int i = count - 1; i >= 0; --i) {
            int bit = lsb + i;
            std::uint64_t word = w[2 - bit / 64];
            out = (out << 1) | ((word >> (bit % 64)) & 1);
        }
        return out;
    }
    bool mul10_add(unsigned digit) {
        unsigned __int128 carry = digit;
        for (int i = 2; i >= 0; --i) {
            unsigned __int128 p = (unsigned __int128)w[i] * 10 + carry;
            w[i] = std::uint64_t(p);
            carry = p >> 64;
        }
        return carry == 0;
    }
    // Divides by 10^18 and returns the remainder: printing in 18-digit
    // chunks takes four divisions per number instead of fifty-six.
    std::uint64_t divmod_1e18() {
        constexpr std::uint64_t chunk = 1000000000000000000ULL;
        unsigned __int128 rem = 0;
        for (int i = 0; i < 3; ++i) {
            unsigned __int128 cur = (rem << 64) | w[i];
            w[i] = std::uint64_t(cur / chunk);
            rem = cur % chunk;
        }
        return std::uint64_t(rem);
    }
    bool is_zero() const { return w[0] == 0 && w[1] == 0 && w[2] == 0; }
};

constexpr std::uint64_t mask36 = (1ULL << 36) - 1;

}  // namespace

void append_sequence_number(const sequence_fields& f, std::string& out) {
    u192 v;
    v.shift_in(2, 4);
    v.shift_in(f.shard_created_s & mask36, 36);
    v.shift_in(f.shard_index & 0xf, 4);
    v.shift_in(f.counter, 64);
    v.shift_in(0, 8);
    v.shift_in(f.arrival_s & mask36, 36);
    v.shift_in(f.shard_index, 32);
    v.shift_in(2, 4);
    // Nine digits at a time over 32-bit limbs: every division is a 64-bit one
    // by a constant, which compiles to multiplications, where 128-bit
    // divisions are library calls. That matters at one number per record.
    std::uint32_t limbs[6];
    for (int i = 0; i < 3; ++i) {
        limbs[2 * i] = std::uint32_t(v.w[i] >> 32);
        limbs[2 * i + 1] = std::uint32_t(v.w[i]);
    }
    constexpr std::uint64_t billion = 1000000000ULL;
    char buf[63];
    int pos = 63;
    while (pos > 0) {
        std::uint64_t rem = 0;
        for (auto& limb : limbs) {
            const std::uint64_t cur = (rem << 32) | limb;
            limb = std::uint32_t(cur / billion);
            rem = cur % billion;
        }
        auto part = std::uint32_t(rem);
        for (int d = 0; d < 9; ++d) {
            buf[--pos] = char('0' + part % 10);
            part /= 10;
        }
    }
    // The leading 2 in the top nibble makes every number exactly 56 digits.
    out.append(buf + 63 - sequence_number_digits, sequence_number_digits);
}

std::string_view sequence_stepper::next(std::uint64_t counter, std::uint64_t arrival_s) {
    if (valid_ && arrival_s == arrival_s_ && counter == counter_ + 1 && counter != 0) {
        add_counter_step();
    } else {
        scratch_.clear();
        append_sequence_number({created_s_, index_, counter, arrival_s}, scratch_);
        std::memcpy(digits_, scratch_.data(), sequence_number_digits);
        arrival_s_ = arrival_s;
        valid_ = true;
    }
    counter_ = counter;
    return {digits_, sequence_number_digits};
}

void sequence_stepper::add_counter_step() {
    static constexpr std::string_view two_to_80 = "1208925819614629174706176";
    std::size_t i = sequence_number_digits;
    int carry = 0;
    for (std::size_t k = two_to_80.size(); k-- > 0;) {
        --i;
        int d = (digits_[i] - '0') + (two_to_80[k] - '0') + carry;
        carry = d >= 10;
        digits_[i] = char('0' + d - 10 * carry);
    }
    // The number stays below 10^56 (its top nibble is 2), so the carry
    // always stops inside it.
    while (carry && i > 0) {
        --i;
        carry = digits_[i] == '9';
        digits_[i] = carry ? '0' : char(digits_[i] + 1);
    }
}

std::string sequence_number(const sequence_fields& f) {
    std::string out;
    out.reserve(sequence_number_digits);
    append_sequence_number(f, out);
    return out;
}

std::optional<sequence_fields> parse_sequence_number(std::string_view text) {
    if (text.size() != 56 || text[0] == '0') return std::nullopt;
    u192 v;
    for (char c : text) {
        if (c < '0' || c > '9') return std::nullopt;
        if (!v.mul10_add(unsigned(c - '0'))) return std::nullopt;
    }
    if (v.bits_at(184, 8) != 2 || v.bits_at(0, 4) != 2 || v.bits_at(72, 8) != 0) return std::nullopt;
    sequence_fields f;
    f.shard_index = std::uint32_t(v.bits_at(4, 32));
    f.arrival_s = v.bits_at(36, 36);
    f.counter = v.bits_at(80, 64);
    if (v.bits_at(144, 4) != (f.shard_index & 0xf)) return std::nullopt;
    f.shard_created_s = v.bits_at(148, 36);
    return f;
}

namespace {

constexpr std::uint8_t iterator_version = 1;
constexpr std::size_t mac_size = 16;

void put_u64(std::string& out, std::uint64_t v) {
    for (int i = 7; i >= 0; --i) out.push_back(char((v >> (8 * i)) & 0xff));
}
void put_u32(std::string& out, std::uint32_t v) {
    for (int i = 3; i >= 0; --i) out.push_back(char((v >> (8 * i)) & 0xff));
}
std::uint64_t get_be(const unsigned char* p, int n) {
    std::uint64_t v = 0;
    for (int i = 0; i < n; ++i) v = (v << 8) | p[i];
    return v;
}
std::string mac_of(std::string_view payload, std::string_view secret) {
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    HMAC(EVP_sha256(), secret.data(), int(secret.size()),
         reinterpret_cast<const unsigned char*>(payload.data()), payload.size(), md, &len);
    return std::string(reinterpret_cast<char*>(md), mac_size);
}

}  // namespace

std::string shard_iterator(const iterator_fields& f, std::string_view secret) {
    std::string raw;
    raw.reserve(1 + 8 + 8 + 4 + 8 + f.stream_name.size() + mac_size);
    raw.push_back(char(iterator_version));
    put_u64(raw, std::uint64_t(f.issued_ms));
    put_u64(raw, f.stream_uid);
    put_u32(raw, f.shard_index);
    put_u64(raw, f.next_counter);
    raw += f.stream_name;
    raw += mac_of(raw, secret);
    return base64::encode(raw);
}

std::optional<iterator_fields> parse_shard_iterator(std::string_view text, std::string_view secret) {
    std::string raw;
    if (!base64::decode(text, raw)) return std::nullopt;
    constexpr std::size_t fixed = 1 + 8 + 8 + 4 + 8;
    if (raw.size() < fixed + 1 + mac_size || std::uint8_t(raw[0]) != iterator_version) return std::nullopt;
    std::string_view payload(raw.data(), raw.size() - mac_size);
    std::string expected = mac_of(payload, secret);
    if (CRYPTO_memcmp(expected.data(), raw.data() + payload.size(), mac_size) != 0) return std::nullopt;
    auto p = reinterpret_cast<const unsigned char*>(raw.data());
    iterator_fields f;
    f.issued_ms = std::int64_t(get_be(p + 1, 8));
    f.stream_uid = get_be(p + 9, 8);
    f.shard_index = std::uint32_t(get_be(p + 17, 4));
    f.next_counter = get_be(p + 21, 8);
    f.stream_name.assign(payload.substr(fixed));
    return f;
}

}  // namespace kinesd::encoding

namespace kinesd::encoding {

namespace {
constexpr std::uint8_t paging_version = 7;
}

std::string paging_token(std::string_view payload, std::int64_t issued_ms, std::string_view secret) {
    std::string raw;
    raw.push_back(char(paging_version));
    put_u64(raw, std::uint64_t(issued_ms));
    raw += payload;
    raw += mac_of(raw, secret);
    return base64::encode(raw);
}

std::optional<paging_fields> parse_paging_token(std::string_view text, std::string_view secret) {
    std::string raw;
    if (!base64::decode(text, raw)) return std::nullopt;
    if (raw.size() < 1 + 8 + mac_size || std::uint8_t(raw[0]) != paging_version) return std::nullopt;
    std::string_view payload(raw.data(), raw.size() - mac_size);
    std::string expected = mac_of(payload, secret);
    if (CRYPTO_memcmp(expected.data(), raw.data() + payload.size(), mac_size) != 0) return std::nullopt;
    paging_fields f;
    f.issued_ms = std::int64_t(get_be(reinterpret_cast<const unsigned char*>(raw.data()) + 1, 8));
    f.payload.assign(payload.substr(9));
    return f;
}

}  // namespace kinesd::encoding
