#include "delivery/channel_format.h"

#include <gtest/gtest.h>

#include <chrono>

using namespace kinesd::delivery;

namespace {

channel_settings sample() {
    channel_settings c;
    c.name = "orders";
    c.id = "0f1e";
    c.key_template = std::string(default_key_template);
    c.dlq_prefix = "errors/";
    return c;
}

// 2024-03-05 07:08:09 UTC
const auto when = std::chrono::system_clock::time_point(std::chrono::seconds(1709622489));

}  // namespace

TEST(channel_format, record_formats) {
    EXPECT_EQ(parse_record_format("JSON"), record_format::json);
    EXPECT_EQ(parse_record_format("STRING"), record_format::string);
    EXPECT_EQ(parse_record_format("BYTE_ARRAY"), record_format::byte_array);
    EXPECT_FALSE(parse_record_format("GSR_JSON"));
    EXPECT_TRUE(accepts(record_format::json, R"({"a":[1,2]})"));
    EXPECT_FALSE(accepts(record_format::json, "{not json"));
    EXPECT_FALSE(accepts(record_format::json, ""));
    EXPECT_TRUE(accepts(record_format::string, "caf\xc3\xa9"));
    EXPECT_FALSE(accepts(record_format::string, "\xff\xfe"));
    EXPECT_TRUE(accepts(record_format::byte_array, "\xff\xfe"));
    EXPECT_FALSE(newline_delimited(record_format::byte_array));
}

TEST(channel_format, default_key) {
    EXPECT_EQ(channel_object_key(sample(), when, "-u1", ".gz"),
              "kinesis-channel/orders/0f1e/2024/03/05/07/orders-0f1e-2024-03-05-07-08-u1.gz");
}

TEST(channel_format, custom_key_without_extension_gets_the_suffix_last) {
    auto c = sample();
    c.key_template = "x/!{YY}/!{channel-id}=!{mm}";
    EXPECT_EQ(channel_object_key(c, when, "-u2", ".zst"), "x/24/0f1e=08-u2");
}

TEST(channel_format, dead_letter_key) {
    EXPECT_EQ(channel_dead_letter_key(sample(), when, "-u3"),
              "errors/orders/0f1e/2024/03/05/07/orders-0f1e-2024-03-05-07-08-u3.json");
}

TEST(channel_format, key_template_rules) {
    EXPECT_FALSE(key_template_error(default_key_template));
    EXPECT_FALSE(key_template_error("a/!{yyyy}/b=c:d_e.f(1)*'"));
    for (const char* bad : {"", "/!{yyyy}", "!{yyyy}/", "a/../!{yyyy}", "!{yyyy", "!{nope}", "plain/text",
                            "a b/!{yyyy}", "a+b/!{yyyy}", "x}/!{yyyy}"})
        EXPECT_TRUE(key_template_error(bad)) << bad;
}
