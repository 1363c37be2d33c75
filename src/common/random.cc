#include "common/random.h"

#include <openssl/rand.h>

#include <stdexcept>

namespace kinesd {

std::string random_bytes(std::size_t n) {
    std::string out(n, '\0');
    if (RAND_bytes(reinterpret_cast<unsigned char*>(out.data()), int(n)) != 1)
        throw std::runtime_error("RAND_bytes failed");
    return out;
}

std::uint64_t random_u63() {
    std::string b = random_bytes(8);
    std::uint64_t v = 0;
    for (unsigned char c : b) v = (v << 8) | c;
    return v >> 1;
}

std::string random_uuid() {
    std::string b = random_bytes(16);
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

}  // namespace kinesd
