#pragma once
#include <cstdint>
#include <string>

namespace kinesd {
// Cryptographically random bytes (OpenSSL RAND_bytes).
std::string random_bytes(std::size_t n);
// A random number below 2^63 (fits every JSON reader's integers).
std::uint64_t random_u63();
// 64 random bits (object names, UUIDs: see delivery/object_key.h).
std::uint64_t random_u64();

// Bytes and UUIDs for identifiers that must not repeat but need not be
// unpredictable, such as the request ids on every reply: a per-thread
// generator seeded once from random_bytes. RAND_bytes costs a system call
// per call (OpenSSL's fork check), twice per request on the hot path.
std::string id_bytes(std::size_t n);
// An RFC 4122 version-4 UUID in its 36-character text form, from id_bytes.
std::string id_uuid();
}  // namespace kinesd
