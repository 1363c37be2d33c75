#pragma once
// The server's TLS setup: certificate and key from PEM files, TLS 1.2 and
// up, and ALPN offering h2 and http/1.1. A client that asks for neither, or
// sends no ALPN at all, still connects; the listener then sniffs what it says.
#include <boost/asio/ssl/context.hpp>

#include <memory>
#include <string>
#include <string_view>

namespace kinesd::http {

// Throws std::runtime_error naming the file when the certificate or key
// cannot be loaded or do not match.
std::shared_ptr<boost::asio::ssl::context> make_tls_context(const std::string& cert_file,
                                                            const std::string& key_file);

// The protocol ALPN settled on for a connection ("h2", "http/1.1"), or empty.
std::string_view alpn_protocol(const SSL* ssl);

}  // namespace kinesd::http
