#include <string>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "codec/json_writer.h"

namespace kinesd::codec {
namespace {

// The writer skips eight plain bytes at a time; every special byte must
// still be found wherever it sits in such a block, and the output must read
// back as the input.
TEST(json_string, special_bytes_are_escaped_at_every_position) {
    const std::string specials[] = {"\"", "\\", std::string(1, '\0'), "\x01", "\x1f", "\n", "\xc3\xa9", "\xe2\x82\xac"};
    for (const auto& special : specials) {
        for (std::size_t length = 0; length < 26; ++length) {
            for (std::size_t at = 0; at <= length; ++at) {
                std::string s(length, 'a');
                for (std::size_t i = 0; i < length; ++i) s[i] = char(' ' + (i * 7) % 90);  // plain, incl. DEL-free ASCII
                for (auto& c : s)
                    if (c == '"' || c == '\\') c = 'x';
                s.insert(at, special);
                std::string out;
                write_json_string(s, out);
                auto back = nlohmann::json::parse(out);
                ASSERT_EQ(back.get<std::string>(), s) << out;
            }
        }
    }
}

TEST(json_string, plain_text_is_copied_as_is) {
    std::string s = "0123456789abcdefghijklmnopqrstuvwxyz ~!@#$%^&*()_+-={}[]|;:',./<>?\x7f";
    std::string out;
    write_json_string(s, out);
    EXPECT_EQ(out, "\"" + s + "\"");
}

TEST(json_string, ill_formed_utf8_after_a_plain_block_is_replaced) {
    std::string out;
    write_json_string("abcdefgh\xff", out);
    EXPECT_EQ(out, "\"abcdefgh\xef\xbf\xbd\"");
}

}  // namespace
}  // namespace kinesd::codec
