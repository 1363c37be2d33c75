#pragma once
// The keys kinesd lets in, read from a file in the AWS shared-credentials
// format (what `aws configure` writes to ~/.aws/credentials), so that the same
// file can serve clients and server:
//
//   [alice]
//   aws_access_key_id = AKIA...
//   aws_secret_access_key = ...
//   aws_account_id = 111111111111      ; optional, 12 digits
//
// A profile without aws_account_id belongs to the server's default account.
// Other keys in a profile (region, aws_session_token, ...) are ignored.
#include <string>
#include <string_view>
#include <vector>

namespace kinesd::auth {

struct account_key {
    std::string profile;
    std::string access_key;
    std::string secret_key;
    std::string account_id;
};

// Throws std::invalid_argument naming the file and line of the first problem.
std::vector<account_key> parse_credentials(std::string_view text, std::string_view file_name,
                                           const std::string& default_account);
std::vector<account_key> load_credentials_file(const std::string& path, const std::string& default_account);

}  // namespace kinesd::auth
