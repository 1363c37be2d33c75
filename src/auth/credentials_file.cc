#include "auth/credentials_file.h"

#include <fstream>
#include <sstream>
#include <stdexcept>

namespace kinesd::auth {

namespace {

std::string_view trim(std::string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) s.remove_suffix(1);
    return s;
}

bool twelve_digits(std::string_view s) {
    return s.size() == 12 && s.find_first_not_of("0123456789") == std::string_view::npos;
}

}  // namespace

std::vector<account_key> parse_credentials(std::string_view text, std::string_view file_name,
                                           const std::string& default_account) {
    std::vector<account_key> keys;
    std::vector<std::size_t> key_lines;  // where each profile starts, for messages
    auto fail = [&](std::size_t line, const std::string& what) {
        throw std::invalid_argument(std::string(file_name) + ":" + std::to_string(line) + ": " + what);
    };
    std::size_t line_no = 0, start = 0;
    bool in_profile = false;
    while (start <= text.size()) {
        std::size_t end = text.find('\n', start);
        if (end == std::string_view::npos) end = text.size();
        std::string_view line = trim(text.substr(start, end - start));
        start = end + 1;
        ++line_no;
        if (line.empty() || line.front() == '#' || line.front() == ';') continue;
        if (line.front() == '[') {
            if (line.back() != ']') fail(line_no, "a section header must end with ']'");
            std::string_view name = trim(line.substr(1, line.size() - 2));
            if (name.empty()) fail(line_no, "empty profile name");
            keys.push_back({std::string(name), {}, {}, default_account});
            key_lines.push_back(line_no);
            in_profile = true;
            continue;
        }
        auto eq = line.find('=');
        if (eq == std::string_view::npos) fail(line_no, "expected 'name = value' or '[profile]'");
        if (!in_profile) fail(line_no, "a setting before the first [profile]");
        std::string_view name = trim(line.substr(0, eq)), value = trim(line.substr(eq + 1));
        auto& key = keys.back();
        if (name == "aws_access_key_id") {
            if (value.empty()) fail(line_no, "empty aws_access_key_id");
            key.access_key = value;
        } else if (name == "aws_secret_access_key") {
            if (value.empty()) fail(line_no, "empty aws_secret_access_key");
            key.secret_key = value;
        } else if (name == "aws_account_id") {
            if (!twelve_digits(value)) fail(line_no, "aws_account_id must be 12 digits");
            key.account_id = value;
        }
    }
    for (std::size_t i = 0; i < keys.size(); ++i) {
        const auto& k = keys[i];
        if (k.access_key.empty()) fail(key_lines[i], "profile [" + k.profile + "] has no aws_access_key_id");
        if (k.secret_key.empty()) fail(key_lines[i], "profile [" + k.profile + "] has no aws_secret_access_key");
        for (std::size_t j = 0; j < i; ++j)
            if (keys[j].access_key == k.access_key)
                fail(key_lines[i], "access key " + k.access_key + " is already in profile [" + keys[j].profile + "]");
    }
    if (keys.empty()) fail(line_no, "no [profile] with keys");
    return keys;
}

std::vector<account_key> load_credentials_file(const std::string& path, const std::string& default_account) {
    std::ifstream in(path, std::ios::binary);
    if (!in) throw std::invalid_argument("cannot read credentials file " + path);
    std::ostringstream text;
    text << in.rdbuf();
    return parse_credentials(text.str(), path, default_account);
}

}  // namespace kinesd::auth
