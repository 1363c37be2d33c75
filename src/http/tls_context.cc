#include "http/tls_context.h"

#include <openssl/err.h>
#include <openssl/ssl.h>

#include <stdexcept>

namespace kinesd::http {
namespace {

namespace ssl = boost::asio::ssl;

// In ALPN wire format: a length byte before each name. h2 first: a client
// offering both gets HTTP/2.
constexpr unsigned char offered[] = {2, 'h', '2', 8, 'h', 't', 't', 'p', '/', '1', '.', '1'};

int select_protocol(SSL*, const unsigned char** out, unsigned char* out_len, const unsigned char* in,
                    unsigned int in_len, void*) {
    unsigned char* chosen = nullptr;
    if (SSL_select_next_proto(&chosen, out_len, offered, sizeof offered, in, in_len) != OPENSSL_NPN_NEGOTIATED)
        // Nothing in common: go on without ALPN rather than fail the
        // handshake; the bytes that follow tell the protocol.
        return SSL_TLSEXT_ERR_NOACK;
    *out = chosen;
    return SSL_TLSEXT_ERR_OK;
}

std::string openssl_error() {
    const auto code = ERR_get_error();
    if (code == 0) return "unknown error";
    char text[256];
    ERR_error_string_n(code, text, sizeof text);
    ERR_clear_error();
    return text;
}

}  // namespace

std::shared_ptr<ssl::context> make_tls_context(const std::string& cert_file, const std::string& key_file) {
    auto context = std::make_shared<ssl::context>(ssl::context::tls_server);
    auto* native = context->native_handle();
    SSL_CTX_set_min_proto_version(native, TLS1_2_VERSION);
    // Renegotiation would let one client make the server redo handshakes.
    SSL_CTX_set_options(native, SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE);
    if (SSL_CTX_use_certificate_chain_file(native, cert_file.c_str()) != 1)
        throw std::runtime_error("cannot load TLS certificate " + cert_file + ": " + openssl_error());
    if (SSL_CTX_use_PrivateKey_file(native, key_file.c_str(), SSL_FILETYPE_PEM) != 1)
        throw std::runtime_error("cannot load TLS key " + key_file + ": " + openssl_error());
    if (SSL_CTX_check_private_key(native) != 1)
        throw std::runtime_error("TLS key " + key_file + " does not match certificate " + cert_file);
    SSL_CTX_set_alpn_select_cb(native, &select_protocol, nullptr);
    return context;
}

std::string_view alpn_protocol(const SSL* ssl) {
    const unsigned char* name = nullptr;
    unsigned int length = 0;
    SSL_get0_alpn_selected(ssl, &name, &length);
    if (!name) return {};
    return {reinterpret_cast<const char*>(name), length};
}

}  // namespace kinesd::http
