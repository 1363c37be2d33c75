#include "http/self_signed_cert.h"

#include <fcntl.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <functional>
#include <memory>
#include <stdexcept>

namespace kinesd::http {
namespace {

namespace fs = std::filesystem;

constexpr long valid_days = 3650;

struct deleter {
    void operator()(EVP_PKEY* p) const { EVP_PKEY_free(p); }
    void operator()(X509* p) const { X509_free(p); }
    void operator()(X509_EXTENSION* p) const { X509_EXTENSION_free(p); }
    void operator()(BIGNUM* p) const { BN_free(p); }
    void operator()(std::FILE* f) const { std::fclose(f); }
};
template <typename T>
using owned = std::unique_ptr<T, deleter>;

[[noreturn]] void fail(const std::string& what) {
    std::string detail;
    if (const auto code = ERR_get_error()) {
        char text[256];
        ERR_error_string_n(code, text, sizeof text);
        detail = std::string(": ") + text;
    }
    ERR_clear_error();
    throw std::runtime_error("cannot make a self-signed certificate: " + what + detail);
}

void add_extension(X509* cert, int nid, const char* value) {
    X509V3_CTX ctx;
    X509V3_set_ctx_nodb(&ctx);
    X509V3_set_ctx(&ctx, cert, cert, nullptr, nullptr, 0);
    owned<X509_EXTENSION> ext(X509V3_EXT_conf_nid(nullptr, &ctx, nid, value));
    if (!ext || X509_add_ext(cert, ext.get(), -1) != 1) fail(std::string("extension ") + OBJ_nid2sn(nid));
}

owned<X509> make_certificate(EVP_PKEY* key) {
    owned<X509> cert(X509_new());
    if (!cert) fail("X509_new");
    X509_set_version(cert.get(), X509_VERSION_3);
    // A random serial: a regenerated certificate must not look like the old
    // one to a client that cached it.
    owned<BIGNUM> serial(BN_new());
    if (!serial || BN_rand(serial.get(), 127, BN_RAND_TOP_ANY, BN_RAND_BOTTOM_ANY) != 1 ||
        !BN_to_ASN1_INTEGER(serial.get(), X509_get_serialNumber(cert.get())))
        fail("serial number");
    // An hour of slack for clocks a little behind ours.
    X509_gmtime_adj(X509_getm_notBefore(cert.get()), -3600);
    X509_time_adj_ex(X509_getm_notAfter(cert.get()), valid_days, 0, nullptr);
    auto* name = X509_get_subject_name(cert.get());
    X509_NAME_add_entry_by_txt(name, "O", MBSTRING_ASC, reinterpret_cast<const unsigned char*>("kinesd"), -1, -1, 0);
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, reinterpret_cast<const unsigned char*>("localhost"), -1, -1,
                               0);
    X509_set_issuer_name(cert.get(), name);
    if (X509_set_pubkey(cert.get(), key) != 1) fail("public key");
    // Strict verifiers (OpenSSL's X509_STRICT, as Python 3.13 uses) want a
    // CA to have critical basicConstraints, keyCertSign and key identifiers.
    add_extension(cert.get(), NID_basic_constraints, "critical,CA:TRUE");
    add_extension(cert.get(), NID_key_usage, "critical,digitalSignature,keyCertSign");
    add_extension(cert.get(), NID_ext_key_usage, "serverAuth");
    add_extension(cert.get(), NID_subject_alt_name, "DNS:localhost,IP:127.0.0.1,IP:::1");
    add_extension(cert.get(), NID_subject_key_identifier, "hash");
    add_extension(cert.get(), NID_authority_key_identifier, "keyid:always");
    if (X509_sign(cert.get(), key, EVP_sha256()) == 0) fail("signing");
    return cert;
}

// Written under a temporary name and renamed, so that a crash never leaves
// half a file for the next start to trip on.
void write_file(const std::string& path, mode_t mode, const std::function<int(std::FILE*)>& write) {
    const auto temp = path + ".tmp";
    ::unlink(temp.c_str());
    const int fd = ::open(temp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
    if (fd < 0) fail("cannot create " + temp);
    owned<std::FILE> file(::fdopen(fd, "w"));
    if (!file) {
        ::close(fd);
        fail("cannot open " + temp);
    }
    if (write(file.get()) != 1 || std::fflush(file.get()) != 0 || ::fsync(fd) != 0) fail("cannot write " + temp);
    file.reset();
    if (::rename(temp.c_str(), path.c_str()) != 0) fail("cannot rename " + temp + " to " + path);
}

}  // namespace

void write_self_signed_cert(const tls_files& files) {
    owned<EVP_PKEY> key(EVP_EC_gen("P-256"));
    if (!key) fail("key generation");
    auto cert = make_certificate(key.get());
    write_file(files.key, 0600, [&](std::FILE* f) {
        return PEM_write_PrivateKey(f, key.get(), nullptr, nullptr, 0, nullptr, nullptr);
    });
    write_file(files.cert, 0644, [&](std::FILE* f) { return PEM_write_X509(f, cert.get()); });
}

tls_files ensure_self_signed_cert(const std::string& dir, bool& created) {
    const tls_files files{(fs::path(dir) / "cert.pem").string(), (fs::path(dir) / "key.pem").string()};
    created = false;
    std::error_code ec;
    if (fs::exists(files.cert, ec) && fs::exists(files.key, ec)) return files;
    fs::create_directories(dir, ec);
    if (ec) throw std::runtime_error("cannot create " + dir + ": " + ec.message());
    ::chmod(dir.c_str(), 0700);
    write_self_signed_cert(files);
    created = true;
    return files;
}

}  // namespace kinesd::http
