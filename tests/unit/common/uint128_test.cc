#include "common/uint128.h"

#include <cstdint>
#include <random>
#include <string>

#include <gtest/gtest.h>

namespace kinesd {
namespace {

constexpr const char* two_pow_128_minus_1 = "340282366920938463463374607431768211455";
constexpr const char* two_pow_128 = "340282366920938463463374607431768211456";

uint128 from_words(std::uint64_t hi, std::uint64_t lo) { return (uint128(hi) << 64) | lo; }

// Schoolbook decimal of hi * 2^64 + lo, digit string arithmetic only, so the
// expectation shares no code with to_decimal.
std::string reference_decimal(std::uint64_t hi, std::uint64_t lo) {
    std::string digits = "0";
    auto times_two_plus = [&](int bit) {
        int carry = bit;
        for (auto it = digits.rbegin(); it != digits.rend(); ++it) {
            int d = (*it - '0') * 2 + carry;
            *it = char('0' + d % 10);
            carry = d / 10;
        }
        if (carry) digits.insert(digits.begin(), char('0' + carry));
    };
    for (int i = 63; i >= 0; --i) times_two_plus(int((hi >> i) & 1));
    for (int i = 63; i >= 0; --i) times_two_plus(int((lo >> i) & 1));
    auto first = digits.find_first_not_of('0');
    return first == std::string::npos ? "0" : digits.substr(first);
}

TEST(Uint128, PrintsBoundaries) {
    EXPECT_EQ(to_decimal(0), "0");
    EXPECT_EQ(to_decimal(7), "7");
    EXPECT_EQ(to_decimal(uint128(1) << 64), "18446744073709551616");
    EXPECT_EQ(to_decimal(uint128_max), two_pow_128_minus_1);
}

TEST(Uint128, PrintsLikeReferenceForRandomValues) {
    std::mt19937_64 rng(2024);
    for (int i = 0; i < 500; ++i) {
        std::uint64_t hi = rng() >> (rng() % 64), lo = rng();
        EXPECT_EQ(to_decimal(from_words(hi, lo)), reference_decimal(hi, lo)) << hi << ":" << lo;
    }
}

TEST(Uint128, ParsesWhatItPrints) {
    std::mt19937_64 rng(77);
    for (int i = 0; i < 500; ++i) {
        uint128 v = from_words(rng(), rng());
        auto parsed = parse_uint128(to_decimal(v));
        ASSERT_TRUE(parsed.has_value());
        EXPECT_TRUE(*parsed == v);
    }
    auto max = parse_uint128(two_pow_128_minus_1);
    ASSERT_TRUE(max.has_value());
    EXPECT_TRUE(*max == uint128_max);
    auto zero = parse_uint128("0");
    ASSERT_TRUE(zero.has_value());
    EXPECT_TRUE(*zero == 0);
}

TEST(Uint128, ParsesPowersOfTen) {
    uint128 expected = 1;
    std::string text = "1";
    for (int exponent = 0; exponent <= 38; ++exponent) {
        auto parsed = parse_uint128(text);
        ASSERT_TRUE(parsed.has_value()) << text;
        EXPECT_TRUE(*parsed == expected) << text;
        expected *= 10;
        text += "0";
    }
    // 10^39 is above 2^128 - 1.
    EXPECT_FALSE(parse_uint128(text).has_value()) << text;
}

TEST(Uint128, RejectsOutOfRangeAndNonDigits) {
    EXPECT_FALSE(parse_uint128(two_pow_128).has_value());
    EXPECT_FALSE(parse_uint128("999999999999999999999999999999999999999").has_value());
    EXPECT_FALSE(parse_uint128("").has_value());
    EXPECT_FALSE(parse_uint128("-1").has_value());
    EXPECT_FALSE(parse_uint128("+1").has_value());
    EXPECT_FALSE(parse_uint128("12a").has_value());
    EXPECT_FALSE(parse_uint128(" 1").has_value());
    EXPECT_FALSE(parse_uint128("1.0").has_value());
}

}  // namespace
}  // namespace kinesd
