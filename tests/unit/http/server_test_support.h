#pragma once
// Test helpers for the network front end: a dispatcher that echoes what it
// got, a server running on its own threads, and a blocking client socket
// whose reads time out (so a broken server fails a test instead of hanging it).
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <boost/asio/buffer.hpp>
#include <boost/asio/error.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/system/system_error.hpp>

#include <atomic>
#include <chrono>
#include <memory>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "http/request.h"
#include "http/server.h"

namespace kinesd::http::testing {

using namespace std::chrono_literals;

// Echoes the request fields into x-echo-* headers and the body into the body.
// Path "/empty" gets an empty body, "/slow" a late reply when async.
class echo_dispatcher : public dispatcher {
public:
    std::size_t limit = 1024 * 1024;
    bool async = false;                 // reply from another thread
    std::chrono::milliseconds slow_delay{150};
    std::optional<std::string> request_id;  // set x-amzn-RequestId ourselves
    std::atomic<int> handled{0};
    // "/keep" answers keep_body bytes and hands the session a keep that the
    // test watches through keep_held().
    std::size_t keep_body = 0;

    ~echo_dispatcher() override { join(); }

    bool keep_held() {
        std::lock_guard lock(mutex_);
        return !last_keep_.expired();
    }

    void handle(request req, reply_handler done) override {
        ++handled;
        reply r;
        r.headers = {{"Content-Type", "application/x-amz-json-1.1"},
                     {"X-Echo-Method", req.method},         {"X-Echo-Path", req.path},
                     {"X-Echo-Target", req.amz_target},     {"X-Echo-Content-Type", req.content_type},
                     {"X-Echo-Authorization", req.authorization}, {"X-Echo-Date", req.amz_date},
                     {"X-Echo-Origin", req.origin},         {"X-Echo-Host", req.host}};
        if (request_id) r.headers.emplace_back("x-amzn-RequestId", *request_id);
        if (req.path != "/empty") r.body = std::move(req.body);
        if (req.path == "/keep") {
            auto keep = std::make_shared<int>(0);
            {
                std::lock_guard lock(mutex_);
                last_keep_ = keep;
            }
            r.keep = std::move(keep);
            r.body.assign(keep_body, 'k');
        }
        if (!async) {
            done(std::move(r));
            return;
        }
        const auto wait = req.path == "/slow" ? slow_delay : std::chrono::milliseconds(5);
        std::lock_guard lock(mutex_);
        threads_.emplace_back([r = std::move(r), done = std::move(done), wait]() mutable {
            std::this_thread::sleep_for(wait);
            done(std::move(r));
        });
    }
    std::size_t body_limit() const override { return limit; }
    reply too_large_reply() const override {
        reply r;
        r.status = 413;
        r.headers = {{"Content-Type", "application/x-amz-json-1.1"}};
        r.body = R"({"__type":"SerializationException","message":"too large"})";
        return r;
    }
    void join() {
        std::vector<std::thread> threads;
        {
            std::lock_guard lock(mutex_);
            threads.swap(threads_);
        }
        for (auto& t : threads) t.join();
    }

private:
    std::mutex mutex_;
    std::vector<std::thread> threads_;
    std::weak_ptr<void> last_keep_;
};

inline server_options test_options() {
    server_options o;
    o.host = "127.0.0.1";
    o.port = 0;
    return o;
}

// A server on 127.0.0.1 with two threads running its io_context.
class running_server {
public:
    running_server(echo_dispatcher& d, server_options options = test_options())
        : dispatcher_(d), guard_(boost::asio::make_work_guard(ioc_)), server_(ioc_, std::move(options), d) {
        server_.start();
        for (int i = 0; i < 2; ++i) threads_.emplace_back([this] { ioc_.run(); });
    }
    ~running_server() { shutdown(); }

    std::uint16_t port() const { return server_.local_port(); }
    server& get() { return server_; }

