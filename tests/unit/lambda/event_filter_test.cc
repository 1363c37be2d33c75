// Lambda event filtering rules, one operator at a time, and the patterns
// the API refuses.
#include <gtest/gtest.h>

#include "lambda/event_filter.h"

namespace kinesd::lambda {
namespace {

using json = nlohmann::json;

bool match(const std::string& pattern, const json& record) {
    return event_filter(json{{"Filters", json::array({{{"Pattern", pattern}}})}}).matches(record);
}

TEST(EventFilter, ExactValuesStringsNumbersNullAndBooleans) {
    const json r = {{"data", {{"s", "a"}, {"n", 5}, {"z", nullptr}, {"b", true}}}};
    EXPECT_TRUE(match(R"({"data": {"s": ["a", "b"]}})", r));
    EXPECT_FALSE(match(R"({"data": {"s": ["b"]}})", r));
    EXPECT_TRUE(match(R"({"data": {"n": [5]}})", r));
    EXPECT_TRUE(match(R"({"data": {"n": [5.0]}})", r));
    EXPECT_TRUE(match(R"({"data": {"z": [null]}})", r));
    EXPECT_TRUE(match(R"({"data": {"b": [true]}})", r));
    EXPECT_FALSE(match(R"({"data": {"b": [false]}})", r));
    // Every field of a pattern must match.
    EXPECT_FALSE(match(R"({"data": {"s": ["a"], "n": [6]}})", r));
}

TEST(EventFilter, PrefixSuffixIgnoreCaseAnythingBut) {
    const json r = {{"data", {{"s", "Order-42.json"}}}};
    EXPECT_TRUE(match(R"({"data": {"s": [{"prefix": "Order-"}]}})", r));
    EXPECT_FALSE(match(R"({"data": {"s": [{"prefix": "order-"}]}})", r));
    EXPECT_TRUE(match(R"({"data": {"s": [{"prefix": {"equals-ignore-case": "order-"}}]}})", r));
    EXPECT_TRUE(match(R"({"data": {"s": [{"suffix": ".json"}]}})", r));
    EXPECT_TRUE(match(R"({"data": {"s": [{"equals-ignore-case": "ORDER-42.JSON"}]}})", r));
    EXPECT_TRUE(match(R"({"data": {"s": [{"anything-but": ["x", "y"]}]}})", r));
    EXPECT_FALSE(match(R"({"data": {"s": [{"anything-but": "Order-42.json"}]}})", r));
    EXPECT_FALSE(match(R"({"data": {"s": [{"anything-but": {"prefix": "Order"}}]}})", r));
}

TEST(EventFilter, NumericRangesAndExists) {
    const json r = {{"data", {{"n", 10}, {"nested", {{"x", 1}}}}}};
    EXPECT_TRUE(match(R"({"data": {"n": [{"numeric": [">", 0, "<=", 10]}]}})", r));
    EXPECT_FALSE(match(R"({"data": {"n": [{"numeric": [">", 10]}]}})", r));
    EXPECT_TRUE(match(R"({"data": {"n": [{"numeric": ["=", 10]}]}})", r));
    EXPECT_TRUE(match(R"({"data": {"n": [{"exists": true}]}})", r));
    EXPECT_TRUE(match(R"({"data": {"missing": [{"exists": false}]}})", r));
    EXPECT_FALSE(match(R"({"data": {"n": [{"exists": false}]}})", r));
    EXPECT_TRUE(match(R"({"data": {"nested": {"x": [1]}}})", r));
}

TEST(EventFilter, OrAndArraysAndSeveralFilters) {
    const json r = {{"data", {{"a", 1}, {"tags", json::array({"x", "y"})}}}};
    EXPECT_TRUE(match(R"({"data": {"$or": [{"a": [2]}, {"tags": ["y"]}]}})", r));
    EXPECT_FALSE(match(R"({"data": {"$or": [{"a": [2]}, {"tags": ["z"]}]}})", r));
    event_filter two(json{{"Filters", json::array({{{"Pattern", R"({"data": {"a": [9]}})"}},
                                                   {{"Pattern", R"({"data": {"a": [1]}})"}}})}});
    EXPECT_TRUE(two.matches(r));
}

TEST(EventFilter, DataThatIsNotJsonNeverMatchesADataRule) {
    const json r = {{"partitionKey", "k"}};  // no "data": it did not parse
    EXPECT_FALSE(match(R"({"data": {"a": [{"exists": true}]}})", r));
    EXPECT_TRUE(match(R"({"partitionKey": ["k"]})", r));
}

TEST(EventFilter, ValidityOfPatterns) {
    std::string why;
    EXPECT_TRUE(event_filter::valid(R"({"data": {"a": [1, {"prefix": "x"}]}})", &why));
    EXPECT_FALSE(event_filter::valid("not json", &why));
    EXPECT_FALSE(event_filter::valid("[]", &why));
    EXPECT_FALSE(event_filter::valid(R"({"data": {"a": 1}})", &why));
    EXPECT_FALSE(event_filter::valid(R"({"data": {"a": [{"numeric": [">"]}]}})", &why));
    EXPECT_FALSE(event_filter::valid(R"({"data": {"a": [{"bogus": 1}]}})", &why));
    EXPECT_FALSE(event_filter::valid(R"({"$or": [{"a": [1]}]})", &why));
    EXPECT_TRUE(event_filter(nullptr).matches(json::object()));
}

}  // namespace
}  // namespace kinesd::lambda
