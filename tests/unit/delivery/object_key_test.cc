#include "delivery/object_key.h"

#include <gtest/gtest.h>

#include <chrono>
#include <regex>
#include <set>
#include <stdexcept>
#include <string>

#include "kinesd/api_error.h"

namespace delivery = kinesd::delivery;
using namespace std::chrono;

namespace {

// 10:30:05.123 UTC on Monday, 27 August 2018: the instant of the AWS guide's
// examples.
const system_clock::time_point example_time =
    sys_days{year{2018} / 8 / 27} + hours{10} + minutes{30} + seconds{5} + milliseconds{123};

// A deterministic stand-in for a random generator.
delivery::random_source counter(std::uint64_t start) {
    return [n = start]() mutable { return n++ * 0x9e3779b97f4a7c15ULL; };
}

delivery::prefix_values values_at(system_clock::time_point when, const delivery::random_source* random = nullptr,
                                  std::string_view error_type = delivery::error_output_type::processing_failed) {
    delivery::prefix_values v;
    v.timestamp = when;
    v.random = random;
    v.error_output_type = error_type;
    return v;
}

// Returns the InvalidArgumentException message, or "" when the prefixes pass.
std::string rejection(std::string_view prefix, std::string_view error_prefix, bool dynamic = false) {
    try {
        delivery::validate_s3_prefixes(prefix, error_prefix, dynamic);
    } catch (const kinesd::api_error& e) {
        EXPECT_EQ(e.type(), "InvalidArgumentException");
        EXPECT_EQ(e.status(), 400);
        return e.message();
    }
    return "";
}

}  // namespace

TEST(object_key, timestamp_patterns) {
    EXPECT_EQ(delivery::format_timestamp("yyyy/MM/dd/HH/", example_time), "2018/08/27/10/");
    EXPECT_EQ(delivery::format_timestamp("yy-M-d H:m:s.SSS", example_time), "18-8-27 10:30:5.123");
    EXPECT_EQ(delivery::format_timestamp("'year='yyyy'/month='MM'/day='dd'/hour='HH", example_time),
              "year=2018/month=08/day=27/hour=10");
    EXPECT_EQ(delivery::format_timestamp("yyyy'-q'", example_time), "2018-q");
    EXPECT_EQ(delivery::format_timestamp("'it''s' ''", example_time), "it's '");
    EXPECT_EQ(delivery::format_timestamp("MMM MMMM MMMMM EEE EEEE", example_time), "Aug August A Mon Monday");
    EXPECT_EQ(delivery::format_timestamp("D DDD hh a", example_time), "239 239 10 AM");
    EXPECT_EQ(delivery::format_timestamp("SSSSSS S", example_time), "123000 1");
    EXPECT_EQ(delivery::format_timestamp("[yyyy]", example_time), "2018");
    EXPECT_EQ(delivery::format_timestamp("uuuu=HH_mm", example_time), "2018=10_30");
    auto evening = sys_days{year{2021} / 1 / 3} + hours{0} + minutes{7};
    EXPECT_EQ(delivery::format_timestamp("h a k K HH", evening), "12 AM 24 0 00");
    EXPECT_EQ(delivery::format_timestamp("D DD DDD", evening), "3 03 003");
}

TEST(object_key, timestamp_pattern_errors) {
    auto message = [](std::string_view pattern) -> std::string {
        try {
            delivery::format_timestamp(pattern, example_time);
        } catch (const std::invalid_argument& e) {
            return e.what();
        }
        return "";
    };
    EXPECT_EQ(message("yyyy-bb"), "Unsupported pattern letter: b");
    EXPECT_EQ(message("ddd"), "Too many pattern letters: d");
    EXPECT_EQ(message("HHH"), "Too many pattern letters: H");
    EXPECT_EQ(message("yyyy'open"), "Pattern ends with an incomplete string literal: yyyy'open");
    EXPECT_EQ(message("yyyy#"), "Pattern includes reserved character: '#'");
    EXPECT_EQ(message("'x'"), "");
}

