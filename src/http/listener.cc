#include "http/listener.h"

#include <boost/asio/dispatch.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core/bind_handler.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <ctime>
#include <stdexcept>
#include <vector>

#include "codec/codec.h"
#include "http/h2_session.h"
#include "http/session.h"
#include "http/stream.h"
#include "http/tls_context.h"
#include "kinesd/api_error.h"

namespace kinesd::http {

namespace net = boost::asio;
namespace beast = boost::beast;
using boost::system::error_code;
using tcp = net::ip::tcp;

// ---- connection_set ---------------------------------------------------------

connection_set::slot::slot(slot&& other) noexcept : set_(std::move(other.set_)), id_(other.id_) {
    other.id_ = 0;
}

connection_set::slot& connection_set::slot::operator=(slot&& other) noexcept {
    if (this != &other) {
        release();
        set_ = std::move(other.set_);
        id_ = other.id_;
        other.id_ = 0;
    }
    return *this;
}

connection_set::slot::~slot() { release(); }

void connection_set::slot::release() {
    if (!set_) return;
    {
        std::lock_guard lock(set_->mutex_);
        set_->live_.erase(id_);
    }
    set_.reset();
}

bool connection_set::slot::bind(std::weak_ptr<connection> owner) {
    if (!set_) return false;
    std::lock_guard lock(set_->mutex_);
    if (set_->stopped_) return false;
    set_->live_[id_] = std::move(owner);
    return true;
}

bool connection_set::slot::draining() const {
    if (!set_) return false;
    std::lock_guard lock(set_->mutex_);
    return set_->draining_;
}

std::optional<connection_set::slot> connection_set::open(std::size_t limit) {
    std::lock_guard lock(mutex_);
    if (stopped_ || live_.size() >= limit) return std::nullopt;
    const auto id = next_id_++;
    live_.emplace(id, std::weak_ptr<connection>{});
    return slot(shared_from_this(), id);
}

std::size_t connection_set::size() const {
    std::lock_guard lock(mutex_);
    return live_.size();
}

// Called with the lock held.
std::vector<std::shared_ptr<connection>> connection_set::live_owners() {
    std::vector<std::shared_ptr<connection>> open;
    for (auto& [id, weak] : live_)
        if (auto c = weak.lock()) open.push_back(std::move(c));
    return open;
}

void connection_set::drain_all() {
    std::vector<std::shared_ptr<connection>> open;
    {
        std::lock_guard lock(mutex_);
        draining_ = true;
        open = live_owners();
    }
    for (auto& c : open) c->close_when_idle();
}

void connection_set::shutdown_all() {
    std::vector<std::shared_ptr<connection>> open;
    {
        std::lock_guard lock(mutex_);
        stopped_ = true;
        open = live_owners();
    }
    // Outside the lock: dropping the last reference here runs a destructor
    // that takes the lock to release its slot.
    for (auto& c : open) c->shutdown();
}

// ---- in-flight budget -------------------------------------------------------

inflight_budget::reservation::reservation(reservation&& other) noexcept
    : budget_(std::move(other.budget_)), bytes_(other.bytes_) {
    other.bytes_ = 0;
}

inflight_budget::reservation& inflight_budget::reservation::operator=(reservation&& other) noexcept {
    if (this != &other) {
        release();
        budget_ = std::move(other.budget_);
        bytes_ = other.bytes_;
        other.bytes_ = 0;
    }
    return *this;
}

bool inflight_budget::reservation::grow_to(std::size_t total) {
    if (total <= bytes_) return true;
    if (budget_ && !budget_->take(total - bytes_)) return false;
    bytes_ = total;
    return true;
}

void inflight_budget::reservation::release() {
    if (budget_ && bytes_ > 0) budget_->give_back(bytes_);
    bytes_ = 0;
}

inflight_budget::reservation inflight_budget::open() { return reservation(shared_from_this()); }

bool inflight_budget::take(std::size_t bytes) {
    auto used = used_.load(std::memory_order_relaxed);
    do {
        if (bytes > limit_ || used > limit_ - bytes) {
            note_refused();
            return false;
        }
    } while (!used_.compare_exchange_weak(used, used + bytes, std::memory_order_relaxed));
    return true;
}

// Under sustained overload requests alternate between fitting and not, so a
// line per change of state would still be a line per request: report at
// most once per interval, with the count since the last report.
void inflight_budget::note_refused() {
    using namespace std::chrono;
    refused_since_report_.fetch_add(1, std::memory_order_relaxed);
    const auto now = duration_cast<milliseconds>(steady_clock::now().time_since_epoch()).count();
    auto last = last_report_ms_.load(std::memory_order_relaxed);
    if (last != 0 && now - last < report_interval_ms) return;
    if (!last_report_ms_.compare_exchange_strong(last, now, std::memory_order_relaxed)) return;
    spdlog::warn("in-flight request bytes limit ({} bytes) reached: {} request(s) answered 503 since the last report",
                 limit_, refused_since_report_.exchange(0, std::memory_order_relaxed));
}

void inflight_budget::give_back(std::size_t bytes) { used_.fetch_sub(bytes, std::memory_order_relaxed); }

reply busy_reply(std::string_view content_type) {
    const auto format = codec::format_from_content_type(content_type).value_or(codec::wire_format::json);
    const auto error = api_error::service_unavailable("The server is busy receiving other requests. Retry later.");
    reply r;
    r.status = static_cast<unsigned>(error.status());
    r.headers.emplace_back("Content-Type", codec::content_type(format));
    r.headers.emplace_back("x-amzn-ErrorType", error.type());
    r.body = codec::encode_error(format, error);
    return r;
}

// ---- shared header rules ----------------------------------------------------

std::string http_date(std::chrono::system_clock::time_point when) {
    static constexpr const char* days[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
    static constexpr const char* months[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                             "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    const std::time_t t = std::chrono::system_clock::to_time_t(when);
    std::tm tm{};
    gmtime_r(&t, &tm);
    char out[40];
    std::snprintf(out, sizeof out, "%s, %02d %s %04d %02d:%02d:%02d GMT", days[tm.tm_wday], tm.tm_mday,
                  months[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
    return out;
}

std::string http_date_now() {
    // Every reply carries the date; formatting it once a second per thread
    // instead of per reply keeps snprintf off the hot path.
    thread_local std::time_t cached_second = -1;
    thread_local std::string cached;
    const auto now = std::chrono::system_clock::now();
    const std::time_t second = std::chrono::system_clock::to_time_t(now);
    if (second != cached_second) {
        cached = http_date(now);
        cached_second = second;
    }
    return cached;
}

namespace {
bool iequals(std::string_view a, std::string_view b) {
    return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
               return std::tolower(static_cast<unsigned char>(x)) == std::tolower(static_cast<unsigned char>(y));
           });
}
}  // namespace

bool has_header(const reply& r, std::string_view name) {
    return std::any_of(r.headers.begin(), r.headers.end(), [&](const auto& h) { return iequals(h.first, name); });
}

void set_request_header(request& req, std::string_view name, std::string_view value) {
    req.headers.emplace_back(name, value);
    auto is = [&](std::string_view n) { return iequals(name, n); };
    if (is("x-amz-target")) {
        req.amz_target = value;
    } else if (is("content-type")) {
        req.content_type = value;
    } else if (is("authorization")) {
        req.authorization = value;
    } else if (is("x-amz-date")) {
        req.amz_date = value;
    } else if (is("date")) {
        // Date only stands in when X-Amz-Date is absent, whatever the order.
        if (req.amz_date.empty()) req.amz_date = value;
    } else if (is("origin")) {
        req.origin = value;
    } else if (is("access-control-request-headers")) {
        req.access_control_request_headers = value;
    } else if (is("access-control-request-method")) {
        req.access_control_request_method = value;
    } else if (is("host")) {
        if (req.host.empty()) req.host = value;
    }
}

// ---- sniffer ----------------------------------------------------------------

namespace {

// What an HTTP/2 client with prior knowledge sends first (RFC 9113 §3.4).
constexpr std::string_view h2_preface = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
// The first byte of a TLS handshake record (RFC 8446 §5.1); no HTTP
// request starts with it.
constexpr unsigned char tls_handshake = 0x16;

// Reads just enough of a new connection to tell TLS from plain text and,
// in either, HTTP/2 from HTTP/1.1; then hands the stream and the bytes read
// so far to the right session. The TLS handshake runs here, on the
// connection's strand, within the read timeout.
class sniffer : public connection, public std::enable_shared_from_this<sniffer> {
public:
    sniffer(tcp::socket socket, std::shared_ptr<const connection_context> context, connection_set::slot slot)
        : context_(std::move(context)), slot_(std::move(slot)), stream_(beast::tcp_stream(std::move(socket))) {}

    void run() {
        if (!slot_.bind(weak_from_this())) {
            close();
            return;
        }
        stream_.expires_after(context_->options.idle_timeout);
        read();
        if (slot_.draining()) begin_drain();
    }

    void shutdown() override {
        net::post(stream_.get_executor(), [self = shared_from_this()] { self->close(); });
    }

    void close_when_idle() override {
        net::post(stream_.get_executor(), [self = shared_from_this()] { self->begin_drain(); });
    }

private:
    void read() {
        stream_.async_read_some(buffer_.prepare(4096),
                                beast::bind_front_handler(&sniffer::on_read, shared_from_this()));
    }

    // A client that has not sent a byte yet has no request to finish: its
    // read is cancelled, unless bytes arrived meanwhile (see on_read).
    void begin_drain() {
        if (done_ || draining_) return;
        draining_ = true;
        if (!started_) stream_.cancel();
    }

    void on_read(const error_code& ec, std::size_t n) {
        if (done_) return;
        if (ec) {
            if (ec == net::error::operation_aborted && draining_ && stream_.bytes_waiting()) {
                read();
                return;
            }
            close();
            return;
        }
        buffer_.commit(n);
        // Once a client has started talking it must finish its preface (or
        // its handshake) within the read timeout, however slowly it dribbles.
        if (!started_) {
            started_ = true;
            stream_.expires_after(context_->options.read_timeout);
            if (!stream_.is_tls() && !tls_or_plain()) return;
        }
        sniff();
    }

    // False when the connection was handed to the handshake or closed.
    bool tls_or_plain() {
        const auto first = static_cast<const unsigned char*>(buffer_.data().data())[0];
        if (first == tls_handshake && context_->tls) {
            start_handshake();
            return false;
        }
        if (context_->options.tls_only) {
            spdlog::debug("plain-text connection from {} refused: TLS only", peer_text(stream_));
            close();
            return false;
        }
        return true;
    }

    void start_handshake() {
        stream_.start_tls(*context_->tls);
        stream_.tls().async_handshake(
            net::ssl::stream_base::server, buffer_.data(),
            [self = shared_from_this()](const error_code& ec, std::size_t) { self->on_handshake(ec); });
    }

    void on_handshake(const error_code& ec) {
        if (done_) return;
        if (ec) {
            spdlog::debug("TLS handshake with {} failed: {}", peer_text(stream_), ec.message());
            close();
            return;
        }
        // The bytes read so far went to the handshake; what follows is
        // read decrypted.
        buffer_.consume(buffer_.size());
        const auto protocol = alpn_protocol(stream_.tls().native_handle());
        spdlog::debug("TLS with {}: {}, ALPN {}", peer_text(stream_), SSL_get_version(stream_.tls().native_handle()),
                      protocol.empty() ? std::string_view("none") : protocol);
        if (protocol == "h2") {
            hand_over<h2_session>();
        } else if (protocol == "http/1.1") {
            hand_over<session>();
        } else {
            // No ALPN: the Java SDK's Netty client speaks HTTP/2 with prior
            // knowledge inside TLS, so the plaintext rules apply.
            if (draining_) {
                close();
                return;
            }
            started_ = false;
            stream_.expires_after(context_->options.idle_timeout);
            read();
        }
    }

    void sniff() {
        const auto* p = static_cast<const char*>(buffer_.data().data());
        const std::string_view seen(p, buffer_.size());
        const auto common = std::min(seen.size(), h2_preface.size());
        if (seen.substr(0, common) != h2_preface.substr(0, common)) {
            hand_over<session>();
        } else if (seen.size() >= h2_preface.size()) {
            hand_over<h2_session>();
        } else {
            read();
        }
    }

    template <typename Session>
    void hand_over() {
        done_ = true;
        stream_.expires_never();
        std::make_shared<Session>(std::move(stream_), std::move(buffer_), context_, std::move(slot_))->run();
    }

    void close() {
        if (done_) return;
        done_ = true;
        // A client closed here never finished its handshake or preface:
        // no TLS goodbye, the socket just goes.
        error_code ignored;
        stream_.socket().shutdown(tcp::socket::shutdown_both, ignored);
        stream_.tcp().close();
    }

    std::shared_ptr<const connection_context> context_;
    connection_set::slot slot_;
    connection_stream stream_;
    beast::flat_buffer buffer_;
    bool done_ = false;  // handed over or closed: stream_ is no longer ours
    bool started_ = false;
    bool draining_ = false;
};

}  // namespace

// ---- listener ---------------------------------------------------------------

listener::listener(net::io_context& ioc, std::shared_ptr<const connection_context> context)
    : ioc_(ioc),
      context_(std::move(context)),
      connections_(std::make_shared<connection_set>()),
      acceptor_(net::make_strand(ioc)),
      retry_timer_(acceptor_.get_executor()) {}

std::uint16_t listener::open() {
    const auto& host = context_->options.host;
    const auto port = context_->options.port;
    auto fail = [&](const std::string& what, const error_code& ec) {
        throw std::runtime_error("cannot listen on " + host + ":" + std::to_string(port) + ": " + what +
                                 (ec ? ": " + ec.message() : std::string()));
    };
    error_code ec;
    tcp::endpoint endpoint;
    const auto address = net::ip::make_address(host, ec);
    if (!ec) {
        endpoint = tcp::endpoint(address, port);
    } else {
        tcp::resolver resolver(ioc_);
        auto results = resolver.resolve(host, std::to_string(port), tcp::resolver::passive, ec);
        if (ec || results.empty()) fail("cannot resolve host", ec);
        endpoint = results.begin()->endpoint();
    }
    if (acceptor_.open(endpoint.protocol(), ec); ec) fail("open", ec);
    // Lets a restarted server bind while old connections sit in TIME_WAIT.
    if (acceptor_.set_option(net::socket_base::reuse_address(true), ec); ec) fail("set_option", ec);
    if (acceptor_.bind(endpoint, ec); ec) fail("bind", ec);
    if (acceptor_.listen(net::socket_base::max_listen_connections, ec); ec) fail("listen", ec);
    const auto bound = acceptor_.local_endpoint(ec);
    if (ec) fail("local_endpoint", ec);
    return bound.port();
}

void listener::run() {
    net::dispatch(acceptor_.get_executor(), [self = shared_from_this()] { self->do_accept(); });
}

void listener::close_acceptor() {
    net::post(acceptor_.get_executor(), [self = shared_from_this()] {
        self->stopped_ = true;
        error_code ignored;
        self->acceptor_.close(ignored);
        self->retry_timer_.cancel();
    });
}

void listener::drain() {
    close_acceptor();
    connections_->drain_all();
}

void listener::stop() {
    close_acceptor();
    connections_->shutdown_all();
}

void listener::do_accept() {
    if (stopped_) return;
    // Each connection gets its own strand, so its handlers never run
    // concurrently while different connections use all threads.
    acceptor_.async_accept(net::make_strand(ioc_),
                           beast::bind_front_handler(&listener::on_accept, shared_from_this()));
}

void listener::on_accept(const error_code& ec, tcp::socket socket) {
    if (stopped_ || ec == net::error::operation_aborted) return;
    if (ec) {
        // Typically EMFILE: pause instead of spinning on a failing accept.
        spdlog::warn("accept failed: {}", ec.message());
        retry_timer_.expires_after(std::chrono::milliseconds(100));
        retry_timer_.async_wait([self = shared_from_this()](const error_code& wait_ec) {
            if (!wait_ec) self->do_accept();
        });
        return;
    }
    auto slot = connections_->open(context_->options.max_connections);
    if (!slot) {
        note_refused();
        refuse(socket);
    } else {
        note_accepted();
        error_code ignored;
        // Replies are written in one go; Nagle would only delay their tail.
        socket.set_option(tcp::no_delay(true), ignored);
        auto executor = socket.get_executor();
        auto s = std::make_shared<sniffer>(std::move(socket), context_, std::move(*slot));
        // Run on the connection's strand, where its shutdown() will run too.
        net::dispatch(executor, [s] { s->run(); });
    }
    do_accept();
}

// One non-blocking write into the empty send buffer of a fresh socket: an
// HTTP/1.1 client reads a retryable 503 instead of a bare reset, and the
// listener never waits on a client it is refusing.
void listener::refuse(tcp::socket& socket) {
    static const std::string response = [] {
        const std::string body =
            R"({"__type":"ServiceUnavailableException","message":"Too many open connections. Retry later."})";
        return "HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/x-amz-json-1.1\r\n"
               "x-amzn-ErrorType: ServiceUnavailableException\r\nConnection: close\r\nContent-Length: " +
               std::to_string(body.size()) + "\r\n\r\n" + body;
    }();
    error_code ignored;
    socket.non_blocking(true, ignored);
    socket.write_some(net::buffer(response), ignored);
    socket.shutdown(tcp::socket::shutdown_both, ignored);
    socket.close(ignored);
}

void listener::note_refused() {
    if (refused_in_burst_++ == 0)
        spdlog::warn("connection limit ({}) reached; refusing new connections", context_->options.max_connections);
}

void listener::note_accepted() {
    if (refused_in_burst_ == 0) return;
    spdlog::info("accepting connections again after refusing {}", refused_in_burst_);
    refused_in_burst_ = 0;
}

}  // namespace kinesd::http
