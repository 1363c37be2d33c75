#include "functions/function_registry.h"

#include <stdexcept>
#include <vector>

#include "functions/http_url.h"

namespace kinesd::functions {

namespace {

std::vector<std::string_view> split(std::string_view text, char sep) {
    std::vector<std::string_view> parts;
    std::size_t start = 0;
    for (;;) {
        auto at = text.find(sep, start);
        parts.push_back(text.substr(start, at == std::string_view::npos ? std::string_view::npos : at - start));
        if (at == std::string_view::npos) return parts;
        start = at + 1;
    }
}

bool all_of(std::string_view s, bool (*pred)(char)) {
    for (char c : s)
        if (!pred(c)) return false;
    return true;
}

bool digit(char c) { return c >= '0' && c <= '9'; }
bool word(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || digit(c) || c == '-' || c == '_';
}
bool region_char(char c) { return (c >= 'a' && c <= 'z') || digit(c) || c == '-'; }

// Lambda's qualifier: $LATEST, a version number, or an alias (1-128 of
// [A-Za-z0-9_-], not all digits is not required: "1" is a version).
bool valid_qualifier(std::string_view q) {
    return q == "$LATEST" || (!q.empty() && q.size() <= 128 && all_of(q, word));
}

bool valid_account(std::string_view a) { return a.size() == 12 && all_of(a, digit); }

}  // namespace

bool valid_function_name(std::string_view name) {
    return !name.empty() && name.size() <= 64 && all_of(name, word);
}

std::optional<function_ref> parse_function_name(std::string_view text) {
    auto parts = split(text, ':');
    function_ref ref;
    std::size_t name_at = 0;
    if (parts.size() >= 7 && parts[0] == "arn") {
        // arn:<partition>:lambda:<region>:<account>:function:<name>[:<qualifier>]
        if (parts.size() > 8 || !parts[1].starts_with("aws") || parts[2] != "lambda" || parts[5] != "function")
            return std::nullopt;
        if (parts[3].empty() || !all_of(parts[3], region_char) || !valid_account(parts[4])) return std::nullopt;
        ref.region = parts[3];
        ref.account = parts[4];
        name_at = 6;
    } else if (parts.size() >= 3 && parts[1] == "function") {
        // <account>:function:<name>[:<qualifier>]
        if (parts.size() > 4 || !valid_account(parts[0])) return std::nullopt;
        ref.account = parts[0];
        name_at = 2;
    } else if (parts.size() > 2) {
        return std::nullopt;
    }
    ref.name = parts[name_at];
    if (!valid_function_name(ref.name)) return std::nullopt;
    if (parts.size() == name_at + 2) {
        if (!valid_qualifier(parts[name_at + 1])) return std::nullopt;
        ref.qualifier = parts[name_at + 1];
    }
    return ref;
}

function_registry::function_registry(std::string region, std::string account_id,
                                     const std::map<std::string, std::string>& urls)
    : region_(std::move(region)), account_id_(std::move(account_id)) {
    for (auto& [name, url] : urls) add(name, url);
}

void function_registry::add(const std::string& name, const std::string& url) {
    if (!valid_function_name(name))
        throw std::invalid_argument("function name '" + name + "' must be 1-64 of A-Z a-z 0-9 - _");
    if (!parse_http_url(url))
        throw std::invalid_argument("function " + name + ": URL '" + url + "' is not http://host:port/path");
    urls_[name] = url;
}

std::optional<resolved_function> function_registry::resolve(std::string_view name_or_arn) const {
    auto ref = parse_function_name(name_or_arn);
    if (!ref) return std::nullopt;
    if (!ref->region.empty() && ref->region != region_) return std::nullopt;
    if (!ref->account.empty() && ref->account != account_id_) return std::nullopt;
    auto it = urls_.find(ref->name);
    if (it == urls_.end()) return std::nullopt;
    return resolved_function{ref->name, ref->qualifier, function_arn(ref->name), it->second};
}

std::string function_registry::function_arn(const std::string& name) const {
    return "arn:aws:lambda:" + region_ + ":" + account_id_ + ":function:" + name;
}

std::map<std::string, std::string> parse_function_list(std::string_view text) {
    std::map<std::string, std::string> out;
    for (auto item : split(text, ',')) {
        while (!item.empty() && item.front() == ' ') item.remove_prefix(1);
        while (!item.empty() && item.back() == ' ') item.remove_suffix(1);
        if (item.empty()) continue;
        auto eq = item.find('=');
        if (eq == std::string_view::npos || eq == 0 || eq + 1 == item.size())
            throw std::invalid_argument("function '" + std::string(item) + "' is not NAME=URL");
        out[std::string(item.substr(0, eq))] = std::string(item.substr(eq + 1));
    }
    return out;
}

}  // namespace kinesd::functions
