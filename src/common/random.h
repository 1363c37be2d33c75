#pragma once
#include <cstdint>
#include <string>

namespace kinesd {
// Cryptographically random bytes (OpenSSL RAND_bytes).
std::string random_bytes(std::size_t n);
// A random RFC 4122 version-4 UUID in its 36-character text form.
std::string random_uuid();
// A random number below 2^63 (fits every JSON reader's integers).
std::uint64_t random_u63();
}  // namespace kinesd
