#pragma once
// Accepting connections and what every connection shares: the registry of
// open connections (for max_connections and stop()), the context a session
// needs, and the few header rules both protocols apply the same way.
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "http/request.h"
#include "http/server.h"

namespace boost::asio::ssl {
class context;
}

namespace kinesd::http {

// Whatever owns a socket: the sniffer, then an HTTP/1.1 or HTTP/2 session.
class connection {
public:
    virtual ~connection() = default;
    // Closes the connection. Safe from any thread: it posts to the
    // connection's own strand.
    virtual void shutdown() = 0;
    // Lets the requests already begun on the connection finish and be
    // answered, takes no new ones, then closes; a connection waiting for its
    // next request closes at once. Safe from any thread, like shutdown().
    virtual void close_when_idle() = 0;
};

// The open connections of one server. Each holds a slot for its whole life,
// across the hand-over from the sniffer to a session.
class connection_set : public std::enable_shared_from_this<connection_set> {
public:
    class slot {
    public:
        slot() = default;
        slot(slot&& other) noexcept;
        slot& operator=(slot&& other) noexcept;
        slot(const slot&) = delete;
        slot& operator=(const slot&) = delete;
        ~slot();
        // Makes stop() reach `owner`. False when the server is stopping,
        // in which case the owner should close at once.
        bool bind(std::weak_ptr<connection> owner);
        // True once the server drains: an owner bound after drain_all()
        // must wind down by itself.
        bool draining() const;

    private:
        friend class connection_set;
        slot(std::shared_ptr<connection_set> set, std::uint64_t id) : set_(std::move(set)), id_(id) {}
        void release();
        std::shared_ptr<connection_set> set_;
        std::uint64_t id_ = 0;
    };

    // A place for one more connection, or nothing when `limit` are open or
    // the server is stopping.
    std::optional<slot> open(std::size_t limit);
    std::size_t size() const;
    // Asks every open connection, and every one bound from now on, to close
    // once its requests in flight are answered.
    void drain_all();
    // Refuses further connections and shuts down the open ones.
    void shutdown_all();

private:
    std::vector<std::shared_ptr<connection>> live_owners();

    mutable std::mutex mutex_;
    bool draining_ = false;
    bool stopped_ = false;
    std::uint64_t next_id_ = 1;
    std::unordered_map<std::uint64_t, std::weak_ptr<connection>> live_;
};

// The request body bytes being received or processed at once, across every
// connection and both protocols. A body that does not fit is answered with a
// retryable 503 instead of being buffered, so many large concurrent puts
// cannot grow memory without bound.
class inflight_budget : public std::enable_shared_from_this<inflight_budget> {
public:
    // Holds bytes of the budget until released or destroyed (after the
    // reply is written, or when the connection dies). Move-only.
    class reservation {
    public:
        reservation() = default;
        reservation(reservation&& other) noexcept;
        reservation& operator=(reservation&& other) noexcept;
        reservation(const reservation&) = delete;
        reservation& operator=(const reservation&) = delete;
        ~reservation() { release(); }

        std::size_t bytes() const noexcept { return bytes_; }
        // Grows the reservation to `total` bytes; false (and unchanged) when
        // the budget cannot cover the difference. A default-built
        // reservation (no budget) always grows.
        bool grow_to(std::size_t total);
        void release();

    private:
        friend class inflight_budget;
        explicit reservation(std::shared_ptr<inflight_budget> budget) : budget_(std::move(budget)) {}
        std::shared_ptr<inflight_budget> budget_;
        std::size_t bytes_ = 0;
    };

    explicit inflight_budget(std::size_t limit) : limit_(limit) {}

    // An empty reservation drawing on this budget; grow_to() takes bytes.
    reservation open();
    std::size_t limit() const noexcept { return limit_; }
    std::size_t in_use() const noexcept { return used_.load(std::memory_order_relaxed); }

private:
    static constexpr std::int64_t report_interval_ms = 10'000;

    bool take(std::size_t bytes);
    void give_back(std::size_t bytes);
    void note_refused();

    const std::size_t limit_;
    std::atomic<std::size_t> used_{0};
    std::atomic<std::size_t> refused_since_report_{0};
    std::atomic<std::int64_t> last_report_ms_{0};
};

// Shared by the listener and every session; sessions may outlive the server
// object by a few handlers, so they hold it by shared_ptr.
struct connection_context {
    dispatcher& handler;
    server_options options;
    std::shared_ptr<inflight_budget> budget;
    // Null: no TLS, every connection is plain text.
    std::shared_ptr<boost::asio::ssl::context> tls;
};

// The retryable answer to a body that does not fit the in-flight budget, in
// the wire format the request's Content-Type names (JSON when unknown).
reply busy_reply(std::string_view content_type);

// IMF-fixdate, as the Date header wants: "Sun, 06 Nov 1994 08:49:37 GMT".
std::string http_date(std::chrono::system_clock::time_point when);
std::string http_date_now();
bool has_header(const reply& r, std::string_view name);
// Files one request header under its request field; `name` may be in any case.
void set_request_header(request& req, std::string_view name, std::string_view value);

class listener : public std::enable_shared_from_this<listener> {
public:
    listener(boost::asio::io_context& ioc, std::shared_ptr<const connection_context> context);
    // Binds and listens; throws std::runtime_error on failure. Returns the port.
    std::uint16_t open();
    void run();
    // Closes the acceptor (the kernel refuses new connections from then
    // on) and asks the open connections to close once their requests in
    // flight are answered.
    void drain();
    void stop();
    std::size_t open_connections() const { return connections_->size(); }

private:
    void close_acceptor();
    void do_accept();
    void on_accept(const boost::system::error_code& ec, boost::asio::ip::tcp::socket socket);
    void refuse(boost::asio::ip::tcp::socket& socket);
    void note_refused();
    void note_accepted();

    boost::asio::io_context& ioc_;
    std::shared_ptr<const connection_context> context_;
    std::shared_ptr<connection_set> connections_;
    boost::asio::ip::tcp::acceptor acceptor_;  // on its own strand
    boost::asio::steady_timer retry_timer_;
    bool stopped_ = false;
    // Refusals are logged once per burst: at the first and when it ends.
    std::size_t refused_in_burst_ = 0;
};

}  // namespace kinesd::http
