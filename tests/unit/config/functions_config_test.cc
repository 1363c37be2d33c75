#include <filesystem>
#include <fstream>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "config/config.h"

namespace kinesd::config {
namespace {

namespace fs = std::filesystem;

parse_result load_with(std::vector<std::string> args, const std::vector<std::string>& env = {}) {
    args.insert(args.begin(), "kinesd");
    std::vector<const char*> argv;
    for (auto& a : args) argv.push_back(a.c_str());
    return load(int(argv.size()), argv.data(), env);
}

TEST(FunctionsConfig, NoneByDefault) { EXPECT_TRUE(load_with({}).values.functions.empty()); }

TEST(FunctionsConfig, FlagRepeats) {
    auto s = load_with({"--function", "a=http://h:1/x", "--function=b=http://h:2/y"}).values;
    ASSERT_EQ(s.functions.size(), 2u);
    EXPECT_EQ(s.functions.at("a"), "http://h:1/x");
    EXPECT_EQ(s.functions.at("b"), "http://h:2/y");
}

TEST(FunctionsConfig, EnvironmentListAndFlagOverride) {
    auto s = load_with({"--function", "b=http://flag/b"}, {"KINESD_FUNCTIONS=a=http://env/a,b=http://env/b"}).values;
    ASSERT_EQ(s.functions.size(), 2u);
    EXPECT_EQ(s.functions.at("a"), "http://env/a");
    EXPECT_EQ(s.functions.at("b"), "http://flag/b");
}

TEST(FunctionsConfig, FileObject) {
    auto path = fs::temp_directory_path() / ("kinesd-functions-" + std::to_string(std::random_device{}()) + ".json");
    {
        std::ofstream out(path);
        out << R"({"functions": {"a": "http://file/a", "c": "http://file/c"}})";
    }
    auto s = load_with({"--config", path.string(), "--function", "c=http://flag/c"},
                       {"KINESD_FUNCTIONS=a=http://env/a"})
                 .values;
    fs::remove(path);
    EXPECT_EQ(s.functions.at("a"), "http://env/a");
    EXPECT_EQ(s.functions.at("c"), "http://flag/c");
}

TEST(FunctionsConfig, RefusesMalformed) {
    EXPECT_THROW(load_with({"--function", "no-url"}), std::invalid_argument);
    EXPECT_THROW(load_with({}, {"KINESD_FUNCTIONS=a=http://h,=x"}), std::invalid_argument);
    auto path = fs::temp_directory_path() / ("kinesd-functions-" + std::to_string(std::random_device{}()) + ".json");
    {
        std::ofstream out(path);
        out << R"({"functions": {"a": 5}})";
    }
    EXPECT_THROW(load_with({"--config", path.string()}), std::invalid_argument);
    fs::remove(path);
}

TEST(FunctionsConfig, HelpNamesTheVariable) {
    auto help = help_text();
    EXPECT_NE(help.find("--function"), std::string::npos);
    EXPECT_NE(help.find("KINESD_FUNCTIONS"), std::string::npos);
}

}  // namespace
}  // namespace kinesd::config
