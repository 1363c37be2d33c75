#include "auth/credentials_file.h"

#include <gtest/gtest.h>

#include <stdexcept>

namespace auth = kinesd::auth;

namespace {

std::string error_of(std::string_view text) {
    try {
        auth::parse_credentials(text, "creds", "000000000000");
    } catch (const std::invalid_argument& e) {
        return e.what();
    }
    return "";
}

}  // namespace

TEST(credentials_file, reads_profiles_in_the_shared_credentials_format) {
    auto keys = auth::parse_credentials(
        "# team keys\n"
        "[default]\n"
        "aws_access_key_id = AKIADEFAULT\n"
        "aws_secret_access_key=secret/with+chars\n"
        "region = us-east-1\n"
        "\n"
        "[ alice ]\r\n"
        "  aws_access_key_id = AKIAALICE  \r\n"
        "aws_secret_access_key = s2\n"
        "aws_account_id = 111111111111\n",
        "creds", "000000000000");
    ASSERT_EQ(keys.size(), 2u);
    EXPECT_EQ(keys[0].profile, "default");
    EXPECT_EQ(keys[0].access_key, "AKIADEFAULT");
    EXPECT_EQ(keys[0].secret_key, "secret/with+chars");
    EXPECT_EQ(keys[0].account_id, "000000000000");
    EXPECT_EQ(keys[1].profile, "alice");
    EXPECT_EQ(keys[1].access_key, "AKIAALICE");
    EXPECT_EQ(keys[1].account_id, "111111111111");
}

TEST(credentials_file, errors_name_the_file_and_line) {
    EXPECT_EQ(error_of("[a]\naws_access_key_id = K\naws_secret_access_key = S\naws_account_id = 12\n"),
              "creds:4: aws_account_id must be 12 digits");
    EXPECT_EQ(error_of("aws_access_key_id = K\n"), "creds:1: a setting before the first [profile]");
    EXPECT_EQ(error_of("[a\n"), "creds:1: a section header must end with ']'");
    EXPECT_EQ(error_of("[a]\njunk\n"), "creds:2: expected 'name = value' or '[profile]'");
    EXPECT_EQ(error_of("\n[a]\naws_access_key_id = K\n"), "creds:2: profile [a] has no aws_secret_access_key");
    EXPECT_EQ(error_of("[a]\naws_access_key_id = K\naws_secret_access_key = S\n"
                       "[b]\naws_access_key_id = K\naws_secret_access_key = T\n"),
              "creds:4: access key K is already in profile [a]");
    EXPECT_EQ(error_of("# nothing\n"), "creds:2: no [profile] with keys");
}

TEST(credentials_file, a_missing_file_is_an_error) {
    EXPECT_THROW(auth::load_credentials_file("/nonexistent/creds", "000000000000"), std::invalid_argument);
}
