// HTTP/1.1 side of the front end and the server's life cycle: keep-alive,
// limits, 100-continue, timeouts, max_connections, drain() and stop().
#include "http/server.h"

#include <gtest/gtest.h>

#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>

#include <stdexcept>
#include <string>

#include "server_test_support.h"

namespace kinesd::http::testing {
namespace {

namespace bhttp = boost::beast::http;
using response_type = bhttp::response<bhttp::string_body>;

std::string header(const response_type& res, std::string_view name) {
    auto it = res.find(boost::beast::string_view(name.data(), name.size()));
    return it == res.end() ? std::string() : std::string(it->value());
}

int count_header(const response_type& res, std::string_view name) {
    auto range = res.equal_range(boost::beast::string_view(name.data(), name.size()));
    return static_cast<int>(std::distance(range.first, range.second));
}

bhttp::request<bhttp::string_body> kinesis_request(std::string target, std::string body) {
    bhttp::request<bhttp::string_body> req{bhttp::verb::post, "/", 11};
    req.set(bhttp::field::host, "kinesis.local");
    req.set("X-Amz-Target", target);
    req.set(bhttp::field::content_type, "application/x-amz-json-1.1");
    req.set("Authorization", "AWS4-HMAC-SHA256 Credential=AKID/20240101/us-east-1/kinesis/aws4_request");
    req.set("X-Amz-Date", "20240101T000000Z");
    req.set("Origin", "http://example.test");
    req.body() = std::move(body);
    req.prepare_payload();
    return req;
}

response_type round_trip(fd_stream& stream, boost::beast::flat_buffer& buffer,
                         const bhttp::request<bhttp::string_body>& req) {
    bhttp::write(stream, req);
    response_type res;
    bhttp::read(stream, buffer, res);
    return res;
}

void expect_keep_alive_round_trips(echo_dispatcher& d) {
    running_server srv(d);
    fd_stream stream(srv.port());
    boost::beast::flat_buffer buffer;

    auto first = round_trip(stream, buffer, kinesis_request("Kinesis_20131202.ListStreams", "{}"));
    EXPECT_EQ(first.result_int(), 200u);
    EXPECT_EQ(first.body(), "{}");
    EXPECT_EQ(header(first, "X-Echo-Method"), "POST");
    EXPECT_EQ(header(first, "X-Echo-Path"), "/");
    EXPECT_EQ(header(first, "X-Echo-Target"), "Kinesis_20131202.ListStreams");
    EXPECT_EQ(header(first, "X-Echo-Content-Type"), "application/x-amz-json-1.1");
    EXPECT_EQ(header(first, "X-Echo-Date"), "20240101T000000Z");
    EXPECT_EQ(header(first, "X-Echo-Origin"), "http://example.test");
    EXPECT_EQ(header(first, "X-Echo-Host"), "kinesis.local");
    EXPECT_NE(header(first, "X-Echo-Authorization").find("Credential=AKID/"), std::string::npos);
    EXPECT_EQ(header(first, "Content-Length"), "2");
    EXPECT_TRUE(header(first, "Date").ends_with(" GMT"));
    EXPECT_EQ(header(first, "x-amzn-RequestId").size(), 36u);  // a UUID
    EXPECT_TRUE(first.keep_alive());

    auto second = round_trip(stream, buffer, kinesis_request("Kinesis_20131202.PutRecord", R"({"a":1})"));
    EXPECT_EQ(second.result_int(), 200u);
    EXPECT_EQ(second.body(), R"({"a":1})");
    EXPECT_EQ(header(second, "X-Echo-Target"), "Kinesis_20131202.PutRecord");
    EXPECT_NE(header(second, "x-amzn-RequestId"), header(first, "x-amzn-RequestId"));
    EXPECT_EQ(d.handled.load(), 2);
    EXPECT_TRUE(srv.shutdown());
}

TEST(http_server, keep_alive_serves_two_requests_on_one_connection) {
    echo_dispatcher d;
    expect_keep_alive_round_trips(d);
}

TEST(http_server, replies_from_another_thread_reach_the_client) {
    echo_dispatcher d;
    d.async = true;
    expect_keep_alive_round_trips(d);
}

TEST(http_server, keeps_the_dispatchers_request_id) {
    echo_dispatcher d;
    d.request_id = "req-from-dispatcher";
    running_server srv(d);
    fd_stream stream(srv.port());
    boost::beast::flat_buffer buffer;
    auto res = round_trip(stream, buffer, kinesis_request("T.X", "{}"));
    EXPECT_EQ(count_header(res, "x-amzn-RequestId"), 1);
    EXPECT_EQ(header(res, "x-amzn-RequestId"), "req-from-dispatcher");
}

TEST(http_server, empty_body_is_sent_with_content_length_zero) {
    echo_dispatcher d;
    running_server srv(d);
    fd_stream stream(srv.port());
    stream.send("GET /empty HTTP/1.1\r\nHost: a\r\n\r\n");
    std::string raw(4096, '\0');
    boost::system::error_code ec;
    raw.resize(stream.recv_into(raw.data(), raw.size(), ec));
    ASSERT_FALSE(ec) << ec.message();
    EXPECT_TRUE(raw.starts_with("HTTP/1.1 200 OK\r\n")) << raw;
    EXPECT_NE(raw.find("\r\nContent-Length: 0\r\n"), std::string::npos) << raw;
}

// The response head is written by hand, so the connection rules of both
// versions are checked on the bytes.
TEST(http_server, connection_header_follows_the_version_and_the_clients_wish) {
    echo_dispatcher d;
    running_server srv(d);
    auto answer = [&](const std::string& request) {
        fd_stream stream(srv.port());
        stream.send(request);
        std::string raw(4096, '\0');
        boost::system::error_code ec;
        raw.resize(stream.recv_into(raw.data(), raw.size(), ec));
        EXPECT_FALSE(ec) << ec.message();
        return raw.substr(0, raw.find("\r\n\r\n") + 2);
    };
    auto http10 = answer("POST /a HTTP/1.0\r\nHost: a\r\nContent-Length: 2\r\n\r\n{}");
    EXPECT_TRUE(http10.starts_with("HTTP/1.0 200 OK\r\n")) << http10;
    EXPECT_EQ(http10.find("Connection:"), std::string::npos) << http10;
    auto http10_kept = answer("POST /a HTTP/1.0\r\nHost: a\r\nConnection: keep-alive\r\nContent-Length: 2\r\n\r\n{}");
    EXPECT_NE(http10_kept.find("\r\nConnection: keep-alive\r\n"), std::string::npos) << http10_kept;
    auto http11_close = answer("POST /a HTTP/1.1\r\nHost: a\r\nConnection: close\r\nContent-Length: 2\r\n\r\n{}");
    EXPECT_TRUE(http11_close.starts_with("HTTP/1.1 200 OK\r\n")) << http11_close;
    EXPECT_NE(http11_close.find("\r\nConnection: close\r\n"), std::string::npos) << http11_close;
    EXPECT_NE(http11_close.find("\r\nContent-Length: 2\r\n"), std::string::npos) << http11_close;
    auto http11 = answer("POST /a HTTP/1.1\r\nHost: a\r\nContent-Length: 2\r\n\r\n{}");
    EXPECT_EQ(http11.find("Connection:"), std::string::npos) << http11;
}

// What a reply keeps (a GetRecords answer's share of the read budget) lives
// until its body has been written, not only until the session took it.
TEST(http_server, a_reply_keeps_what_it_holds_until_its_body_is_written) {
    echo_dispatcher d;
    d.keep_body = 48u << 20;  // more than the loopback socket buffers take
    running_server srv(d);
    fd_stream stream(srv.port());
    stream.send("POST /keep HTTP/1.1\r\nHost: a\r\nContent-Length: 2\r\n\r\n{}");
    for (int i = 0; i < 200 && d.handled.load() == 0; ++i) std::this_thread::sleep_for(10ms);
    ASSERT_EQ(d.handled.load(), 1);
    std::this_thread::sleep_for(200ms);
    EXPECT_TRUE(d.keep_held()) << "released while most of the body was still unsent";

    std::string chunk(1u << 20, '\0');
    std::string head;
    std::size_t body = 0;
    boost::system::error_code ec;
    while (!ec && (head.find("\r\n\r\n") == std::string::npos || body < d.keep_body)) {
        const std::size_t n = stream.recv_into(chunk.data(), chunk.size(), ec);
        std::size_t at = 0;
        if (head.find("\r\n\r\n") == std::string::npos) {
            head.append(chunk, 0, n);
            const auto end = head.find("\r\n\r\n");
            if (end == std::string::npos) continue;
            body = head.size() - (end + 4);
            at = n;
        }
        body += n - at;
    }
    ASSERT_FALSE(ec) << ec.message();
    EXPECT_EQ(body, d.keep_body);
    for (int i = 0; i < 200 && d.keep_held(); ++i) std::this_thread::sleep_for(10ms);
    EXPECT_FALSE(d.keep_held()) << "still held after the whole body was read";
}

TEST(http_server, pipelined_requests_are_answered_in_order) {
    echo_dispatcher d;
    d.async = true;
    running_server srv(d);
    fd_stream stream(srv.port());
    // The first is slow, so an out-of-order reply would show.
    stream.send("POST /slow HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\none"
                "POST /fast HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\ntwo");
    boost::beast::flat_buffer buffer;
    response_type first, second;
    bhttp::read(stream, buffer, first);
    bhttp::read(stream, buffer, second);
    EXPECT_EQ(first.body(), "one");
    EXPECT_EQ(second.body(), "two");
}

TEST(http_server, oversize_content_length_gets_too_large_reply_without_body) {
    echo_dispatcher d;
    d.limit = 1024;
    running_server srv(d);
    fd_stream stream(srv.port());
    // The body is never sent: the answer must come from the header alone.
    stream.send("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 100000\r\n\r\n");
    boost::beast::flat_buffer buffer;
    response_type res;
    bhttp::read(stream, buffer, res);
    EXPECT_EQ(res.result_int(), 413u);
    EXPECT_EQ(res.body(), d.too_large_reply().body);
    EXPECT_FALSE(res.keep_alive());
    EXPECT_EQ(header(res, "x-amzn-RequestId").size(), 36u);
    EXPECT_TRUE(stream.closed_by_peer());
    EXPECT_EQ(d.handled.load(), 0);
}

TEST(http_server, oversize_chunked_body_gets_too_large_reply) {
    echo_dispatcher d;
    d.limit = 1024;
    running_server srv(d);
    fd_stream stream(srv.port());
    const std::string chunk(800, 'x');
    stream.send("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n");
    stream.send("320\r\n" + chunk + "\r\n320\r\n" + chunk + "\r\n0\r\n\r\n");
    boost::beast::flat_buffer buffer;
    response_type res;
    bhttp::read(stream, buffer, res);
    EXPECT_EQ(res.result_int(), 413u);
    EXPECT_EQ(d.handled.load(), 0);
}

TEST(http_server, chunked_body_within_limit_is_assembled) {
    echo_dispatcher d;
    running_server srv(d);
    fd_stream stream(srv.port());
    stream.send("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n1\r\n!\r\n0\r\n\r\n");
    boost::beast::flat_buffer buffer;
    response_type res;
    bhttp::read(stream, buffer, res);
    EXPECT_EQ(res.body(), "hello!");
}

TEST(http_server, expect_100_continue_is_answered_before_the_body) {
    echo_dispatcher d;
    running_server srv(d);
    // A short read timeout: a server that waits for the body without
    // sending 100 Continue fails here rather than after a client delay.
    fd_stream stream(srv.port(), 2s);
    const std::string body(2000, 'b');
    stream.send("POST / HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\nContent-Length: 2000\r\n\r\n");
    boost::beast::flat_buffer buffer;
    response_type interim;
    bhttp::read(stream, buffer, interim);
    EXPECT_EQ(interim.result(), bhttp::status::continue_);
    stream.send(body);
    response_type res;
    bhttp::read(stream, buffer, res);
    EXPECT_EQ(res.result_int(), 200u);
    EXPECT_EQ(res.body(), body);
}

TEST(http_server, expect_100_continue_over_the_limit_gets_the_final_answer) {
    echo_dispatcher d;
    d.limit = 1024;
    running_server srv(d);
    fd_stream stream(srv.port());
    stream.send("POST / HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\nContent-Length: 5000\r\n\r\n");
    boost::beast::flat_buffer buffer;
    response_type res;
    bhttp::read(stream, buffer, res);
    EXPECT_EQ(res.result_int(), 413u);
}

TEST(http_server, malformed_request_gets_400_and_close) {
    echo_dispatcher d;
    running_server srv(d);
    fd_stream stream(srv.port());
    stream.send("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: banana\r\n\r\n");
    boost::beast::flat_buffer buffer;
    response_type res;
    bhttp::read(stream, buffer, res);
    EXPECT_EQ(res.result_int(), 400u);
    EXPECT_TRUE(stream.closed_by_peer());
}

TEST(http_server, idle_connection_is_closed_after_the_idle_timeout) {
    echo_dispatcher d;
    auto options = test_options();
    options.idle_timeout = 200ms;
    running_server srv(d, options);
    fd_stream stream(srv.port(), 3s);
    boost::beast::flat_buffer buffer;
    EXPECT_EQ(round_trip(stream, buffer, kinesis_request("T.X", "{}")).result_int(), 200u);
    const auto start = std::chrono::steady_clock::now();
    EXPECT_TRUE(stream.closed_by_peer());
    EXPECT_LT(std::chrono::steady_clock::now() - start, 2s);
}

TEST(http_server, slow_request_is_cut_by_the_read_timeout) {
    echo_dispatcher d;
    auto options = test_options();
    options.read_timeout = 200ms;
    running_server srv(d, options);
    fd_stream stream(srv.port(), 3s);
    stream.send("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 10\r\n\r\nabc");
    EXPECT_TRUE(stream.closed_by_peer());
    EXPECT_EQ(d.handled.load(), 0);
}

TEST(http_server, connections_beyond_the_limit_are_closed_at_once) {
    echo_dispatcher d;
    auto options = test_options();
    options.max_connections = 1;
    running_server srv(d, options);
    {
        fd_stream first(srv.port());
        boost::beast::flat_buffer buffer;
        EXPECT_EQ(round_trip(first, buffer, kinesis_request("T.X", "{}")).result_int(), 200u);
        fd_stream second(srv.port(), 2s);
        EXPECT_TRUE(second.closed_by_peer());
        // The first one is unaffected.
        EXPECT_EQ(round_trip(first, buffer, kinesis_request("T.Y", "{}")).result_int(), 200u);
    }
    // Once the first has gone, its place is free again.
    bool served = false;
    for (int attempt = 0; attempt < 50 && !served; ++attempt) {
        fd_stream next(srv.port(), 1s);
        boost::beast::flat_buffer buffer;
        try {
            served = round_trip(next, buffer, kinesis_request("T.Z", "{}")).result_int() == 200;
        } catch (const std::exception&) {
            std::this_thread::sleep_for(20ms);
        }
    }
    EXPECT_TRUE(served);
}

TEST(http_server, start_fails_clearly_when_the_port_is_taken) {
    echo_dispatcher d;
    running_server first(d);
    boost::asio::io_context ioc;
    auto options = test_options();
    options.port = first.port();
    server second(ioc, options, d);
    try {
        second.start();
        FAIL() << "start() succeeded on a taken port";
    } catch (const std::runtime_error& e) {
        EXPECT_NE(std::string(e.what()).find(std::to_string(first.port())), std::string::npos) << e.what();
    }
}

TEST(http_server, ephemeral_port_is_reported) {
    echo_dispatcher d;
    running_server srv(d);
    EXPECT_NE(srv.port(), 0);
}

TEST(http_server, stop_closes_open_connections) {
    echo_dispatcher d;
    running_server srv(d);
    fd_stream idle(srv.port());
    boost::beast::flat_buffer buffer;
    EXPECT_EQ(round_trip(idle, buffer, kinesis_request("T.X", "{}")).result_int(), 200u);
    fd_stream silent(srv.port());  // never sends a byte
    std::this_thread::sleep_for(50ms);
    EXPECT_TRUE(srv.shutdown());
    EXPECT_TRUE(idle.closed_by_peer());
    EXPECT_TRUE(silent.closed_by_peer());
}

TEST(http_server, reply_after_stop_is_dropped_quietly) {
    echo_dispatcher d;
    d.async = true;
    d.slow_delay = 300ms;
    running_server srv(d);
    fd_stream stream(srv.port());
    stream.send("POST /slow HTTP/1.1\r\nHost: a\r\nContent-Length: 2\r\n\r\n{}");
    std::this_thread::sleep_for(50ms);
    EXPECT_EQ(d.handled.load(), 1);
    srv.get().stop();
    EXPECT_TRUE(stream.closed_by_peer());
    d.join();  // the late reply arrives at a closed session
    EXPECT_TRUE(srv.shutdown());
}

void expect_no_connection_left(server& srv) {
    const auto deadline = std::chrono::steady_clock::now() + 5s;
    while (srv.open_connections() > 0 && std::chrono::steady_clock::now() < deadline)
        std::this_thread::sleep_for(5ms);
    EXPECT_EQ(srv.open_connections(), 0u);
}

TEST(http_server, drain_answers_the_request_in_progress_and_closes_idle_connections) {
    echo_dispatcher d;
    d.async = true;
    d.slow_delay = 300ms;
    running_server srv(d);
    fd_stream idle(srv.port());
    boost::beast::flat_buffer idle_buffer;
    EXPECT_EQ(round_trip(idle, idle_buffer, kinesis_request("T.X", "{}")).result_int(), 200u);
    fd_stream silent(srv.port());  // never sends a byte
    fd_stream busy(srv.port());
    busy.send("POST /slow HTTP/1.1\r\nHost: a\r\nContent-Length: 7\r\n\r\n{\"a\":1}");
    std::this_thread::sleep_for(50ms);
    ASSERT_EQ(d.handled.load(), 2);
    srv.get().drain();
    EXPECT_TRUE(idle.closed_by_peer());
    EXPECT_TRUE(silent.closed_by_peer());
    EXPECT_THROW(fd_stream refused(srv.port()), std::runtime_error);

    boost::beast::flat_buffer buffer;
    response_type res;
    bhttp::read(busy, buffer, res);
    EXPECT_EQ(res.result_int(), 200u);
    EXPECT_EQ(res.body(), R"({"a":1})");
    EXPECT_EQ(header(res, "Connection"), "close");
    EXPECT_TRUE(busy.closed_by_peer());
    expect_no_connection_left(srv.get());
    EXPECT_TRUE(srv.shutdown());
}

TEST(http_server, drain_finishes_reading_a_request_begun) {
    echo_dispatcher d;
    running_server srv(d);
    fd_stream busy(srv.port());
    busy.send("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 7\r\n\r\n{\"a\"");
    std::this_thread::sleep_for(50ms);
    srv.get().drain();
    std::this_thread::sleep_for(50ms);
    busy.send(":1}");
    boost::beast::flat_buffer buffer;
    response_type res;
    bhttp::read(busy, buffer, res);
    EXPECT_EQ(res.result_int(), 200u);
    EXPECT_EQ(res.body(), R"({"a":1})");
    EXPECT_EQ(header(res, "Connection"), "close");
    EXPECT_TRUE(busy.closed_by_peer());
    expect_no_connection_left(srv.get());
    EXPECT_TRUE(srv.shutdown());
}

}  // namespace
}  // namespace kinesd::http::testing
