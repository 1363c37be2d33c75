#include "functions/http_url.h"

namespace kinesd::functions {

std::optional<http_url> parse_http_url(std::string_view url) {
    constexpr std::string_view scheme = "http://";
    if (!url.starts_with(scheme)) return std::nullopt;
    url.remove_prefix(scheme.size());
    auto slash = url.find('/');
    std::string_view authority = url.substr(0, slash);
    http_url out;
    out.target = slash == std::string_view::npos ? "/" : std::string(url.substr(slash));
    if (authority.empty() || authority.find('@') != std::string_view::npos) return std::nullopt;
    if (authority.front() == '[') {
        auto close = authority.find(']');
        if (close == std::string_view::npos) return std::nullopt;
        out.host = authority.substr(1, close - 1);
        authority.remove_prefix(close + 1);
        if (!authority.empty() && authority.front() != ':') return std::nullopt;
        if (!authority.empty()) out.port = authority.substr(1);
    } else {
        auto colon = authority.rfind(':');
        out.host = authority.substr(0, colon);
        if (colon != std::string_view::npos) out.port = authority.substr(colon + 1);
    }
    if (out.host.empty()) return std::nullopt;
    if (out.port.empty()) out.port = "80";
    if (out.port.size() > 5 || out.port.find_first_not_of("0123456789") != std::string::npos) return std::nullopt;
    if (std::stoi(out.port) == 0 || std::stoi(out.port) > 65535) return std::nullopt;
    return out;
}

}  // namespace kinesd::functions
