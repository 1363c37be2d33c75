#pragma once
// A certificate for TLS when none is configured: self-signed, EC P-256, for
// localhost, 127.0.0.1 and ::1, valid ten years. It is its own CA
// (basicConstraints CA:TRUE, keyUsage keyCertSign), so clients can trust it
// directly as their CA bundle.
#include <string>

namespace kinesd::http {

struct tls_files {
    std::string cert;  // PEM certificate
    std::string key;   // PEM private key, mode 0600
};

// Writes a new pair, replacing any files there. Throws std::runtime_error.
void write_self_signed_cert(const tls_files& files);

// cert.pem and key.pem in `dir`: made (with `dir`) when either is missing,
// reused otherwise. `created` says which happened.
tls_files ensure_self_signed_cert(const std::string& dir, bool& created);

}  // namespace kinesd::http
