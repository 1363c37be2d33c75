// The TLS settings: flag, environment and file, and the pairing rule.
#include <gtest/gtest.h>

#include <stdexcept>
#include <string>
#include <vector>

#include "config/config.h"

namespace kinesd::config {
namespace {

parse_result load_with(std::vector<std::string> args, const std::vector<std::string>& env = {}) {
    args.insert(args.begin(), "kinesd");
    std::vector<const char*> argv;
    for (auto& a : args) argv.push_back(a.c_str());
    return load(int(argv.size()), argv.data(), env);
}

TEST(TlsConfig, OffByDefaultWithNoCertificate) {
    const auto s = load_with({}).values;
    EXPECT_TRUE(s.tls_cert.empty());
    EXPECT_TRUE(s.tls_key.empty());
    EXPECT_FALSE(s.tls_only);
}

TEST(TlsConfig, FlagsAndEnvironment) {
    auto s = load_with({"--tls-cert", "/c.pem", "--tls-key=/k.pem", "--tls-only", "true"}).values;
    EXPECT_EQ(s.tls_cert, "/c.pem");
    EXPECT_EQ(s.tls_key, "/k.pem");
    EXPECT_TRUE(s.tls_only);
    s = load_with({}, {"KINESD_TLS_CERT=/e.pem", "KINESD_TLS_KEY=/ek.pem", "KINESD_TLS_ONLY=1"}).values;
    EXPECT_EQ(s.tls_cert, "/e.pem");
    EXPECT_EQ(s.tls_key, "/ek.pem");
    EXPECT_TRUE(s.tls_only);
    // A switch alone means true.
    EXPECT_TRUE(load_with({"--tls-only"}).values.tls_only);
    s = load_with({"--tls-only", "--port", "1234"}).values;
    EXPECT_TRUE(s.tls_only);
    EXPECT_EQ(s.port, 1234);
    // The flag wins over the environment.
    EXPECT_FALSE(load_with({"--tls-only", "false"}, {"KINESD_TLS_ONLY=true"}).values.tls_only);
}

TEST(TlsConfig, CertificateAndKeyGoTogether) {
    EXPECT_THROW(load_with({"--tls-cert", "/c.pem"}), std::invalid_argument);
    EXPECT_THROW(load_with({"--tls-key", "/k.pem"}), std::invalid_argument);
    EXPECT_THROW(load_with({"--tls-only", "maybe"}), std::invalid_argument);
}

TEST(TlsConfig, HelpNamesTheSettings) {
    const auto help = help_text();
    EXPECT_NE(help.find("--tls-cert"), std::string::npos);
    EXPECT_NE(help.find("KINESD_TLS_KEY"), std::string::npos);
    EXPECT_NE(help.find("--tls-only"), std::string::npos);
}

}  // namespace
}  // namespace kinesd::config
