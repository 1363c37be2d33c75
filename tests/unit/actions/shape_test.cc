#include "actions/shape.h"

#include <cstdint>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "kinesd/api_error.h"

// The tables below name only the constraints each field uses.
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"

namespace kinesd::actions {
namespace {

using nlohmann::json;
using codec::wire_format;

const shape stream_mode_details_shape = {
    {.name = "StreamMode", .required = true, .enum_values = {"PROVISIONED", "ON_DEMAND"}},
};

const shape create_stream_shape = {
    members::stream_name(true),
    {.name = "ShardCount", .type = field_type::integer, .min_value = 1, .max_value = 100000},
    {.name = "StreamModeDetails", .type = field_type::structure, .members = &stream_mode_details_shape},
};

const shape get_shard_iterator_shape = {
    members::stream_name(true),
    {.name = "ShardIteratorType",
     .required = true,
     .enum_values = {"AFTER_SEQUENCE_NUMBER", "LATEST", "AT_TIMESTAMP", "AT_SEQUENCE_NUMBER", "TRIM_HORIZON"}},
    {.name = "Timestamp", .type = field_type::timestamp},
};

const shape put_records_entry_shape = {
    {.name = "Data", .type = field_type::blob, .required = true, .min_length = 0, .max_length = 1048576},
    {.name = "ExplicitHashKey", .regex = &patterns::hash_key},
    {.name = "PartitionKey", .required = true, .min_length = 1, .max_length = 256},
};

const shape put_records_shape = {
    {.name = "Records",
     .type = field_type::list,
     .required = true,
     .min_length = 1,
     .max_length = 500,
     .members = &put_records_entry_shape,
     .java_class = "com.amazonaws.kinesis.v20131202.PutRecordsRequestEntry"},
    members::stream_name(true),
};

const field metric_field{.name = "member", .enum_values = {"IncomingBytes", "ALL"}};

// One member of every type, none of them constrained, to exercise type
// checks and normalisation on their own.
const shape all_types_shape = {
    {.name = "Text"},
    {.name = "Count", .type = field_type::integer},
    {.name = "Big", .type = field_type::long_integer},
    {.name = "Flag", .type = field_type::boolean},
    {.name = "Blob", .type = field_type::blob, .max_length = 3},
    {.name = "When", .type = field_type::timestamp},
    {.name = "Names", .type = field_type::list},
    {.name = "Metrics", .type = field_type::list, .element = &metric_field},
    {.name = "Tags", .type = field_type::map},
    {.name = "Inner", .type = field_type::structure, .members = &stream_mode_details_shape},
};

api_error validation_failure(const shape& s, json request, wire_format format = wire_format::json) {
    try {
        validate(s, request, format);
    } catch (const api_error& e) {
        return e;
    }
    ADD_FAILURE() << "validation passed: " << request.dump();
    return api_error(0, "none", "");
}

std::string validation_message(const shape& s, json request) {
    api_error e = validation_failure(s, std::move(request));
    EXPECT_EQ(e.type(), "ValidationException") << e.message();
    EXPECT_EQ(e.status(), 400);
    return e.message();
}

// Type mismatches are SerializationExceptions whose body key is "Message".
std::string serialization_message(const shape& s, json request, wire_format format = wire_format::json) {
    api_error e = validation_failure(s, std::move(request), format);
    EXPECT_EQ(e.type(), "SerializationException") << e.message();
    EXPECT_EQ(e.status(), 400);
    EXPECT_TRUE(e.capital_message_key());
    return e.message();
}

// The items of a ValidationException message, whose order AWS does not promise.
std::multiset<std::string> items_of(const std::string& message, std::size_t* declared = nullptr) {
    auto colon = message.find(" detected: ");
    EXPECT_NE(colon, std::string::npos) << message;
    if (declared) *declared = std::stoul(message.substr(0, message.find(' ')));
    std::multiset<std::string> items;
    std::string rest = message.substr(colon + 11);
    std::size_t start = 0;
    for (;;) {
        auto sep = rest.find("; Value ", start);
        items.insert(rest.substr(start, sep == std::string::npos ? std::string::npos : sep - start));
        if (sep == std::string::npos) break;
        start = sep + 2;
    }
    return items;
}

json validated(const shape& s, json request, wire_format format = wire_format::json) {
    validate(s, request, format);
    return request;
}

// ---- constraints

TEST(Shape, MissingRequiredMember) {
    EXPECT_EQ(validation_message(create_stream_shape, json::object()),
              "1 validation error detected: Value null at 'streamName' failed to satisfy constraint: "
              "Member must not be null");
    // A member sent as null is missing.
    EXPECT_EQ(validation_message(create_stream_shape, {{"StreamName", nullptr}}),
              "1 validation error detected: Value null at 'streamName' failed to satisfy constraint: "
              "Member must not be null");
}

TEST(Shape, EmptyStreamNameFailsPatternAndMinimumLength) {
    std::string message = validation_message(create_stream_shape, {{"StreamName", ""}});
    EXPECT_EQ(message.rfind("2 validation errors detected: ", 0), 0u) << message;
    EXPECT_EQ(items_of(message),
              (std::multiset<std::string>{
                  "Value '' at 'streamName' failed to satisfy constraint: Member must satisfy regular expression "
                  "pattern: [a-zA-Z0-9_.-]+",
                  "Value '' at 'streamName' failed to satisfy constraint: Member must have length greater than or "
                  "equal to 1"}));
}

TEST(Shape, LengthAndPatternOfAStreamName) {
    EXPECT_NO_THROW(validated(create_stream_shape, {{"StreamName", std::string(128, 'a')}}));
    std::string long_name(129, 'a');
    EXPECT_EQ(validation_message(create_stream_shape, {{"StreamName", long_name}}),
              "1 validation error detected: Value '" + long_name +
                  "' at 'streamName' failed to satisfy constraint: Member must have length less than or equal to 128");
    EXPECT_EQ(validation_message(create_stream_shape, {{"StreamName", "a b"}}),
              "1 validation error detected: Value 'a b' at 'streamName' failed to satisfy constraint: "
              "Member must satisfy regular expression pattern: [a-zA-Z0-9_.-]+");
}

TEST(Shape, ValueBelowMinimum) {
    EXPECT_EQ(validation_message(create_stream_shape, {{"StreamName", "s"}, {"ShardCount", 0}}),
              "1 validation error detected: Value '0' at 'shardCount' failed to satisfy constraint: "
              "Member must have value greater than or equal to 1");
    EXPECT_EQ(validation_message(create_stream_shape, {{"StreamName", "s"}, {"ShardCount", 100001}}),
              "1 validation error detected: Value '100001' at 'shardCount' failed to satisfy constraint: "
              "Member must have value less than or equal to 100000");
    EXPECT_NO_THROW(validated(create_stream_shape, {{"StreamName", "s"}, {"ShardCount", 1}}));
    EXPECT_NO_THROW(validated(create_stream_shape, {{"StreamName", "s"}, {"ShardCount", 100000}}));
}

TEST(Shape, FractionsAreFlooredBeforeRangeChecks) {
    EXPECT_EQ(validation_message(create_stream_shape, {{"StreamName", "s"}, {"ShardCount", 0.99}}),
              "1 validation error detected: Value '0' at 'shardCount' failed to satisfy constraint: "
              "Member must have value greater than or equal to 1");
}

TEST(Shape, EnumFailure) {
    EXPECT_EQ(validation_message(get_shard_iterator_shape, {{"StreamName", "s"}, {"ShardIteratorType", "FIRST"}}),
              "1 validation error detected: Value 'FIRST' at 'shardIteratorType' failed to satisfy constraint: "
              "Member must satisfy enum value set: [AFTER_SEQUENCE_NUMBER, LATEST, AT_TIMESTAMP, "
              "AT_SEQUENCE_NUMBER, TRIM_HORIZON]");
    EXPECT_NO_THROW(validated(get_shard_iterator_shape, {{"StreamName", "s"}, {"ShardIteratorType", "LATEST"}}));
}

TEST(Shape, ScalarListElementsAreCheckedWithTheirPaths) {
    EXPECT_EQ(validation_message(all_types_shape, {{"Metrics", {"ALL", "Nope"}}}),
              "1 validation error detected: Value 'Nope' at 'metrics.2.member' failed to satisfy constraint: "
              "Member must satisfy enum value set: [IncomingBytes, ALL]");
}

TEST(Shape, NestedStructurePaths) {
    EXPECT_EQ(validation_message(create_stream_shape, {{"StreamName", "s"}, {"StreamModeDetails", json::object()}}),
              "1 validation error detected: Value null at 'streamModeDetails.streamMode' failed to satisfy "
              "constraint: Member must not be null");
}

TEST(Shape, ListElementPaths) {
    json request = {{"StreamName", "s"},
                    {"Records", {{{"Data", "AAAA"}}, {{"Data", "AAAA"}, {"PartitionKey", ""}}}}};
    std::string message = validation_message(put_records_shape, request);
    EXPECT_EQ(message.rfind("2 validation errors detected: ", 0), 0u) << message;
    EXPECT_EQ(items_of(message),
              (std::multiset<std::string>{
                  "Value null at 'records.1.member.partitionKey' failed to satisfy constraint: Member must not be null",
                  "Value '' at 'records.2.member.partitionKey' failed to satisfy constraint: Member must have length "
                  "greater than or equal to 1"}));
}

TEST(Shape, ListLengthAndBlobRendering) {
    EXPECT_EQ(validation_message(put_records_shape, {{"StreamName", "s"}, {"Records", json::array()}}),
              "1 validation error detected: Value '[]' at 'records' failed to satisfy constraint: "
              "Member must have length greater than or equal to 1");
    EXPECT_EQ(validation_message(all_types_shape, {{"Blob", "AAAAAA=="}}),
              "1 validation error detected: Value 'java.nio.HeapByteBuffer[pos=0 lim=4 cap=4]' at 'blob' failed "
              "to satisfy constraint: Member must have length less than or equal to 3");
}

TEST(Shape, LengthCountsCharactersNotBytes) {
    std::string e_acute;
    for (int i = 0; i < 256; ++i) e_acute += "\xc3\xa9";  // 256 characters, 512 bytes
    json ok = {{"StreamName", "s"}, {"Records", {{{"Data", ""}, {"PartitionKey", e_acute}}}}};
    EXPECT_NO_THROW(validated(put_records_shape, ok));
    json too_long = {{"StreamName", "s"}, {"Records", {{{"Data", ""}, {"PartitionKey", e_acute + "x"}}}}};
    std::string message = validation_message(put_records_shape, too_long);
    EXPECT_NE(message.find("at 'records.1.member.partitionKey' failed to satisfy constraint: Member must have length "
                           "less than or equal to 256"),
              std::string::npos)
        << message;
}

TEST(Shape, AtMostTenItemsAreListed) {
    json records = json::array();
    for (int i = 0; i < 12; ++i) records.push_back({{"ExplicitHashKey", "x"}});  // 3 failures each
    std::string message = validation_message(put_records_shape, {{"Records", records}});
    EXPECT_EQ(message.rfind("10 validation errors detected: ", 0), 0u) << message;
    std::size_t declared = 0;
    auto items = items_of(message, &declared);
    EXPECT_EQ(declared, 10u);
    EXPECT_EQ(items.size(), 10u);
    for (const auto& item : items) EXPECT_EQ(item.rfind("Value ", 0), 0u) << item;
}

// ---- types

TEST(Shape, StringGivenOtherTypes) {
    EXPECT_EQ(serialization_message(create_stream_shape, {{"StreamName", 5}}),
              "class com.amazon.coral.value.json.numbers.TruncatingBigNumber can not be converted to an String");
    EXPECT_EQ(serialization_message(create_stream_shape, {{"StreamName", 1.5}}),
              "class com.amazon.coral.value.json.numbers.TruncatingBigNumber can not be converted to an String");
    EXPECT_EQ(serialization_message(create_stream_shape, {{"StreamName", true}}),
              "class java.lang.Boolean can not be converted to an String");
    EXPECT_EQ(serialization_message(create_stream_shape, {{"StreamName", json::array()}}),
              "Start of list found where not expected");
    EXPECT_EQ(serialization_message(create_stream_shape, {{"StreamName", json::object()}}),
              "Start of structure or map found where not expected.");
}

TEST(Shape, OtherScalarTypeErrors) {
    EXPECT_EQ(serialization_message(all_types_shape, {{"Count", "3"}}),
              "class java.lang.String can not be converted to an Integer");
    EXPECT_EQ(serialization_message(all_types_shape, {{"Count", false}}),
              "class java.lang.Boolean can not be converted to an Integer");
    EXPECT_EQ(serialization_message(all_types_shape, {{"Big", "3"}}),
              "class java.lang.String can not be converted to a Long");
    EXPECT_EQ(serialization_message(all_types_shape, {{"Flag", "yes"}}), "'YES' can not be converted to an Boolean");
    EXPECT_EQ(serialization_message(all_types_shape, {{"Flag", 1}}),
              "class com.amazon.coral.value.json.numbers.TruncatingBigNumber can not be converted to an Boolean");
    EXPECT_EQ(serialization_message(all_types_shape, {{"Blob", 1}}),
              "class com.amazon.coral.value.json.numbers.TruncatingBigNumber can not be converted to a Blob");
    EXPECT_EQ(serialization_message(all_types_shape, {{"Blob", true}}),
              "class java.lang.Boolean can not be converted to a Blob");
    EXPECT_EQ(serialization_message(all_types_shape, {{"When", "2020-01-01"}}),
              "class java.lang.String can not be converted to milliseconds since epoch");
    EXPECT_EQ(serialization_message(all_types_shape, {{"Names", "a"}}), "Expected list or null");
    EXPECT_EQ(serialization_message(all_types_shape, {{"Tags", "a"}}), "Expected map or null");
    EXPECT_EQ(serialization_message(all_types_shape, {{"Inner", "a"}}), "Expected null");
}

TEST(Shape, BadBase64Blob) {
    json bad_length = {{"StreamName", "s"}, {"Records", {{{"Data", "abc"}, {"PartitionKey", "p"}}}}};
    EXPECT_EQ(serialization_message(put_records_shape, bad_length),
              "'abc' can not be converted to a Blob: Base64 encoded length is expected a multiple of 4 bytes but "
              "found: 3");
    json bad_char = {{"StreamName", "s"}, {"Records", {{{"Data", "ab!d"}, {"PartitionKey", "p"}}}}};
    EXPECT_EQ(serialization_message(put_records_shape, bad_char),
              "'ab!d' can not be converted to a Blob: Invalid Base64 character: '!'");
}

TEST(Shape, TypeErrorsComeBeforeConstraints) {
    // StreamName is missing, but the type error in ShardCount wins.
    EXPECT_EQ(serialization_message(create_stream_shape, {{"ShardCount", "one"}}),
              "class java.lang.String can not be converted to an Integer");
    // Element type errors inside a list of structures too.
    json request = {{"Records", {{{"PartitionKey", 7}}}}};
    EXPECT_EQ(serialization_message(put_records_shape, request),
              "class com.amazon.coral.value.json.numbers.TruncatingBigNumber can not be converted to an String");
}

// ---- normalisation

TEST(Shape, NullMembersAreRemoved) {
    json out = validated(create_stream_shape, {{"StreamName", "s"}, {"ShardCount", nullptr}, {"Unknown", nullptr}});
    EXPECT_FALSE(out.contains("ShardCount"));
    EXPECT_FALSE(out.contains("Unknown"));
    EXPECT_EQ(out["StreamName"], "s");
    json nested = validated(put_records_shape,
                            {{"StreamName", "s"}, {"Records", {{{"Data", "AA=="}, {"PartitionKey", "p"},
                                                                {"ExplicitHashKey", nullptr}}}}});
    EXPECT_FALSE(nested["Records"][0].contains("ExplicitHashKey"));
}

TEST(Shape, Base64BlobsBecomeBinary) {
    json out = validated(put_records_shape,
                         {{"StreamName", "s"},
                          {"Records", {{{"Data", "aGVsbG8="}, {"PartitionKey", "p"}},
                                       {{"Data", ""}, {"PartitionKey", "q"}}}}});
    ASSERT_TRUE(out["Records"][0]["Data"].is_binary());
    const auto& bytes = out["Records"][0]["Data"].get_binary();
    EXPECT_EQ(std::string(bytes.begin(), bytes.end()), "hello");
    ASSERT_TRUE(out["Records"][1]["Data"].is_binary());
    EXPECT_TRUE(out["Records"][1]["Data"].get_binary().empty());
}

TEST(Shape, CborBlobsStayBinary) {
    json request = {{"Blob", json::binary({1, 2, 3})}};
    json out = validated(all_types_shape, request, wire_format::cbor);
    ASSERT_TRUE(out["Blob"].is_binary());
    const std::vector<std::uint8_t>& bytes = out["Blob"].get_binary();
    EXPECT_EQ(bytes, (std::vector<std::uint8_t>{1, 2, 3}));
}

TEST(Shape, TimestampsBecomeMilliseconds) {
    json from_json_seconds = validated(all_types_shape, {{"When", 1500000000.5}});
    EXPECT_EQ(from_json_seconds["When"].get<double>(), 1500000000500.0);
    json from_json_integer = validated(all_types_shape, {{"When", 1500000000}});
    EXPECT_EQ(from_json_integer["When"].get<double>(), 1500000000000.0);
    json from_cbor = validated(all_types_shape, {{"When", 1500000000123}}, wire_format::cbor);
    EXPECT_EQ(from_cbor["When"].get<double>(), 1500000000123.0);
}

TEST(Shape, IntegersAreFlooredAndClamped) {
    struct sample {
        json in;
        std::int64_t expected;
    };
    const sample ints[] = {
        {3, 3}, {3.7, 3}, {-1.5, -2}, {2147483647, 2147483647}, {2147483648LL, 2147483647},
        {5000000000LL, 2147483647}, {1e20, 2147483647}, {std::uint64_t(18446744073709551615ULL), 2147483647},
    };
    for (const auto& s : ints) {
        json out = validated(all_types_shape, {{"Count", s.in}});
        ASSERT_TRUE(out["Count"].is_number_integer()) << s.in.dump();
        EXPECT_EQ(out["Count"].get<std::int64_t>(), s.expected) << s.in.dump();
    }
    json big = validated(all_types_shape, {{"Big", 5000000000LL}});
    EXPECT_EQ(big["Big"].get<std::int64_t>(), 5000000000LL);
    json big_fraction = validated(all_types_shape, {{"Big", 5000000000.75}});
    EXPECT_EQ(big_fraction["Big"].get<std::int64_t>(), 5000000000LL);
}

TEST(Shape, ValidRequestPassesUnchanged) {
    json request = {{"StreamName", "orders"}, {"ShardCount", 4}, {"StreamModeDetails", {{"StreamMode", "ON_DEMAND"}}}};
    json out = validated(create_stream_shape, request);
    EXPECT_EQ(out, request);
}

TEST(Shape, PatternsMatchWholeStrings) {
    EXPECT_TRUE(patterns::hash_key.matches("0"));
    EXPECT_TRUE(patterns::hash_key.matches("340282366920938463463374607431768211455"));
    EXPECT_FALSE(patterns::hash_key.matches("01"));
    EXPECT_FALSE(patterns::hash_key.matches(std::string(40, '1')));
    EXPECT_FALSE(patterns::hash_key.matches(""));
    EXPECT_TRUE(patterns::stream_arn.matches("arn:aws:kinesis:us-east-1:123456789012:stream/orders"));
    EXPECT_FALSE(patterns::stream_arn.matches("arn:aws:kinesis:us-east-1:12345678901:stream/orders"));
    EXPECT_FALSE(patterns::stream_arn.matches("arn:aws:kinesis:us-east-1:123456789012:stream/"));
    EXPECT_FALSE(patterns::stream_arn.matches("arn:aws:kinesis:us-east-1:123456789012:stream/a b"));
    EXPECT_TRUE(patterns::stream_name.matches("a-b_c.D9"));
    EXPECT_FALSE(patterns::stream_name.matches("a/b"));
}

}  // namespace
}  // namespace kinesd::actions
