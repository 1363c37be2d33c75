// The generated certificate: what clients check when they trust it.
#include "http/self_signed_cert.h"

#include <gtest/gtest.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>
#include <sys/stat.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>

#include "http/tls_context.h"

namespace kinesd::http {
namespace {

namespace fs = std::filesystem;

struct temp_dir {
    fs::path path;
    temp_dir() {
        char name[] = "/tmp/kinesd-cert-XXXXXX";
        path = ::mkdtemp(name);
    }
    ~temp_dir() {
        std::error_code ec;
        fs::remove_all(path, ec);
    }
};

std::string read_all(const std::string& path) {
    std::ifstream in(path);
    std::stringstream out;
    out << in.rdbuf();
    return out.str();
}

struct x509_free {
    void operator()(X509* x) const { X509_free(x); }
};
using x509_ptr = std::unique_ptr<X509, x509_free>;

x509_ptr load_cert(const std::string& path) {
    std::unique_ptr<std::FILE, int (*)(std::FILE*)> f(std::fopen(path.c_str(), "r"), &std::fclose);
    if (!f) return nullptr;
    return x509_ptr(PEM_read_X509(f.get(), nullptr, nullptr, nullptr));
}

TEST(SelfSignedCert, MadeOnceWithAPrivateKeyAndReused) {
    temp_dir dir;
    const auto tls_dir = (dir.path / "tls").string();
    bool created = false;
    const auto files = ensure_self_signed_cert(tls_dir, created);
    EXPECT_TRUE(created);
    struct stat st {};
    ASSERT_EQ(::stat(files.key.c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 0777, 0600u);
    const auto cert_text = read_all(files.cert);
    EXPECT_NE(cert_text.find("BEGIN CERTIFICATE"), std::string::npos);

    const auto again = ensure_self_signed_cert(tls_dir, created);
    EXPECT_FALSE(created);
    EXPECT_EQ(again.cert, files.cert);
    EXPECT_EQ(read_all(again.cert), cert_text);
}

TEST(SelfSignedCert, RemadeWhenTheKeyIsMissing) {
    temp_dir dir;
    bool created = false;
    const auto files = ensure_self_signed_cert(dir.path.string(), created);
    const auto first = read_all(files.cert);
    fs::remove(files.key);
    ensure_self_signed_cert(dir.path.string(), created);
    EXPECT_TRUE(created);
    EXPECT_NE(read_all(files.cert), first);
}

TEST(SelfSignedCert, NamesTheLoopbackAddressesAndIsItsOwnCa) {
    temp_dir dir;
    bool created = false;
    const auto files = ensure_self_signed_cert(dir.path.string(), created);
    auto cert = load_cert(files.cert);
    ASSERT_TRUE(cert);
    EXPECT_EQ(X509_check_host(cert.get(), "localhost", 0, 0, nullptr), 1);
    EXPECT_EQ(X509_check_ip_asc(cert.get(), "127.0.0.1", 0), 1);
    EXPECT_EQ(X509_check_ip_asc(cert.get(), "::1", 0), 1);
    EXPECT_NE(X509_check_host(cert.get(), "example.com", 0, 0, nullptr), 1);
    EXPECT_EQ(X509_check_ca(cert.get()), 1);
    // Valid now and for years to come.
    EXPECT_LT(X509_cmp_current_time(X509_get0_notBefore(cert.get())), 0);
    time_t in_nine_years = std::time(nullptr) + 9L * 365 * 24 * 3600;
    EXPECT_GT(X509_cmp_time(X509_get0_notAfter(cert.get()), &in_nine_years), 0);

    // Verifies against itself as the only trust anchor, under the strict
    // rules some clients apply, for the name a client connects to.
    std::unique_ptr<X509_STORE, void (*)(X509_STORE*)> store(X509_STORE_new(), &X509_STORE_free);
    X509_STORE_add_cert(store.get(), cert.get());
    std::unique_ptr<X509_STORE_CTX, void (*)(X509_STORE_CTX*)> ctx(X509_STORE_CTX_new(), &X509_STORE_CTX_free);
    ASSERT_EQ(X509_STORE_CTX_init(ctx.get(), store.get(), cert.get(), nullptr), 1);
    auto* param = X509_STORE_CTX_get0_param(ctx.get());
    X509_VERIFY_PARAM_set_flags(param, X509_V_FLAG_X509_STRICT);
    X509_VERIFY_PARAM_set_purpose(param, X509_PURPOSE_SSL_SERVER);
    X509_VERIFY_PARAM_set1_ip_asc(param, "127.0.0.1");
    EXPECT_EQ(X509_verify_cert(ctx.get()), 1) << X509_verify_cert_error_string(X509_STORE_CTX_get_error(ctx.get()));
}

TEST(SelfSignedCert, KeyMatchesAndLoadsIntoATlsContext) {
    temp_dir dir;
    bool created = false;
    const auto files = ensure_self_signed_cert(dir.path.string(), created);
    // make_tls_context checks that key and certificate belong together.
    EXPECT_NO_THROW(make_tls_context(files.cert, files.key));

    // Another pair's key does not fit this certificate.
    temp_dir other;
    const auto other_files = ensure_self_signed_cert(other.path.string(), created);
    EXPECT_THROW(make_tls_context(files.cert, other_files.key), std::runtime_error);
    EXPECT_THROW(make_tls_context((dir.path / "missing.pem").string(), files.key), std::runtime_error);
}

}  // namespace
}  // namespace kinesd::http
