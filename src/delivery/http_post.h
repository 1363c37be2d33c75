#pragma once
// One blocking HTTP/1.1 POST for HTTP endpoint delivery: resolve, connect,
// TLS (OpenSSL, server certificate and host name verified against the
// system's trusted CAs plus an optional extra CA file), send, read. Each call
// owns its connection and I/O context, so it runs on delivery pool threads
// and never on the threads that serve the API. Redirects are not followed:
// a 3xx is returned like any other status.
#include <chrono>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace kinesd::delivery {

struct http_url {
    bool tls = false;
    std::string host;  // without brackets for IPv6 literals
    std::string port;
    std::string host_header;
    std::string target;  // path and query, "/" when the URL has none
};

// http:// or https:// URLs with a host; false for anything else.
bool parse_http_url(std::string_view url, http_url& out);

struct http_post_options {
    std::chrono::milliseconds timeout{180'000};  // the whole exchange
    std::string ca_file;                         // trusted besides the system store
    std::size_t max_response_body = 1 << 20;
};

struct http_post_result {
    int status = 0;  // 0: no response (error says why)
    std::string body;
    std::string content_type;
    bool has_content_length = false;
    bool timed_out = false;
    std::string error;
};

http_post_result http_post(const http_url& url, const std::vector<std::pair<std::string, std::string>>& headers,
                           std::string_view body, const http_post_options& options);

}  // namespace kinesd::delivery
