#include "functions/invoker.h"

#include <optional>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include "functions/http_url.h"

namespace kinesd::functions {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = net::ip::tcp;
using steady = std::chrono::steady_clock;

const char* to_string(invoke_outcome outcome) {
    switch (outcome) {
        case invoke_outcome::ok: return "Ok";
        case invoke_outcome::function_error: return "FunctionError";
        case invoke_outcome::throttled: return "TooManyRequests";
        case invoke_outcome::service_error: return "ServiceError";
        case invoke_outcome::request_error: return "RequestError";
        case invoke_outcome::timeout: return "Timeout";
        case invoke_outcome::connection_error: return "ConnectionError";
        case invoke_outcome::not_found: return "ResourceNotFound";
    }
    return "Unknown";
}

// One keep-alive connection with the I/O context that drives it: each
// exchange runs the context on the calling thread until it completes.
struct invoker::connection {
    net::io_context ioc;
    beast::tcp_stream stream{ioc};
    bool open = false;
};

// The connections of one URL and the count of invocations in flight on it.
struct invoker::pool {
    std::mutex mutex;
    std::condition_variable freed;
    std::size_t busy = 0;
    std::vector<std::unique_ptr<connection>> idle;
};

namespace {

// The Runtime Interface Emulator's fixed invoke path. It answers a function
// error and a function timeout with HTTP 200 and no X-Amz-Function-Error
// header, so on this path the answer's shape tells them apart.
constexpr std::string_view emulator_path = "/2015-03-31/functions/function/invocations";

bool looks_like_emulator_error(const std::string& body) {
    if (body.starts_with("Task timed out after")) return true;
    // awslambdaric's error document: {"errorMessage": ..., "errorType": ..., ...}
    return body.starts_with("{\"errorMessage\": ") && body.find("\"errorType\": ") != std::string::npos &&
           body.find("\"requestId\": ") != std::string::npos;
}

invoke_result transport_failure(const beast::error_code& ec, std::string_view step) {
    invoke_result r;
    const bool timed_out = ec == beast::error::timeout || ec == net::error::timed_out;
    r.outcome = timed_out ? invoke_outcome::timeout : invoke_outcome::connection_error;
    r.message = std::string(step) + ": " + ec.message();
    return r;
}

template <typename Op>
beast::error_code run_op(net::io_context& ioc, Op&& start) {
    beast::error_code ec = net::error::would_block;
    start([&](beast::error_code e, auto&&...) { ec = e; });
    ioc.restart();
    ioc.run();
    return ec;
}

}  // namespace

invoker::invoker(function_registry registry, invoker_options options)
    : registry_(std::move(registry)), options_(options) {
    if (options_.connections_per_url == 0) options_.connections_per_url = 1;
}

invoker::~invoker() = default;

invoker::pool& invoker::pool_for(const std::string& key) {
    std::lock_guard lock(pools_mutex_);
    auto& slot = pools_[key];
    if (!slot) slot = std::make_unique<pool>();
    return *slot;
}

invoke_result invoker::invoke(std::string_view name_or_arn, const std::string& payload_json,
                              std::chrono::milliseconds timeout) {
    auto fn = registry_.resolve(name_or_arn);
    if (!fn) {
        invoke_result r;
        r.outcome = invoke_outcome::not_found;
        r.message = "Function not found: " + std::string(name_or_arn);
        return r;
    }
    return invoke_url(fn->url, payload_json, timeout);
}

invoke_result invoker::invoke_url(const std::string& url, const std::string& payload_json,
                                  std::chrono::milliseconds timeout) {
    auto parsed = parse_http_url(url);
    if (!parsed) {
        invoke_result r;
        r.outcome = invoke_outcome::request_error;
        r.message = "not an http:// URL: " + url;
        return r;
    }
    const auto deadline = steady::now() + timeout;
    pool& p = pool_for(parsed->host + ":" + parsed->port);

    std::unique_ptr<connection> conn;
    {
        std::unique_lock lock(p.mutex);
        if (!p.freed.wait_until(lock, deadline, [&] { return p.busy < options_.connections_per_url; })) {
            invoke_result r;
            r.outcome = invoke_outcome::timeout;
            r.message = "no free connection to " + url + " within the timeout";
            return r;
        }
        ++p.busy;
        if (!p.idle.empty()) {
            conn = std::move(p.idle.back());
            p.idle.pop_back();
        }
    }
    // Gives the connection back (kept only while it may carry another
    // request) and lets the next waiter in.
    auto release = [&](bool keep) {
        std::lock_guard lock(p.mutex);
        if (keep && conn && conn->open) p.idle.push_back(std::move(conn));
        --p.busy;
        p.freed.notify_one();
    };

    http::request<http::string_body> req{http::verb::post, parsed->target, 11};
    req.set(http::field::host, parsed->port == "80" ? parsed->host : parsed->host + ":" + parsed->port);
    req.set(http::field::content_type, "application/json");
    req.set(http::field::user_agent, "kinesd");
    req.set("X-Amz-Invocation-Type", "RequestResponse");
    req.keep_alive(true);
    req.body() = payload_json;
    req.prepare_payload();

    // A reused connection the server closed while idle fails on the first
    // write or before any answer byte; that one failure is retried on a new
    // connection.
    for (int attempt = 0;; ++attempt) {
        const bool reused = conn && conn->open;
        if (!conn) conn = std::make_unique<connection>();
        beast::error_code ec;
        if (!conn->open) {
            tcp::resolver resolver(conn->ioc);
            tcp::resolver::results_type addresses;
            ec = run_op(conn->ioc, [&](auto handler) {
                resolver.async_resolve(parsed->host, parsed->port,
                                       [&, handler](beast::error_code e, tcp::resolver::results_type r) mutable {
                                           addresses = std::move(r);
                                           handler(e);
                                       });
            });
            if (ec) {
                release(false);
                return transport_failure(ec, "resolve " + parsed->host);
            }
            conn->stream.expires_at(deadline);
            ec = run_op(conn->ioc, [&](auto handler) { conn->stream.async_connect(addresses, handler); });
            if (ec) {
                conn.reset();
                release(false);
                return transport_failure(ec, "connect to " + url);
            }
            conn->stream.socket().set_option(tcp::no_delay(true));
            conn->open = true;
        }
        conn->stream.expires_at(deadline);
        ec = run_op(conn->ioc, [&](auto handler) { http::async_write(conn->stream, req, handler); });
        beast::flat_buffer buffer;
        http::response_parser<http::string_body> parser;
        parser.body_limit(options_.max_response_bytes);
        if (!ec) ec = run_op(conn->ioc, [&](auto handler) { http::async_read(conn->stream, buffer, parser, handler); });
        if (ec) {
            const bool stale = reused && attempt == 0 && ec != beast::error::timeout && parser.got_some() == false;
            beast::error_code ignored;
            conn->stream.socket().close(ignored);
            conn.reset();
            if (stale && steady::now() < deadline) continue;
            release(false);
            return transport_failure(ec, "invoke " + url);
        }
        auto& res = parser.get();
        invoke_result r;
        r.http_status = res.result_int();
        r.body = std::move(res.body());
        if (auto it = res.find("X-Amz-Function-Error"); it != res.end()) r.function_error = std::string(it->value());
        if (r.http_status / 100 == 2) {
            if (r.function_error.empty() && parsed->target == emulator_path && looks_like_emulator_error(r.body))
                r.function_error = "Unhandled";
            r.outcome = r.function_error.empty() ? invoke_outcome::ok : invoke_outcome::function_error;
        } else if (r.http_status == 429) {
            r.outcome = invoke_outcome::throttled;
        } else if (r.http_status >= 500) {
            r.outcome = invoke_outcome::service_error;
        } else {
            r.outcome = invoke_outcome::request_error;
        }
        if (!r.ok()) r.message = "HTTP " + std::to_string(r.http_status) + (r.function_error.empty() ? "" : " " + r.function_error);
        release(res.keep_alive());
        return r;
    }
}

}  // namespace kinesd::functions