    // Stops the server and reports whether the io_context then ran out of
    // work by itself, i.e. whether stop() really closed every connection.
    bool shutdown(std::chrono::milliseconds limit = 5s) {
        if (threads_.empty()) return drained_;
        server_.stop();
        // Late replies must reach the io_context while it still exists.
        dispatcher_.join();
        guard_.reset();
        const auto deadline = std::chrono::steady_clock::now() + limit;
        while (!ioc_.stopped() && std::chrono::steady_clock::now() < deadline) std::this_thread::sleep_for(10ms);
        drained_ = ioc_.stopped();
        ioc_.stop();
        for (auto& t : threads_) t.join();
        threads_.clear();
        return drained_;
    }

private:
    echo_dispatcher& dispatcher_;
    boost::asio::io_context ioc_;
    std::optional<boost::asio::executor_work_guard<boost::asio::io_context::executor_type>> guard_;
    server server_;
    std::vector<std::thread> threads_;
    bool drained_ = false;
};

// A blocking TCP client that satisfies Beast's SyncReadStream/SyncWriteStream
// and times out on reads.
class fd_stream {
public:
    explicit fd_stream(std::uint16_t port, std::chrono::milliseconds timeout = 5s) : timeout_(timeout) {
        fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
        sockaddr_in addr{};
        addr.sin_family = AF_INET;
        addr.sin_port = htons(port);
        addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        if (::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0)
            throw std::runtime_error("connect failed");
        // Small frames such as WINDOW_UPDATE must not wait for Nagle.
        int one = 1;
        ::setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    }
    ~fd_stream() {
        if (fd_ >= 0) ::close(fd_);
    }
    fd_stream(const fd_stream&) = delete;
    fd_stream& operator=(const fd_stream&) = delete;

    int fd() const { return fd_; }

    template <typename Buffers>
    std::size_t read_some(const Buffers& buffers, boost::system::error_code& ec) {
        ec = {};
        for (auto it = boost::asio::buffer_sequence_begin(buffers); it != boost::asio::buffer_sequence_end(buffers);
             ++it) {
            boost::asio::mutable_buffer b = *it;
            if (b.size() == 0) continue;
            return recv_into(b.data(), b.size(), ec);
        }
        return 0;
    }
    template <typename Buffers>
    std::size_t read_some(const Buffers& buffers) {
        boost::system::error_code ec;
        auto n = read_some(buffers, ec);
        if (ec) throw boost::system::system_error(ec);
        return n;
    }
    template <typename Buffers>
    std::size_t write_some(const Buffers& buffers, boost::system::error_code& ec) {
        ec = {};
        std::size_t total = 0;
        for (auto it = boost::asio::buffer_sequence_begin(buffers); it != boost::asio::buffer_sequence_end(buffers);
             ++it) {
            boost::asio::const_buffer b = *it;
            send(std::string_view(static_cast<const char*>(b.data()), b.size()));
            total += b.size();
        }
        return total;
    }
    template <typename Buffers>
    std::size_t write_some(const Buffers& buffers) {
        boost::system::error_code ec;
        return write_some(buffers, ec);
    }

    void send(std::string_view data) {
        while (!data.empty()) {
            const auto n = ::send(fd_, data.data(), data.size(), MSG_NOSIGNAL);
            if (n <= 0) throw std::runtime_error("send failed");
            data.remove_prefix(static_cast<std::size_t>(n));
        }
    }
    // Reads one chunk; error `eof` when the peer closed, `timed_out` when
    // nothing came in time.
    std::size_t recv_into(void* data, std::size_t size, boost::system::error_code& ec) {
        pollfd p{fd_, POLLIN, 0};
        if (::poll(&p, 1, static_cast<int>(timeout_.count())) <= 0) {
            ec = boost::asio::error::timed_out;
            return 0;
        }
        const auto n = ::recv(fd_, data, size, 0);
        if (n == 0) ec = boost::asio::error::eof;
        if (n < 0) ec = boost::system::error_code(errno, boost::system::system_category());
        return n > 0 ? static_cast<std::size_t>(n) : 0;
    }
    // True when the server closes (FIN or RST) within the timeout; data
    // still arriving before that is discarded.
    bool closed_by_peer() {
        char sink[4096];
        for (;;) {
            boost::system::error_code ec;
            recv_into(sink, sizeof sink, ec);
            if (ec == boost::asio::error::timed_out) return false;
            if (ec) return true;
        }
    }

private:
    int fd_ = -1;
    std::chrono::milliseconds timeout_;
};

}  // namespace kinesd::http::testing
