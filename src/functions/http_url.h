#pragma once
// The parts of an http:// URL the invoker connects to.
#include <optional>
#include <string>
#include <string_view>

namespace kinesd::functions {

struct http_url {
    std::string host;
    std::string port;    // "80" when the URL names none
    std::string target;  // path and query, "/" at least
};

// nullopt for anything but http://host[:port][/path]: https is not spoken
// (a function URL is a local runtime on a trusted network).
std::optional<http_url> parse_http_url(std::string_view url);

}  // namespace kinesd::functions
