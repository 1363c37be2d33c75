#include "common/base64.h"

#include <cstdint>
#include <random>
#include <string>

#include <gtest/gtest.h>

namespace kinesd::base64 {
namespace {

// A deliberately naive bit-at-a-time reference, independent of the table code.
std::string reference_encode(const std::string& bytes) {
    static const char* alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    std::string out;
    std::uint32_t acc = 0;
    int bits = 0;
    for (unsigned char c : bytes) {
        acc = (acc << 8) | c;
        bits += 8;
        while (bits >= 6) {
            out.push_back(alphabet[(acc >> (bits - 6)) & 63]);
            bits -= 6;
        }
    }
    if (bits > 0) out.push_back(alphabet[(acc << (6 - bits)) & 63]);
    while (out.size() % 4 != 0) out.push_back('=');
    return out;
}

std::string decode_error(std::string_view text) {
    std::string out = "stale";
    std::string error;
    EXPECT_FALSE(decode(text, out, &error)) << text;
    EXPECT_TRUE(out.empty()) << "output must be cleared on failure";
    return error;
}

TEST(Base64, Rfc4648Vectors) {
    const std::pair<std::string, std::string> vectors[] = {
        {"", ""},         {"f", "Zg=="},         {"fo", "Zm8="},          {"foo", "Zm9v"},
        {"foob", "Zm9vYg=="}, {"fooba", "Zm9vYmE="}, {"foobar", "Zm9vYmFy"},
    };
    for (const auto& [plain, encoded] : vectors) {
        EXPECT_EQ(encode(plain), encoded);
        std::string decoded;
        ASSERT_TRUE(decode(encoded, decoded)) << encoded;
        EXPECT_EQ(decoded, plain);
    }
}

TEST(Base64, RoundTripsEveryLengthAndByteValue) {
    std::mt19937 rng(12345);
    for (std::size_t len = 0; len <= 300; ++len) {
        std::string bytes(len, '\0');
        for (auto& b : bytes) b = static_cast<char>(rng() & 0xFF);
        const std::string encoded = encode(bytes);
        ASSERT_EQ(encoded, reference_encode(bytes)) << "length " << len;
        std::string decoded;
        ASSERT_TRUE(decode(encoded, decoded)) << "length " << len;
        ASSERT_EQ(decoded, bytes) << "length " << len;
    }
    std::string all;
    for (int c = 0; c < 256; ++c) all.push_back(static_cast<char>(c));
    std::string decoded;
    ASSERT_TRUE(decode(encode(all), decoded));
    EXPECT_EQ(decoded, all);
}

TEST(Base64, EncodeToAppends) {
    std::string out = "prefix:";
    encode_to(out, "foob", 4);
    EXPECT_EQ(out, "prefix:Zm9vYg==");
    encode_to(out, nullptr, 0);
    EXPECT_EQ(out, "prefix:Zm9vYg==");
}

TEST(Base64, EncodeRawWritesExactlyItsSizeAtAnyAlignment) {
    std::mt19937 rng(777);
    for (std::size_t len = 0; len <= 40; ++len) {
        std::string bytes(len + 3, '\0');
        for (auto& b : bytes) b = static_cast<char>(rng() & 0xFF);
        for (std::size_t offset = 0; offset < 3; ++offset) {
            const std::string input = bytes.substr(offset, len);
            std::string buffer(encoded_size(len) + 2 * 8, '#');
            char* start = buffer.data() + 8 + offset % 2;
            char* end = encode_raw(start, bytes.data() + offset, len);
            ASSERT_EQ(static_cast<std::size_t>(end - start), encoded_size(len)) << "length " << len;
            ASSERT_EQ(std::string(start, end), reference_encode(input)) << "length " << len;
            // Nothing written before or after the encoded text.
            if (len == 0) {
                ASSERT_EQ(buffer.find_first_not_of('#'), std::string::npos);
                continue;
            }
            ASSERT_EQ(buffer.find_first_not_of('#'), static_cast<std::size_t>(start - buffer.data()));
            ASSERT_EQ(buffer.find_last_not_of('#') + 1, static_cast<std::size_t>(end - buffer.data()))
                << "length " << len;
        }
    }
}

TEST(Base64, DecodeReplacesOutput) {
    std::string out = "old content";
    ASSERT_TRUE(decode("Zm9v", out));
    EXPECT_EQ(out, "foo");
    ASSERT_TRUE(decode("", out));
    EXPECT_EQ(out, "");
}

TEST(Base64, LengthNotMultipleOfFour) {
    // AWS's own example from its error responses.
    EXPECT_EQ(decode_error("23456"), "Base64 encoded length is expected a multiple of 4 bytes but found: 5");
    // Unpadded input is rejected, not completed.
    EXPECT_EQ(decode_error("Zg"), "Base64 encoded length is expected a multiple of 4 bytes but found: 2");
    EXPECT_EQ(decode_error("Zm8"), "Base64 encoded length is expected a multiple of 4 bytes but found: 3");
    // The length check comes before the character check.
    EXPECT_EQ(decode_error("!!!!!"), "Base64 encoded length is expected a multiple of 4 bytes but found: 5");
}

TEST(Base64, LengthCountsCharactersNotBytes) {
    // "é" is two UTF-8 bytes but one Java char: 3 characters in all.
    EXPECT_EQ(decode_error("\xC3\xA9" "ab"),
              "Base64 encoded length is expected a multiple of 4 bytes but found: 3");
    // Outside the BMP a character is a surrogate pair: two Java chars.
    EXPECT_EQ(decode_error("\xF0\x9F\x98\x80"),
              "Base64 encoded length is expected a multiple of 4 bytes but found: 2");
    // Four characters in five bytes: the length is fine, the character is not.
    EXPECT_EQ(decode_error("\xC3\xA9" "abc"), "Invalid Base64 character: '\xC3\xA9'");
}

TEST(Base64, InvalidCharacters) {
    EXPECT_EQ(decode_error("Zm9v!m9v"), "Invalid Base64 character: '!'");
    EXPECT_EQ(decode_error("Zm9vYmFyZm9vYmFy!m9v"), "Invalid Base64 character: '!'");
    // URL-safe alphabet is not accepted.
    EXPECT_EQ(decode_error("Zm9v-_=="), "Invalid Base64 character: '-'");
    EXPECT_EQ(decode_error("Zm9v_w=="), "Invalid Base64 character: '_'");
    // A '=' followed by anything but '=' is reported as the bad character.
    EXPECT_EQ(decode_error("=+/="), "Invalid Base64 character: '='");
    EXPECT_EQ(decode_error("Zg==Zg=="), "Invalid Base64 character: '='");
    EXPECT_EQ(decode_error("Zm=v"), "Invalid Base64 character: '='");
    // The first offender wins.
    EXPECT_EQ(decode_error("Z#9!"), "Invalid Base64 character: '#'");
}

TEST(Base64, WhitespaceIsRejected) {
    EXPECT_EQ(decode_error("Zm9 "), "Invalid Base64 character: ' '");
    EXPECT_EQ(decode_error("Zm9\nYmFy"), "Invalid Base64 character: '\n'");
    EXPECT_EQ(decode_error("Zm9v\r\n=="), "Invalid Base64 character: '\r'");
    // With whitespace making the length odd, the length complaint comes first.
    EXPECT_EQ(decode_error("Zm9v Zg=="), "Base64 encoded length is expected a multiple of 4 bytes but found: 9");
}

TEST(Base64, InvalidLastNonPadCharacter) {
    // AWS's own example: '+' leaves non-zero bits in the unused tail.
    EXPECT_EQ(decode_error("+/+="), "Invalid last non-pad Base64 character dectected");
    EXPECT_EQ(decode_error("Zh=="), "Invalid last non-pad Base64 character dectected");
    EXPECT_EQ(decode_error("Zm9="), "Invalid last non-pad Base64 character dectected");
    // Too much padding.
    EXPECT_EQ(decode_error("A==="), "Invalid last non-pad Base64 character dectected");
    EXPECT_EQ(decode_error("===="), "Invalid last non-pad Base64 character dectected");
    EXPECT_EQ(decode_error("Zm9vZ==="), "Invalid last non-pad Base64 character dectected");
}

TEST(Base64, FailureWithoutErrorPointer) {
    std::string out = "stale";
    EXPECT_FALSE(decode("Zm9v!", out));
    EXPECT_TRUE(out.empty());
}

}  // namespace
}  // namespace kinesd::base64
