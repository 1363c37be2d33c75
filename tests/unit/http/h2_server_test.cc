// HTTP/2 side of the front end, driven by a small synchronous nghttp2 client
// speaking prior-knowledge h2c, as the JS SDK v3 Kinesis client does.
#include <gtest/gtest.h>
#include <nghttp2/nghttp2.h>

#include <cctype>
#include <cstring>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "server_test_support.h"

namespace kinesd::http::testing {
namespace {

class h2_client {
public:
    struct response {
        int status = 0;
        std::vector<std::pair<std::string, std::string>> headers;
        std::string body;
        bool closed = false;
        std::uint32_t error_code = 0;
        int finish_order = 0;

        std::string header(const std::string& name) const {
            for (const auto& [n, v] : headers)
                if (n == name) return v;
            return {};
        }
    };

    explicit h2_client(std::uint16_t port) : stream_(port) {
        nghttp2_session_callbacks* cbs = nullptr;
        nghttp2_session_callbacks_new(&cbs);
        nghttp2_session_callbacks_set_on_header_callback(cbs, &h2_client::on_header);
        nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cbs, &h2_client::on_data);
        nghttp2_session_callbacks_set_on_stream_close_callback(cbs, &h2_client::on_close);
        nghttp2_session_callbacks_set_on_frame_recv_callback(cbs, &h2_client::on_frame);
        nghttp2_session_client_new(&session_, cbs, this);
        nghttp2_session_callbacks_del(cbs);
        const nghttp2_settings_entry settings[] = {{NGHTTP2_SETTINGS_ENABLE_PUSH, 0}};
        nghttp2_submit_settings(session_, NGHTTP2_FLAG_NONE, settings, 1);
    }
    ~h2_client() { nghttp2_session_del(session_); }

    std::int32_t submit(const std::string& path, std::string body, std::string content_length = {}) {
        std::vector<std::pair<std::string, std::string>> fields = {
            {":method", "POST"},
            {":scheme", "http"},
            {":authority", "kinesis.local"},
            {":path", path},
            {"content-type", "application/x-amz-json-1.1"},
            {"x-amz-target", "Kinesis_20131202.PutRecords"},
            {"x-amz-date", "20240101T000000Z"},
            {"authorization", "AWS4-HMAC-SHA256 Credential=AKID/20240101/us-east-1/kinesis/aws4_request"},
            {"origin", "http://example.test"},
            {"content-length", content_length.empty() ? std::to_string(body.size()) : content_length},
        };
        std::vector<nghttp2_nv> nva;
        for (auto& [n, v] : fields)
            nva.push_back({reinterpret_cast<std::uint8_t*>(n.data()), reinterpret_cast<std::uint8_t*>(v.data()),
                           n.size(), v.size(), NGHTTP2_NV_FLAG_NONE});
        nghttp2_data_provider provider{};
        provider.read_callback = &h2_client::read_body;
        const auto id = nghttp2_submit_request(session_, nullptr, nva.data(), nva.size(), &provider, nullptr);
        bodies_[id] = {std::move(body), 0};
        responses[id];
        return id;
    }

    // Sends what is queued, the submitted requests among it, and reads
    // nothing: the server's answers wait on their flow-control window.
    bool send_only() {
        for (;;) {
            const std::uint8_t* data = nullptr;
            const auto n = nghttp2_session_mem_send(session_, &data);
            if (n < 0) return false;
            if (n == 0) return true;
            stream_.send(std::string_view(reinterpret_cast<const char*>(data), static_cast<std::size_t>(n)));
        }
    }

    // Drives the connection until every submitted stream has closed.
    bool run() {
        return pump([this] {
            for (const auto& [id, r] : responses)
                if (!r.closed) return false;
            return true;
        });
    }
    // Drives the connection until the server closes it.
    bool run_until_closed() {
        return pump([] { return false; }) || eof_;
    }