TEST(object_key, default_prefix_is_appended_without_a_separator) {
    auto v = values_at(example_time);
    EXPECT_EQ(delivery::evaluate_prefix("", v), "2018/08/27/10/");
    EXPECT_EQ(delivery::evaluate_prefix("logs/", v), "logs/2018/08/27/10/");
    EXPECT_EQ(delivery::evaluate_prefix("logs", v), "logs2018/08/27/10/");
    // A timestamp expression anywhere turns the default off.
    EXPECT_EQ(delivery::evaluate_prefix("a/!{timestamp:yyyy}/", v), "a/2018/");
}

TEST(object_key, guide_examples) {
    delivery::random_source random = counter(1);
    auto v = values_at(example_time, &random);
    EXPECT_EQ(delivery::evaluate_prefix(
                  "myPrefix/year=!{timestamp:yyyy}/month=!{timestamp:MM}/day=!{timestamp:dd}/hour=!{timestamp:HH}/", v),
              "myPrefix/year=2018/month=08/day=27/hour=10/");
    EXPECT_EQ(delivery::evaluate_error_output_prefix(
                  "myErrorPrefix/year=!{timestamp:yyyy}/month=!{timestamp:MM}/day=!{timestamp:dd}/hour=!{timestamp:HH}/"
                  "!{firehose:error-output-type}",
                  "ignored", v),
              "myErrorPrefix/year=2018/month=08/day=27/hour=10/processing-failed");
    EXPECT_EQ(delivery::evaluate_error_output_prefix("myFirehoseFailures/!{firehose:error-output-type}/", "", v),
              "myFirehoseFailures/processing-failed/");
    EXPECT_EQ(delivery::evaluate_error_output_prefix("", "myFirehosePrefix/", v),
              "myFirehosePrefix/processing-failed/2018/08/27/10/");

    std::string with_random = delivery::evaluate_prefix(
        "myFirehose/DeliveredYear=!{timestamp:yyyy}/anyMonth/rand=!{firehose:random-string}", v);
    EXPECT_TRUE(std::regex_match(with_random, std::regex("myFirehose/DeliveredYear=2018/anyMonth/rand=[0-9a-f]{11}")))
        << with_random;
}

TEST(object_key, random_strings_are_fresh_per_occurrence) {
    delivery::random_source random = counter(7);
    auto v = values_at(example_time, &random);
    std::string key = delivery::evaluate_prefix("!{firehose:random-string}/!{firehose:random-string}/", v);
    ASSERT_EQ(key.size(), 11u + 1 + 11 + 1 + 14);
    EXPECT_NE(key.substr(0, 11), key.substr(12, 11));
    // No random source is a programming error, not a silent empty string.
    auto no_random = values_at(example_time);
    EXPECT_THROW(delivery::evaluate_prefix("!{firehose:random-string}", no_random), std::invalid_argument);
}

TEST(object_key, partition_keys) {
    std::map<std::string, std::string> keys{{"customer", "c-42"}};
    auto v = values_at(example_time);
    v.partition_keys = &keys;
    EXPECT_EQ(delivery::evaluate_prefix("c=!{partitionKeyFromQuery:customer}/!{timestamp:yyyy}/", v), "c=c-42/2018/");
    EXPECT_THROW(delivery::evaluate_prefix("!{partitionKeyFromLambda:missing}/", v), std::invalid_argument);
}

TEST(object_key, object_name_and_uuid) {
    delivery::random_source random = counter(3);
    std::string uuid = delivery::random_uuid(random);
    EXPECT_TRUE(std::regex_match(uuid, std::regex("[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}")))
        << uuid;
    EXPECT_NE(delivery::random_uuid(random), uuid);
    EXPECT_EQ(delivery::object_name("my-stream", "1", example_time, "0f8fad5b-d9cb-469f-a165-70867728950e", ".gz"),
              "my-stream-1-2018-08-27-10-30-05-0f8fad5b-d9cb-469f-a165-70867728950e.gz");
    EXPECT_EQ(delivery::object_name("s", "12", example_time, "u", ""), "s-12-2018-08-27-10-30-05-u");
}

