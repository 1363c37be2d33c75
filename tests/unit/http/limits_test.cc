// Resource limits of the front end: the in-flight request bytes budget (both
// protocols' accounting rests on it), the 503 it answers with, the read
// timeout measured from a request's first byte, and the refusal beyond
// max_connections.
#include <gtest/gtest.h>

#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <nlohmann/json.hpp>

#include <string>

#include "http/listener.h"
#include "http/server.h"
#include "server_test_support.h"

namespace kinesd::http::testing {
namespace {

namespace bhttp = boost::beast::http;
using response_type = bhttp::response<bhttp::string_body>;

response_type read_response(fd_stream& stream, boost::beast::flat_buffer& buffer) {
    response_type res;
    bhttp::read(stream, buffer, res);
    return res;
}

std::string post(std::size_t length, const std::string& body) {
    return "POST / HTTP/1.1\r\nHost: a\r\nContent-Type: application/x-amz-json-1.1\r\nContent-Length: " +
           std::to_string(length) + "\r\n\r\n" + body;
}

void expect_busy(const response_type& res) {
    EXPECT_EQ(res.result_int(), 503u);
    EXPECT_EQ(res["x-amzn-ErrorType"], "ServiceUnavailableException");
    auto body = nlohmann::json::parse(res.body());
    EXPECT_EQ(body["__type"], "ServiceUnavailableException");
    EXPECT_FALSE(body["message"].get<std::string>().empty());
}

TEST(inflight_budget, grows_releases_and_refuses_beyond_the_limit) {
    auto budget = std::make_shared<inflight_budget>(100);
    auto a = budget->open();
    EXPECT_TRUE(a.grow_to(60));
    EXPECT_EQ(budget->in_use(), 60u);
    auto b = budget->open();
    EXPECT_FALSE(b.grow_to(41));
    EXPECT_EQ(b.bytes(), 0u);
    EXPECT_TRUE(b.grow_to(40));
    EXPECT_TRUE(b.grow_to(30));  // never shrinks, never takes twice
    EXPECT_EQ(budget->in_use(), 100u);
    {
        auto moved = std::move(a);
        EXPECT_EQ(a.bytes(), 0u);
        EXPECT_EQ(budget->in_use(), 100u);
    }
    EXPECT_EQ(budget->in_use(), 40u);
    b.release();
    b.release();
    EXPECT_EQ(budget->in_use(), 0u);
    auto whole = budget->open();
    EXPECT_TRUE(whole.grow_to(100));
    EXPECT_FALSE(budget->open().grow_to(1));
}

TEST(inflight_budget, busy_reply_follows_the_requests_wire_format) {
    auto json = busy_reply("application/x-amz-json-1.1");
    EXPECT_EQ(json.status, 503u);
    EXPECT_EQ(nlohmann::json::parse(json.body)["__type"], "ServiceUnavailableException");
    auto cbor = busy_reply("application/x-amz-cbor-1.1");
    EXPECT_EQ(cbor.status, 503u);
    EXPECT_EQ(nlohmann::json::from_cbor(cbor.body)["__type"], "ServiceUnavailableException");
}

TEST(http_limits, body_beyond_the_budget_gets_503_unread_and_the_budget_is_released) {
    echo_dispatcher d;
    auto options = test_options();
    options.max_inflight_bytes = 100;
    running_server srv(d, options);
    {
        fd_stream stream(srv.port());
        boost::beast::flat_buffer buffer;
        // Only the header is sent: the answer must not wait for the body.
        stream.send(post(101, ""));
        expect_busy(read_response(stream, buffer));
        EXPECT_EQ(d.handled.load(), 0);
    }
    // Each reply gives its bytes back: many in a row all fit.
    fd_stream stream(srv.port());
    boost::beast::flat_buffer buffer;
    const std::string body(80, 'x');
    for (int i = 0; i < 5; ++i) {
        stream.send(post(body.size(), body));
        auto res = read_response(stream, buffer);
        EXPECT_EQ(res.result_int(), 200u);
        EXPECT_EQ(res.body(), body);
    }
}

TEST(http_limits, held_budget_refuses_others_until_the_reply_is_written) {
    echo_dispatcher d;
    d.async = true;
    // Long enough that, on a loaded machine too, the other request is
    // answered while the slow one still holds its bytes.
    d.slow_delay = std::chrono::milliseconds(3000);
    auto options = test_options();
    options.max_inflight_bytes = 100;
    running_server srv(d, options);
    fd_stream slow(srv.port());
    const std::string body(80, 'x');
    slow.send("POST /slow HTTP/1.1\r\nHost: a\r\nContent-Length: 80\r\n\r\n" + body);
    // The slow request holds its reservation once it reached the dispatcher.
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    while (d.handled.load() == 0 && std::chrono::steady_clock::now() < deadline)
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    ASSERT_EQ(d.handled.load(), 1);
    {
        fd_stream other(srv.port());
        boost::beast::flat_buffer buffer;
        other.send(post(body.size(), body));
        expect_busy(read_response(other, buffer));
    }
    boost::beast::flat_buffer buffer;
    EXPECT_EQ(read_response(slow, buffer).result_int(), 200u);
    // The server releases the bytes when its write completes, which can come
    // just after the client has read the reply: allow that moment, no more.
    unsigned status = 0;
    for (int attempt = 0; attempt < 50 && status != 200u; ++attempt) {
        if (attempt) std::this_thread::sleep_for(std::chrono::milliseconds(20));
        fd_stream after(srv.port());
        boost::beast::flat_buffer after_buffer;
        after.send(post(body.size(), body));
        status = read_response(after, after_buffer).result_int();
    }
    EXPECT_EQ(status, 200u);
    d.join();
}

TEST(http_limits, chunked_body_is_counted_as_it_arrives) {
    echo_dispatcher d;
    auto options = test_options();
    options.max_inflight_bytes = 100;
    running_server srv(d, options);
    fd_stream stream(srv.port());
    boost::beast::flat_buffer buffer;
    stream.send("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n");
    for (int i = 0; i < 3; ++i) stream.send("3c\r\n" + std::string(60, 'y') + "\r\n");
    stream.send("0\r\n\r\n");
    expect_busy(read_response(stream, buffer));
    EXPECT_EQ(d.handled.load(), 0);
}

TEST(http_limits, read_timeout_counts_from_the_first_byte_not_per_byte) {
    echo_dispatcher d;
    auto options = test_options();
    options.read_timeout = std::chrono::milliseconds(400);
    running_server srv(d, options);
    fd_stream stream(srv.port(), std::chrono::milliseconds(100));
    const std::string header = "POST / HTTP/1.1\r\nHost: a\r\nX-Padding: " + std::string(40, 'p') + "\r\n";
    // A byte every 100 ms keeps every single read well inside the timeout;
    // the request as a whole does not fit in it.
    bool closed = false;
    const auto start = std::chrono::steady_clock::now();
    for (char c : header) {
        try {
            stream.send(std::string(1, c));
        } catch (const std::exception&) {
            closed = true;
            break;
        }
        if (stream.closed_by_peer()) {
            closed = true;
            break;
        }
    }
    EXPECT_TRUE(closed);
    EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(30));
    EXPECT_EQ(d.handled.load(), 0);
}

TEST(http_limits, connections_beyond_the_limit_read_a_503) {
    echo_dispatcher d;
    auto options = test_options();
    options.max_connections = 1;
    running_server srv(d, options);
    fd_stream first(srv.port());
    boost::beast::flat_buffer first_buffer;
    first.send(post(2, "{}"));
    EXPECT_EQ(read_response(first, first_buffer).result_int(), 200u);
    fd_stream second(srv.port(), std::chrono::seconds(2));
    boost::beast::flat_buffer buffer;
    auto res = read_response(second, buffer);
    expect_busy(res);
    EXPECT_FALSE(res.keep_alive());
}

}  // namespace
}  // namespace kinesd::http::testing