    std::map<std::int32_t, response> responses;
    bool goaway = false;
    std::int32_t goaway_last_stream = -1;

private:
    template <typename Done>
    bool pump(Done done) {
        const auto deadline = std::chrono::steady_clock::now() + 10s;
        while (!done()) {
            if (!send_only()) return false;
            if (done() || std::chrono::steady_clock::now() > deadline) break;
            boost::system::error_code ec;
            const auto n = stream_.recv_into(buffer_, sizeof buffer_, ec);
            if (ec) {
                eof_ = ec == boost::asio::error::eof || ec == boost::asio::error::connection_reset;
                return false;
            }
            if (nghttp2_session_mem_recv(session_, reinterpret_cast<const std::uint8_t*>(buffer_), n) < 0)
                return false;
        }
        return done();
    }

    static h2_client* self(void* user) { return static_cast<h2_client*>(user); }

    static int on_header(nghttp2_session*, const nghttp2_frame* frame, const std::uint8_t* name, std::size_t nlen,
                         const std::uint8_t* value, std::size_t vlen, std::uint8_t, void* user) {
        auto& r = self(user)->responses[frame->hd.stream_id];
        std::string n(reinterpret_cast<const char*>(name), nlen), v(reinterpret_cast<const char*>(value), vlen);
        if (n == ":status")
            r.status = std::stoi(v);
        else
            r.headers.emplace_back(std::move(n), std::move(v));
        return 0;
    }
    static int on_data(nghttp2_session*, std::uint8_t, std::int32_t id, const std::uint8_t* data, std::size_t len,
                       void* user) {
        self(user)->responses[id].body.append(reinterpret_cast<const char*>(data), len);
        return 0;
    }
    static int on_close(nghttp2_session*, std::int32_t id, std::uint32_t error_code, void* user) {
        auto* c = self(user);
        auto& r = c->responses[id];
        r.closed = true;
        r.error_code = error_code;
        r.finish_order = ++c->finished_;
        return 0;
    }
    static int on_frame(nghttp2_session*, const nghttp2_frame* frame, void* user) {
        if (frame->hd.type == NGHTTP2_GOAWAY) {
            self(user)->goaway = true;
            self(user)->goaway_last_stream = frame->goaway.last_stream_id;
        }
        return 0;
    }
    static ssize_t read_body(nghttp2_session*, std::int32_t id, std::uint8_t* buf, std::size_t length,
                             std::uint32_t* flags, nghttp2_data_source*, void* user) {
        auto& [body, sent] = self(user)->bodies_[id];
        const auto n = std::min(length, body.size() - sent);
        std::memcpy(buf, body.data() + sent, n);
        sent += n;
        if (sent == body.size()) *flags |= NGHTTP2_DATA_FLAG_EOF;
        return static_cast<ssize_t>(n);
    }