TEST(object_key, validation_accepts_valid_prefixes) {
    EXPECT_EQ(rejection("", ""), "");
    EXPECT_EQ(rejection("logs/", ""), "");
    EXPECT_EQ(rejection("logs/", "errors/"), "");
    EXPECT_EQ(rejection("", "myFirehoseFailures/!{firehose:error-output-type}/"), "");
    EXPECT_EQ(rejection("data/!{timestamp:yyyy/MM/dd}/!{firehose:random-string}/",
                        "err/!{firehose:error-output-type}/!{timestamp:yyyy}/"),
              "");
    EXPECT_EQ(rejection("k=!{partitionKeyFromQuery:k}/", "e/!{firehose:error-output-type}/", true), "");
    // '!' and '}' on their own are ordinary characters.
    EXPECT_EQ(rejection("wow!/a}b/", ""), "");
}

TEST(object_key, validation_rejects_with_aws_texts) {
    const std::string lead = "Ths supplied prefix(es) do not satisfy the following constraint: ";
    EXPECT_EQ(rejection("!{timestamp:yyyy/MM/dd}", ""),
              lead + "ErrorOutputPrefix cannot be null or empty when Prefix contains expressions");
    EXPECT_EQ(rejection("!{timestamp:yyyy}/", "errors/"),
              lead + "ErrorOutputPrefix must contain !{firehose:error-output-type} when Prefix or "
                     "ErrorOutputPrefix contains expressions");
    EXPECT_EQ(rejection("", "errors/!{timestamp:yyyy}/"),
              lead + "ErrorOutputPrefix must contain !{firehose:error-output-type} when Prefix or "
                     "ErrorOutputPrefix contains expressions");
    EXPECT_EQ(rejection("a/!{firehose:error-output-type}/", "e/!{firehose:error-output-type}"),
              lead + "Prefix cannot contain !{firehose:error-output-type}");
    EXPECT_EQ(rejection("a/!{timestamp:yyyy", "e/!{firehose:error-output-type}"),
              lead + "Prefix contains '!{' outside a !{namespace:value} expression");
    EXPECT_EQ(rejection("a/!{}/", ""), lead + "Prefix contains '!{' outside a !{namespace:value} expression");
    EXPECT_EQ(rejection("a/", "e/!{nope}"),
              lead + "ErrorOutputPrefix contains '!{' outside a !{namespace:value} expression");
    EXPECT_EQ(rejection("a/!{other:x}/", "e/!{firehose:error-output-type}"),
              lead + "Prefix contains an unsupported expression namespace in !{other:x}");
    EXPECT_EQ(rejection("a/!{firehose:nope}/", "e/!{firehose:error-output-type}"),
              lead + "Prefix contains an unsupported firehose expression !{firehose:nope}");
    EXPECT_EQ(rejection("a/!{timestamp:yyyy-QQ}/", "e/!{firehose:error-output-type}"),
              lead + "Prefix contains an invalid timestamp expression !{timestamp:yyyy-QQ}: "
                     "Unsupported pattern letter: Q");
    EXPECT_EQ(rejection("k=!{partitionKeyFromQuery:k}/", "e/!{firehose:error-output-type}"),
              lead + "Prefix can contain partitionKeyFromQuery expressions only when dynamic partitioning is enabled");
}

TEST(object_key, validation_measures_the_evaluated_length) {
    // 498 literal characters plus the 14-character default time prefix is
    // exactly 512.
    EXPECT_EQ(rejection(std::string(498, 'a'), ""), "");
    EXPECT_NE(rejection(std::string(499, 'a'), ""), "");
    // Expressions count at their evaluated length: "MMMM" can be "September".
    std::string base(505, 'b');
    EXPECT_EQ(rejection(base + "!{timestamp:yyyy}", "e/!{firehose:error-output-type}"), "");
    EXPECT_EQ(rejection(base + "!{timestamp:MMMM}", "e/!{firehose:error-output-type}"),
              "Ths supplied prefix(es) do not satisfy the following constraint: "
              "Prefix cannot be longer than 512 characters after evaluation");
    // An unset ErrorOutputPrefix is not measured: its default form is a
    // guess, and must not make a valid Prefix fail.
    EXPECT_EQ(rejection(std::string(498, 'c'), ""), "");
    EXPECT_EQ(rejection("p/", std::string(490, 'e') + "!{firehose:error-output-type}"),
              "Ths supplied prefix(es) do not satisfy the following constraint: "
              "ErrorOutputPrefix cannot be longer than 512 characters after evaluation");
    EXPECT_EQ(rejection("p/", std::string(488, 'e') + "!{firehose:error-output-type}"), "");
}
