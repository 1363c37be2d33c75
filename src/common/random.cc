#include "common/random.h"

#include <openssl/rand.h>

#include <algorithm>
#include <cstring>
#include <random>
#include <stdexcept>

namespace kinesd {

std::string random_bytes(std::size_t n) {
    std::string out(n, '\0');
    if (RAND_bytes(reinterpret_cast<unsigned char*>(out.data()), int(n)) != 1)
        throw std::runtime_error("RAND_bytes failed");
    return out;
}

std::uint64_t random_u64() {
    std::string b = random_bytes(8);
    std::uint64_t v = 0;
    for (unsigned char c : b) v = (v << 8) | c;
    return v;
}

std::uint64_t random_u63() {
    std::string b = random_bytes(8);
    std::uint64_t v = 0;
    for (unsigned char c : b) v = (v << 8) | c;
    return v >> 1;
}

namespace {

std::string uuid_text(std::string b) {
    b[6] = char((b[6] & 0x0f) | 0x40);
    b[8] = char((b[8] & 0x3f) | 0x80);
    static const char* hex = "0123456789abcdef";
    std::string out;
    out.reserve(36);
    for (int i = 0; i < 16; ++i) {
        if (i == 4 || i == 6 || i == 8 || i == 10) out.push_back('-');
        auto c = static_cast<unsigned char>(b[i]);
        out.push_back(hex[c >> 4]);
        out.push_back(hex[c & 15]);
    }
    return out;
}

std::mt19937_64& id_generator() {
    thread_local std::mt19937_64 generator = [] {
        const std::string seed = random_bytes(32);
        std::seed_seq seq(seed.begin(), seed.end());
        return std::mt19937_64(seq);
    }();
    return generator;
}

}  // namespace

std::string id_bytes(std::size_t n) {
    std::string out(n, '\0');
    auto& generate = id_generator();
    for (std::size_t i = 0; i < n; i += 8) {
        const std::uint64_t word = generate();
        std::memcpy(out.data() + i, &word, std::min<std::size_t>(8, n - i));
    }
    return out;
}

std::string id_uuid() { return uuid_text(id_bytes(16)); }

}  // namespace kinesd
