#include "delivery/http_post.h"

#include <openssl/ssl.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>

namespace kinesd::delivery {

namespace beast = boost::beast;
namespace http = beast::http;
namespace net = boost::asio;
using tcp = net::ip::tcp;

namespace {

using request_type = http::request<http::span_body<const char>>;
using parser_type = http::response_parser<http::string_body>;

void wait(net::io_context& ioc) {
    ioc.run();
    ioc.restart();
}

template <class Stream>
beast::error_code exchange(net::io_context& ioc, Stream& stream, beast::tcp_stream& lowest, request_type& req,
                           parser_type& parser, std::chrono::steady_clock::time_point deadline) {
    beast::error_code ec;
    lowest.expires_at(deadline);
    http::async_write(stream, req, [&](beast::error_code e, std::size_t) { ec = e; });
    wait(ioc);
    if (ec) return ec;
    beast::flat_buffer buffer;
    lowest.expires_at(deadline);
    http::async_read(stream, buffer, parser, [&](beast::error_code e, std::size_t) { ec = e; });
    wait(ioc);
    return ec;
}

http_post_result failure(const beast::error_code& ec, const std::string& step) {
    http_post_result r;
    r.timed_out = ec == beast::error::timeout || ec == net::error::timed_out;
    r.error = step + ": " + (r.timed_out ? std::string("timed out") : ec.message());
    return r;
}

}  // namespace

bool parse_http_url(std::string_view url, http_url& out) {
    out = {};
    if (url.starts_with("https://")) {
        out.tls = true;
        url.remove_prefix(8);
    } else if (url.starts_with("http://")) {
        url.remove_prefix(7);
    } else {
        return false;
    }
    auto end = url.find_first_of("/?#");
    auto authority = url.substr(0, end);
    std::string_view rest = end == std::string_view::npos ? std::string_view() : url.substr(end);
    if (auto hash = rest.find('#'); hash != std::string_view::npos) rest = rest.substr(0, hash);
    if (authority.find('@') != std::string_view::npos) return false;
    std::string_view host = authority, port;
    if (authority.starts_with("[")) {
        auto close = authority.find(']');
        if (close == std::string_view::npos) return false;
        host = authority.substr(1, close - 1);
        auto after = authority.substr(close + 1);
        if (!after.empty()) {
            if (after[0] != ':') return false;
            port = after.substr(1);
        }
    } else if (auto colon = authority.rfind(':'); colon != std::string_view::npos) {
        host = authority.substr(0, colon);
        port = authority.substr(colon + 1);
    }
    if (host.empty()) return false;
    for (char c : port)
        if (c < '0' || c > '9') return false;
    out.host = std::string(host);
    out.port = port.empty() ? (out.tls ? "443" : "80") : std::string(port);
    out.host_header = std::string(authority);
    out.target = rest.empty() ? "/" : (rest[0] == '?' ? "/" + std::string(rest) : std::string(rest));
    return true;
}

http_post_result http_post(const http_url& url, const std::vector<std::pair<std::string, std::string>>& headers,
                           std::string_view body, const http_post_options& options) {
    request_type req;
    req.method(http::verb::post);
    req.target(url.target);
    req.version(11);
    req.set(http::field::host, url.host_header);
    req.set(http::field::user_agent, "kinesd");
    for (const auto& [name, value] : headers) req.set(name, value);
    req.body() = beast::span<const char>(body.data(), body.size());
    req.keep_alive(false);
    req.prepare_payload();

    const auto deadline = std::chrono::steady_clock::now() + options.timeout;
    net::io_context ioc;
    beast::error_code ec;
    tcp::resolver resolver(ioc);
    tcp::resolver::results_type addresses;
    bool resolved = false;
    resolver.async_resolve(url.host, url.port, [&](beast::error_code e, tcp::resolver::results_type r) {
        ec = e;
        addresses = std::move(r);
        resolved = true;
    });
    ioc.run_until(deadline);
    if (!resolved) {
        resolver.cancel();
        ioc.run();
        ec = net::error::timed_out;
    }
    ioc.restart();
    if (ec) return failure(ec, "resolving " + url.host);

    beast::tcp_stream stream(ioc);
    stream.expires_at(deadline);
    stream.async_connect(addresses, [&](beast::error_code e, const tcp::endpoint&) { ec = e; });
    wait(ioc);
    if (ec) return failure(ec, "connecting to " + url.host_header);

    parser_type parser;
    parser.body_limit(options.max_response_body);
    if (!url.tls) {
        ec = exchange(ioc, stream, stream, req, parser, deadline);
        beast::error_code ignored;
        stream.socket().shutdown(tcp::socket::shutdown_both, ignored);
    } else {
        net::ssl::context tls(net::ssl::context::tls_client);
        tls.set_default_verify_paths(ec);
        if (!ec && !options.ca_file.empty()) tls.load_verify_file(options.ca_file, ec);
        if (ec) return failure(ec, "loading trusted certificates");
        tls.set_verify_mode(net::ssl::verify_peer);
        beast::ssl_stream<beast::tcp_stream> secure(std::move(stream), tls);
        secure.set_verify_callback(net::ssl::host_name_verification(url.host));
        if (!SSL_set_tlsext_host_name(secure.native_handle(), url.host.c_str())) {
            http_post_result r;
            r.error = "cannot set the TLS server name";
            return r;
        }
        beast::get_lowest_layer(secure).expires_at(deadline);
        secure.async_handshake(net::ssl::stream_base::client, [&](beast::error_code e) { ec = e; });
        wait(ioc);
        if (ec) return failure(ec, "TLS handshake with " + url.host_header);
        ec = exchange(ioc, secure, beast::get_lowest_layer(secure), req, parser, deadline);
        beast::error_code ignored;
        beast::get_lowest_layer(secure).socket().shutdown(tcp::socket::shutdown_both, ignored);
    }
    if (ec) return failure(ec, ec == http::error::body_limit ? "response body over 1 MiB" : "exchange");
    auto& res = parser.get();
    http_post_result r;
    r.status = static_cast<int>(res.result_int());
    r.content_type = std::string(res[http::field::content_type]);
    r.has_content_length = res.find(http::field::content_length) != res.end();
    r.body = std::move(res.body());
    return r;
}

}  // namespace kinesd::delivery
