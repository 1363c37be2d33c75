#include "config/config.h"

#include <filesystem>
#include <fstream>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

#include <gtest/gtest.h>

namespace kinesd::config {
namespace {

namespace fs = std::filesystem;

parse_result load_args(std::vector<std::string> args, const std::vector<std::string>& env = {}) {
    args.insert(args.begin(), "kinesd");
    std::vector<const char*> argv;
    for (auto& a : args) argv.push_back(a.c_str());
    return load(int(argv.size()), argv.data(), env);
}

class ConfigFile : public ::testing::Test {
protected:
    void SetUp() override {
        path_ = fs::temp_directory_path() / ("kinesd-config-test-" + std::to_string(std::random_device{}()) + ".json");
    }
    void TearDown() override {
        std::error_code ec;
        fs::remove(path_, ec);
    }
    std::string write(const std::string& text) {
        std::ofstream(path_) << text;
        return path_.string();
    }
    fs::path path_;
};

TEST(Config, MetricsOnOrOff) {
    EXPECT_TRUE(load_args({}).values.metrics);
    EXPECT_FALSE(load_args({"--metrics", "off"}).values.metrics);
    EXPECT_FALSE(load_args({}, {"KINESD_METRICS=off"}).values.metrics);
    EXPECT_TRUE(load_args({"--metrics", "on"}, {"KINESD_METRICS=off"}).values.metrics);
    EXPECT_THROW(load_args({"--metrics", "maybe"}), std::invalid_argument);
}

TEST_F(ConfigFile, MetricsKey) {
    EXPECT_FALSE(load_args({"--config", write(R"({"metrics": "off"})")}).values.metrics);
    EXPECT_FALSE(load_args({"--config", write(R"({"metrics": false})")}).values.metrics);
}

TEST(Config, Defaults) {
    auto r = load_args({});
    EXPECT_EQ(r.values.port, 4567);
    EXPECT_EQ(r.values.data_dir, "./data");
    EXPECT_EQ(r.values.host, "0.0.0.0");
    EXPECT_EQ(r.values.durability, "sync");
    EXPECT_EQ(r.values.account_id, "000000000000");
    EXPECT_FALSE(r.show_help);
    EXPECT_FALSE(r.show_version);
}

TEST(Config, FlagsInBothForms) {
    EXPECT_EQ(load_args({"--port=123"}).values.port, 123);
    EXPECT_EQ(load_args({"--port", "123"}).values.port, 123);
    auto r = load_args({"--data-dir", "/var/lib/kinesd", "--host=127.0.0.1", "--durability=none",
                        "--shard-limit", "7", "--clock-offset-ms=86400000"});
    EXPECT_EQ(r.values.data_dir, "/var/lib/kinesd");
    EXPECT_EQ(r.values.host, "127.0.0.1");
    EXPECT_EQ(r.values.durability, "none");
    EXPECT_EQ(r.values.shard_limit, 7u);
    EXPECT_EQ(r.values.clock_offset_ms, 86400000);
    // A value may itself contain '='.
    EXPECT_EQ(load_args({"--s3-secret-key=a=b"}).values.s3_secret_key, "a=b");
}

TEST(Config, EnvironmentOverridesDefaultsAndFlagsOverrideEnvironment) {
    EXPECT_EQ(load_args({}, {"KINESD_PORT=2000"}).values.port, 2000);
    EXPECT_EQ(load_args({"--port=3000"}, {"KINESD_PORT=2000"}).values.port, 3000);
    EXPECT_EQ(load_args({}, {"KINESD_DATA_DIR=/srv/data"}).values.data_dir, "/srv/data");
    // Unrelated variables are ignored.
    EXPECT_EQ(load_args({}, {"PORT=1", "HOME=/root"}).values.port, 4567);
}

TEST(Config, HelpAndVersion) {
    EXPECT_TRUE(load_args({"--help"}).show_help);
    EXPECT_TRUE(load_args({"-h"}).show_help);
    EXPECT_TRUE(load_args({"--version"}).show_version);
    std::string help = help_text();
    EXPECT_NE(help.find("--port"), std::string::npos);
    EXPECT_NE(help.find("KINESD_PORT"), std::string::npos);
    EXPECT_NE(help.find("4567"), std::string::npos);
}

TEST(Config, RejectsUnknownOptionsAndBadValues) {
    EXPECT_THROW(load_args({"--no-such-option=1"}), std::invalid_argument);
    EXPECT_THROW(load_args({"--port=abc"}), std::invalid_argument);
    EXPECT_THROW(load_args({"--port=12x"}), std::invalid_argument);
    EXPECT_THROW(load_args({"--port="}), std::invalid_argument);
    EXPECT_THROW(load_args({"--port=-1"}), std::invalid_argument);
    EXPECT_THROW(load_args({"--port"}), std::invalid_argument);  // value missing
    EXPECT_THROW(load_args({"port=1"}), std::invalid_argument);
    EXPECT_THROW(load_args({}, {"KINESD_PORT=abc"}), std::invalid_argument);
    EXPECT_THROW(load_args({"--durability=always"}), std::invalid_argument);
    EXPECT_THROW(load_args({"--account-id=123"}), std::invalid_argument);
    EXPECT_THROW(load_args({"--account-id=12345678901x"}), std::invalid_argument);
}

TEST(Config, ErrorNamesTheSetting) {
    try {
        load_args({"--port=abc"});
        FAIL() << "no exception";
    } catch (const std::invalid_argument& e) {
        EXPECT_NE(std::string(e.what()).find("port"), std::string::npos) << e.what();
    }
    try {
        load_args({"--bogus=1"});
        FAIL() << "no exception";
    } catch (const std::invalid_argument& e) {
        EXPECT_NE(std::string(e.what()).find("bogus"), std::string::npos) << e.what();
    }
}

TEST(Config, RejectsAPortOutsideSixteenBits) {
    // A port that does not fit must be refused, not wrapped to another port.
    EXPECT_THROW(load_args({"--port=65536"}), std::invalid_argument);
    EXPECT_THROW(load_args({"--port=70000"}), std::invalid_argument);
    EXPECT_EQ(load_args({"--port=65535"}).values.port, 65535);
}

TEST_F(ConfigFile, FileKeysUseUnderscores) {
    std::string file = write(R"({
        "port": 1000,
        "data_dir": "/from/file",
        "log_level": "debug",
        "shard_limit": "12",
        "s3_endpoint": "http://127.0.0.1:9000"
    })");
    auto r = load_args({"--config", file});
    EXPECT_EQ(r.values.port, 1000);
    EXPECT_EQ(r.values.data_dir, "/from/file");
    EXPECT_EQ(r.values.log_level, "debug");
    EXPECT_EQ(r.values.shard_limit, 12u);
    EXPECT_EQ(r.values.s3_endpoint, "http://127.0.0.1:9000");
    EXPECT_EQ(r.values.config_file, file);
    EXPECT_EQ(r.values.host, "0.0.0.0") << "settings absent from the file keep their defaults";
}

TEST_F(ConfigFile, PrecedenceIsFileThenEnvironmentThenFlags) {
    std::string file = write(R"({"port": 1000, "host": "10.0.0.1", "region": "eu-west-1"})");
    auto from_file = load_args({"--config=" + file});
    EXPECT_EQ(from_file.values.port, 1000);

    auto env_over_file = load_args({"--config=" + file}, {"KINESD_PORT=2000"});
    EXPECT_EQ(env_over_file.values.port, 2000);
    EXPECT_EQ(env_over_file.values.host, "10.0.0.1");

    auto flag_over_env = load_args({"--config=" + file, "--port", "3000"}, {"KINESD_PORT=2000", "KINESD_HOST=::1"});
    EXPECT_EQ(flag_over_env.values.port, 3000);
    EXPECT_EQ(flag_over_env.values.host, "::1");
    EXPECT_EQ(flag_over_env.values.region, "eu-west-1");

    // Flags before --config still win over the file.
    EXPECT_EQ(load_args({"--port=3000", "--config", file}).values.port, 3000);
}

TEST_F(ConfigFile, FileNamedByEnvironment) {
    std::string file = write(R"({"data_dir": "/via/env"})");
    EXPECT_EQ(load_args({}, {"KINESD_CONFIG=" + file}).values.data_dir, "/via/env");
}

TEST_F(ConfigFile, RejectsUnknownKeysAndBadFiles) {
    EXPECT_THROW(load_args({"--config", write(R"({"no_such_setting": 1})")}), std::invalid_argument);
    // Keys are spelled with underscores, not dashes.
    EXPECT_THROW(load_args({"--config", write(R"({"data-dir": "/x"})")}), std::invalid_argument);
    EXPECT_THROW(load_args({"--config", write(R"({"port": "abc"})")}), std::invalid_argument);
    EXPECT_THROW(load_args({"--config", write("[1, 2]")}), std::invalid_argument);
    EXPECT_THROW(load_args({"--config", write("{ not json")}), std::invalid_argument);
    EXPECT_THROW(load_args({"--config", (path_.parent_path() / "kinesd-no-such-file.json").string()}),
                 std::invalid_argument);
}

}  // namespace
}  // namespace kinesd::config