    fd_stream stream_;
    nghttp2_session* session_ = nullptr;
    std::map<std::int32_t, std::pair<std::string, std::size_t>> bodies_;
    char buffer_[64 * 1024];
    int finished_ = 0;
    bool eof_ = false;
};

TEST(h2_server, two_concurrent_streams_are_multiplexed) {
    echo_dispatcher d;
    d.async = true;
    running_server srv(d);
    h2_client client(srv.port());
    const auto slow = client.submit("/slow", R"({"slow":1})");
    const auto fast = client.submit("/fast", R"({"fast":2})");
    ASSERT_TRUE(client.run());
    const auto& s = client.responses[slow];
    const auto& f = client.responses[fast];
    EXPECT_EQ(s.status, 200);
    EXPECT_EQ(f.status, 200);
    EXPECT_EQ(s.body, R"({"slow":1})");
    EXPECT_EQ(f.body, R"({"fast":2})");
    // The fast stream did not wait behind the slow one.
    EXPECT_LT(f.finish_order, s.finish_order);
    EXPECT_EQ(s.header("x-echo-path"), "/slow");
    EXPECT_EQ(s.header("x-echo-method"), "POST");
    EXPECT_EQ(s.header("x-echo-target"), "Kinesis_20131202.PutRecords");
    EXPECT_EQ(s.header("x-echo-content-type"), "application/x-amz-json-1.1");
    EXPECT_EQ(s.header("x-echo-host"), "kinesis.local");
    EXPECT_EQ(s.header("x-echo-date"), "20240101T000000Z");
    EXPECT_EQ(s.header("x-echo-origin"), "http://example.test");
    EXPECT_NE(s.header("x-echo-authorization").find("Credential=AKID/"), std::string::npos);
    EXPECT_EQ(s.header("content-length"), "10");
    EXPECT_TRUE(s.header("date").ends_with(" GMT"));
    EXPECT_EQ(s.header("x-amzn-requestid").size(), 36u);
    for (const auto& [name, value] : s.headers)
        for (char c : name) EXPECT_FALSE(std::isupper(static_cast<unsigned char>(c))) << name;
    EXPECT_EQ(d.handled.load(), 2);
}

TEST(h2_server, many_concurrent_streams_all_complete) {
    echo_dispatcher d;
    d.async = true;
    running_server srv(d);
    h2_client client(srv.port());
    std::map<std::int32_t, std::string> sent;
    for (int i = 0; i < 40; ++i) {
        auto body = "{\"n\":" + std::to_string(i) + "}";
        sent[client.submit(i % 5 == 0 ? "/slow" : "/fast", body)] = body;
    }
    ASSERT_TRUE(client.run());
    for (const auto& [id, body] : sent) {
        EXPECT_EQ(client.responses[id].status, 200);
        EXPECT_EQ(client.responses[id].body, body);
    }
}

TEST(h2_server, large_body_round_trips) {
    echo_dispatcher d;
    d.limit = 4 * 1024 * 1024;
    running_server srv(d);
    h2_client client(srv.port());
    std::string body(3 * 1024 * 1024, '\0');
    for (std::size_t i = 0; i < body.size(); ++i) body[i] = static_cast<char>('a' + i % 26);
    const auto id = client.submit("/", body);
    ASSERT_TRUE(client.run());
    EXPECT_EQ(client.responses[id].status, 200);
    EXPECT_EQ(client.responses[id].header("content-length"), std::to_string(body.size()));
    EXPECT_TRUE(client.responses[id].body == body);
}

TEST(h2_server, a_reply_keeps_what_it_holds_until_its_stream_is_done) {
    echo_dispatcher d;
    d.keep_body = 1u << 20;
    running_server srv(d);
    h2_client client(srv.port());
    const auto id = client.submit("/keep", "{}");
    // Unread, the stream gets no more than its initial 64 KiB window of the
    // 1 MiB body: the keep must still be held.
    ASSERT_TRUE(client.send_only());
    for (int i = 0; i < 200 && d.handled.load() == 0; ++i) std::this_thread::sleep_for(10ms);
    ASSERT_EQ(d.handled.load(), 1);
    std::this_thread::sleep_for(200ms);
    EXPECT_TRUE(d.keep_held()) << "released while most of the body was still unsent";
    ASSERT_TRUE(client.run());
    EXPECT_EQ(client.responses[id].status, 200);
    EXPECT_EQ(client.responses[id].body.size(), d.keep_body);
    for (int i = 0; i < 200 && d.keep_held(); ++i) std::this_thread::sleep_for(10ms);
    EXPECT_FALSE(d.keep_held()) << "still held after the whole body was read";
}

TEST(h2_server, body_over_the_limit_gets_too_large_reply) {
    echo_dispatcher d;
    d.limit = 1024 * 1024;
    running_server srv(d);
    h2_client client(srv.port());
    const auto id = client.submit("/", std::string(1536 * 1024, 'x'));
    ASSERT_TRUE(client.run());
    EXPECT_EQ(client.responses[id].status, 413);
    EXPECT_EQ(client.responses[id].body, d.too_large_reply().body);
    EXPECT_EQ(d.handled.load(), 0);
    // The connection is still good for the next request.
    const auto next = client.submit("/", "{}");
    ASSERT_TRUE(client.run());
    EXPECT_EQ(client.responses[next].status, 200);
}

TEST(h2_server, body_far_over_the_limit_gets_too_large_reply) {
    echo_dispatcher d;
    d.limit = 256 * 1024;
    running_server srv(d);
    h2_client client(srv.port());
    const auto id = client.submit("/", std::string(8 * 1024 * 1024, 'x'));
    ASSERT_TRUE(client.run());
    const auto& r = client.responses[id];
    EXPECT_EQ(r.status, 413);
    EXPECT_EQ(r.body, d.too_large_reply().body);
    // Whether or not the reset came before the client finished, the stream
    // ends without error.
    EXPECT_EQ(r.error_code, static_cast<std::uint32_t>(NGHTTP2_NO_ERROR));
    EXPECT_EQ(d.handled.load(), 0);
}

TEST(h2_server, empty_reply_body_has_content_length_zero) {
    echo_dispatcher d;
    running_server srv(d);
    h2_client client(srv.port());
    const auto id = client.submit("/empty", "{}");
    ASSERT_TRUE(client.run());
    EXPECT_EQ(client.responses[id].status, 200);
    EXPECT_EQ(client.responses[id].header("content-length"), "0");
    EXPECT_TRUE(client.responses[id].body.empty());
}

TEST(h2_server, stop_sends_goaway_and_closes) {
    echo_dispatcher d;
    running_server srv(d);
    h2_client client(srv.port());
    client.submit("/", "{}");
    ASSERT_TRUE(client.run());
    srv.get().stop();
    EXPECT_TRUE(client.run_until_closed());
    EXPECT_TRUE(client.goaway);
    EXPECT_TRUE(srv.shutdown());
}

TEST(h2_server, idle_connection_gets_goaway) {
    echo_dispatcher d;
    auto options = test_options();
    options.idle_timeout = 200ms;
    running_server srv(d, options);
    h2_client client(srv.port());
    client.submit("/", "{}");
    ASSERT_TRUE(client.run());
    EXPECT_TRUE(client.run_until_closed());
    EXPECT_TRUE(client.goaway);
}

TEST(h2_server, slow_reply_is_not_cut_by_the_idle_timeout) {
    echo_dispatcher d;
    d.async = true;
    d.slow_delay = 600ms;
    auto options = test_options();
    options.idle_timeout = 200ms;
    running_server srv(d, options);
    h2_client client(srv.port());
    const auto id = client.submit("/slow", "{}");
    ASSERT_TRUE(client.run());
    EXPECT_EQ(client.responses[id].status, 200);
}

TEST(h2_server, drain_sends_goaway_and_answers_the_streams_in_flight) {
    echo_dispatcher d;
    d.async = true;
    d.slow_delay = 300ms;
    running_server srv(d);
    h2_client client(srv.port());
    const auto first = client.submit("/slow", R"({"a":1})");
    const auto second = client.submit("/slow", R"({"b":2})");
    ASSERT_TRUE(client.send_only());
    std::this_thread::sleep_for(50ms);
    ASSERT_EQ(d.handled.load(), 2);
    srv.get().drain();
    ASSERT_TRUE(client.run());
    EXPECT_TRUE(client.goaway);
    EXPECT_EQ(client.goaway_last_stream, second);
    EXPECT_EQ(client.responses[first].status, 200);
    EXPECT_EQ(client.responses[first].body, R"({"a":1})");
    EXPECT_EQ(client.responses[second].status, 200);
    EXPECT_EQ(client.responses[second].body, R"({"b":2})");
    EXPECT_TRUE(client.run_until_closed());
    const auto deadline = std::chrono::steady_clock::now() + 5s;
    while (srv.get().open_connections() > 0 && std::chrono::steady_clock::now() < deadline)
        std::this_thread::sleep_for(5ms);
    EXPECT_EQ(srv.get().open_connections(), 0u);
    EXPECT_TRUE(srv.shutdown());
}

TEST(h2_server, drain_closes_an_idle_connection_after_goaway) {
    echo_dispatcher d;
    running_server srv(d);
    h2_client client(srv.port());
    const auto id = client.submit("/", "{}");
    ASSERT_TRUE(client.run());
    srv.get().drain();
    EXPECT_TRUE(client.run_until_closed());
    EXPECT_TRUE(client.goaway);
    EXPECT_EQ(client.goaway_last_stream, id);
    EXPECT_TRUE(srv.shutdown());
}

}  // namespace
}  // namespace kinesd::http::testing
