// --shutdown-timeout takes a duration with its unit, from any source.
#include <stdexcept>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "config/config.h"

namespace kinesd::config {
namespace {

settings load_args(std::vector<std::string> args, const std::vector<std::string>& env = {}) {
    args.insert(args.begin(), "kinesd");
    std::vector<const char*> argv;
    for (auto& a : args) argv.push_back(a.c_str());
    return load(int(argv.size()), argv.data(), env).values;
}

TEST(ShutdownTimeout, DefaultIsThirtySeconds) { EXPECT_EQ(load_args({}).shutdown_timeout_ms, 30000); }

TEST(ShutdownTimeout, SecondsOrMilliseconds) {
    EXPECT_EQ(load_args({"--shutdown-timeout", "5s"}).shutdown_timeout_ms, 5000);
    EXPECT_EQ(load_args({"--shutdown-timeout=2500ms"}).shutdown_timeout_ms, 2500);
    EXPECT_EQ(load_args({}, {"KINESD_SHUTDOWN_TIMEOUT=90s"}).shutdown_timeout_ms, 90000);
    EXPECT_EQ(load_args({"--shutdown-timeout=1s"}, {"KINESD_SHUTDOWN_TIMEOUT=90s"}).shutdown_timeout_ms, 1000);
}

TEST(ShutdownTimeout, RefusesABareNumberAndNonsense) {
    for (const char* bad : {"30", "", "s", "ms", "-5s", "1.5s", "5m", "10 s", "0s"}) {
        SCOPED_TRACE(bad);
        try {
            load_args({std::string("--shutdown-timeout=") + bad});
            ADD_FAILURE() << "accepted";
        } catch (const std::invalid_argument& e) {
            EXPECT_NE(std::string(e.what()).find("shutdown-timeout"), std::string::npos) << e.what();
        }
    }
}

TEST(ShutdownTimeout, HelpShowsIt) {
    auto help = help_text();
    EXPECT_NE(help.find("--shutdown-timeout"), std::string::npos);
    EXPECT_NE(help.find("KINESD_SHUTDOWN_TIMEOUT"), std::string::npos);
    EXPECT_NE(help.find("'30s'"), std::string::npos);
}

}  // namespace
}  // namespace kinesd::config
