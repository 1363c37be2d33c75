#include "http/session.h"

#include <boost/asio/post.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/bind_handler.hpp>
#include <boost/beast/core/string.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/status.hpp>
#include <spdlog/spdlog.h>

#include <array>
#include <cstdio>
#include <string_view>

#include "common/random.h"

namespace kinesd::http {
namespace {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using boost::system::error_code;

// curl waits a whole second for this before sending a body over 1 KiB, and
// Beast never sends it on its own.
constexpr std::string_view continue_line = "HTTP/1.1 100 Continue\r\n\r\n";

// How long the too-large path keeps draining an unwanted body after answering.
constexpr auto linger_time = std::chrono::seconds(2);
// What an idle connection reads its next request into: most requests fit,
// and 10,000 idle keep-alive connections should not hold 16 KiB each.
constexpr std::size_t first_read_size = 4096;
// A buffer grown by a large body is given back when the connection goes idle.
constexpr std::size_t idle_buffer_keep = 64 * 1024;

bool is_parse_error(const error_code& ec) {
    return &ec.category() == &bhttp::make_error_code(bhttp::error::bad_method).category() &&
           ec != bhttp::error::end_of_stream && ec != bhttp::error::partial_message;
}

reply plain_reply(unsigned status) {
    reply r;
    r.status = status;
    return r;
}

}  // namespace

session::session(connection_stream stream, beast::flat_buffer buffer,
                 std::shared_ptr<const connection_context> context, connection_set::slot slot)
    : context_(std::move(context)),
      slot_(std::move(slot)),
      stream_(std::move(stream)),
      buffer_(std::move(buffer)),
      executor_(stream_.get_executor()),
      peer_(peer_text(stream_)) {}

session::~session() { spdlog::debug("http/1.1 connection from {} closed", peer_); }

void session::run() {
    spdlog::debug("http/1.1 connection from {}{}", peer_, stream_.is_tls() ? " (TLS)" : "");
    if (!slot_.bind(weak_from_this())) {
        close();
        return;
    }
    // Bytes the sniffer read are a request begun: it is still answered.
    if (slot_.draining()) draining_ = true;
    wait_for_request();
}

void session::shutdown() {
    net::post(executor_, [self = shared_from_this()] { self->close(); });
}

void session::close_when_idle() {
    net::post(executor_, [self = shared_from_this()] { self->begin_drain(); });
}

// A request being read, handled or answered goes on, and its reply says
// Connection: close. A connection between requests closes: its read is
// cancelled, unless the next request's bytes arrived meanwhile (see
// on_first_bytes).
void session::begin_drain() {
    if (closed_ || draining_) return;
    draining_ = true;
    if (idle_) stream_.cancel();
}

// Between requests the idle timeout applies; once a request has started,
// the shorter read timeout does.
void session::wait_for_request() {
    if (buffer_.size() > 0) {
        read_header();
        return;
    }
    if (draining_) {
        stream_.shutdown_send();
        close();
        return;
    }
    if (buffer_.capacity() > idle_buffer_keep) buffer_.shrink_to_fit();
    stream_.release_idle_memory();
    stream_.expires_after(context_->options.idle_timeout);
    idle_ = true;
    stream_.async_read_some(buffer_.prepare(first_read_size),
                            beast::bind_front_handler(&session::on_first_bytes, shared_from_this()));
}

void session::on_first_bytes(const error_code& ec, std::size_t n) {
    idle_ = false;
    if (ec) {
        // A request sent before the drain began still gets its answer.
        if (ec == net::error::operation_aborted && draining_ && !closed_ && stream_.bytes_waiting()) {
            stream_.async_read_some(buffer_.prepare(first_read_size),
                                    beast::bind_front_handler(&session::on_first_bytes, shared_from_this()));
            return;
        }
        close();
        return;
    }
    buffer_.commit(n);
    read_header();
}

void session::read_header() {
    parser_.emplace();
    parser_->header_limit(context_->options.header_limit);
    parser_->body_limit(context_->handler.body_limit());
    request_deadline_ = std::chrono::steady_clock::now() + context_->options.read_timeout;
    stream_.expires_at(request_deadline_);
    bhttp::async_read_header(stream_, buffer_, *parser_,
                             [self = shared_from_this()](const error_code& ec, std::size_t) {
                                 self->on_header(ec);
                             });
}

void session::on_header(const error_code& ec) {
    if (closed_) return;
    // A declared Content-Length above the limit fails here, before any body
    // byte is read.
    if (ec == bhttp::error::body_limit) {
        reply_and_close(context_->handler.too_large_reply());
        return;
    }
    if (ec == bhttp::error::header_limit) {
        reply_and_close(plain_reply(431));
        return;
    }
    if (is_parse_error(ec)) {
        spdlog::debug("http/1.1 bad request from {}: {}", peer_, ec.message());
        reply_and_close(plain_reply(400));
        return;
    }
    if (ec) {
        close();
        return;
    }
    if (!reserve_body()) return;
    if (parser_->is_done()) {
        dispatch();
        return;
    }
    const auto& msg = parser_->get();
    if (msg.version() >= 11 && beast::iequals(msg[bhttp::field::expect], "100-continue")) {
        send_continue();
        return;
    }
    read_body();
}

// A declared length is reserved whole before any body byte is read; a
// chunked body is reserved as it arrives (on_body_part).
bool session::reserve_body() {
    const auto declared = parser_->content_length();
    const auto needed = declared ? static_cast<std::size_t>(*declared) : parser_->get().body().size();
    if (reservation_.bytes() == 0) reservation_ = context_->budget->open();
    if (reservation_.grow_to(needed)) return true;
    refuse_busy();
    return false;
}

void session::refuse_busy() {
    const auto content_type = parser_ ? std::string(parser_->get()[bhttp::field::content_type]) : std::string();
    reservation_.release();
    // The unread body is drained, not stored, for as long as a request may
    // take, so that the client gets to read the 503 instead of a reset.
    linger_for_ = context_->options.read_timeout;
    reply_and_close(busy_reply(content_type));
}

void session::send_continue() {
    stream_.expires_at(request_deadline_);
    net::async_write(stream_, net::buffer(continue_line.data(), continue_line.size()),
                     [self = shared_from_this()](const error_code& ec, std::size_t) {
                         if (ec) {
                             self->close();
                             return;
                         }
                         self->read_body();
                     });
}

void session::read_body() {
    stream_.expires_at(request_deadline_);
    bhttp::async_read_some(stream_, buffer_, *parser_, [self = shared_from_this()](const error_code& ec, std::size_t) {
        self->on_body_part(ec);
    });
}

void session::on_body_part(const error_code& ec) {
    if (closed_) return;
    if (ec || parser_->is_done()) {
        on_body(ec);
        return;
    }
    if (!reserve_body()) return;
    bhttp::async_read_some(stream_, buffer_, *parser_, [self = shared_from_this()](const error_code& ec, std::size_t) {
        self->on_body_part(ec);
    });
}

void session::on_body(const error_code& ec) {
    if (closed_) return;
    // Chunked bodies have no declared length, so the limit trips mid-body.
    if (ec == bhttp::error::body_limit) {
        reply_and_close(context_->handler.too_large_reply());
        return;
    }
    if (is_parse_error(ec)) {
        spdlog::debug("http/1.1 bad request body from {}: {}", peer_, ec.message());
        reply_and_close(plain_reply(400));
        return;
    }
    if (ec) {
        close();
        return;
    }
    if (!reserve_body()) return;
    dispatch();
}

void session::dispatch() {
    auto& msg = parser_->get();
    request req;
    req.method = std::string(msg.method_string());
    req.path = std::string(msg.target());
    for (const auto& field : msg) {
        const auto name = field.name_string();
        const auto value = field.value();
        set_request_header(req, {name.data(), name.size()}, {value.data(), value.size()});
    }
    req.body = std::move(msg.body());
    keep_alive_ = msg.keep_alive();
    version_ = msg.version();
    parser_.reset();

    const auto serial = ++serial_;
    awaiting_reply_ = true;
    // The handler keeps the session alive until the reply is written or
    // dropped, and hops back onto the strand whatever thread calls it.
    auto done = [self = shared_from_this(), serial](reply r) {
        net::post(self->executor_, [self, serial, r = std::move(r)]() mutable {
            self->on_reply(serial, std::move(r));
        });
    };
    try {
        context_->handler.handle(std::move(req), std::move(done));
    } catch (const std::exception& e) {
        spdlog::error("dispatcher failed: {}", e.what());
        on_reply(serial, plain_reply(500));
    }
}

void session::on_reply(std::uint64_t serial, reply r) {
    if (closed_ || !awaiting_reply_ || serial != serial_) return;
    awaiting_reply_ = false;
    write_response(std::move(r), keep_alive_ && !draining_);
}

void session::reply_and_close(reply r) {
    if (parser_) version_ = parser_->get().version();
    parser_.reset();
    linger_after_write_ = true;
    if (linger_for_.count() == 0) linger_for_ = std::chrono::duration_cast<std::chrono::milliseconds>(linger_time);
    write_response(std::move(r), false);
}

// The head is written by hand into one string: Beast's message and
// serializer (a header tree, then a dozen-piece buffer sequence walked per
// write) cost more CPU per reply than a PutRecord's own work.
void session::write_response(reply r, bool keep_alive) {
    if (r.stream) {
        write_stream_head(std::move(r), keep_alive);
        return;
    }
    auto& head = response_head_;
    auto field = [&head](std::string_view name, std::string_view value) {
        head.append(name).append(": ").append(value).append("\r\n");
    };
    head.clear();
    head.append(version_ == 10 ? "HTTP/1.0 " : "HTTP/1.1 ").append(std::to_string(r.status)).push_back(' ');
    const auto reason = bhttp::obsolete_reason(bhttp::int_to_status(r.status));
    head.append(reason.data(), reason.size()).append("\r\n");
    for (const auto& [name, value] : r.headers) field(name, value);
    if (!has_header(r, "x-amzn-RequestId")) field("x-amzn-RequestId", id_uuid());
    field("Date", http_date_now());
    field("Content-Length", std::to_string(r.body.size()));
    // HTTP/1.1 keeps a connection open unless told; HTTP/1.0 closes it
    // unless told.
    if (version_ >= 11 && !keep_alive) field("Connection", "close");
    if (version_ < 11 && keep_alive) field("Connection", "keep-alive");
    head.append("\r\n");
    response_body_ = std::move(r.body);
    response_keep_ = std::move(r.keep);
    stream_.expires_after(context_->options.read_timeout);
    const std::array<net::const_buffer, 2> buffers{net::buffer(response_head_), net::buffer(response_body_)};
    net::async_write(stream_, buffers, [self = shared_from_this(), keep_alive](const error_code& ec, std::size_t) {
        self->on_write(ec, !keep_alive);
    });
}

void session::write_stream_head(reply r, bool) {
    // The connection ends with the stream: while it runs, a read stays
    // pending to notice a client that goes away (and holds the session while
    // it waits for the producer), and a second read cannot follow it.
    const bool keep_alive = false;
    auto& head = response_head_;
    head.clear();
    head.append(version_ == 10 ? "HTTP/1.0 " : "HTTP/1.1 ").append(std::to_string(r.status)).append(" OK\r\n");
    for (const auto& [name, value] : r.headers) head.append(name).append(": ").append(value).append("\r\n");
    head.append("Date: ").append(http_date_now()).append("\r\n");
    if (version_ >= 11) head.append("Transfer-Encoding: chunked\r\n");
    head.append("Connection: close\r\n");
    head.append("\r\n");
    // The request's bytes are no longer needed; a stream may run for minutes.
    reservation_.release();
    stream_body_ = std::move(r.stream);
    stream_keep_alive_ = keep_alive;
    stream_waiting_ = false;
    stream_ended_ = false;
    stream_body_->start([weak = weak_from_this()] {
        if (auto self = weak.lock()) net::post(self->executor_, [self] { self->on_stream_wake(); });
    });
    watch_client();
    stream_.expires_after(context_->options.read_timeout);
    net::async_write(stream_, net::buffer(response_head_), [self = shared_from_this()](const error_code& ec, std::size_t) {
        self->on_stream_write(ec);
    });
}

// On the socket itself, so that the stream's write timeouts do not apply to
// it. What a client sends during the stream is read and dropped.
void session::watch_client() {
    stream_.async_read_untimed(net::buffer(watch_buffer_), [self = shared_from_this()](const error_code& ec, std::size_t) {
        if (ec || self->closed_) {
            self->close();
            return;
        }
        self->watch_client();
    });
}

void session::on_stream_write(const error_code& ec) {
    if (closed_) return;
    if (ec) {
        close();
        return;
    }
    if (stream_ended_) {
        stream_body_.reset();
        std::string().swap(stream_chunk_);
        on_write(ec, !stream_keep_alive_);
        return;
    }
    pump_stream();
}

void session::on_stream_wake() {
    if (closed_ || !stream_body_ || !stream_waiting_) return;
    stream_waiting_ = false;
    pump_stream();
}

void session::pump_stream() {
    // The data is pulled into an empty buffer, so the producer can hand its
    // event over without a copy; the chunk's size line and ending are
    // written around it as buffers of their own.
    stream_chunk_.clear();
    const auto state = stream_body_->pull(stream_chunk_);
    if (stream_chunk_.empty() && state == actions::body_stream::pulled::wait) {
        // No timer runs while nothing is written: a quiet stream is not a
        // stalled client. The producer's heartbeats keep it honest.
        stream_.expires_never();
        stream_waiting_ = true;
        return;
    }
    stream_line_.clear();
    stream_trailer_.clear();
    if (version_ >= 11) {
        if (!stream_chunk_.empty()) {
            char line[32];
            const int n = std::snprintf(line, sizeof line, "%zx\r\n", stream_chunk_.size());
            stream_line_.assign(line, std::size_t(n));
            stream_trailer_ = "\r\n";
        }
        if (state == actions::body_stream::pulled::end) stream_trailer_.append("0\r\n\r\n");
    }
    if (state == actions::body_stream::pulled::end) stream_ended_ = true;
    stream_.expires_after(context_->options.read_timeout);
    const std::array<net::const_buffer, 3> buffers{net::buffer(stream_line_), net::buffer(stream_chunk_),
                                                   net::buffer(stream_trailer_)};
    net::async_write(stream_, buffers,
                     [self = shared_from_this()](const error_code& ec, std::size_t) { self->on_stream_write(ec); });
}

void session::on_write(const error_code& ec, bool close_after) {
    if (closed_) return;
    // The reply is out: its request no longer holds memory.
    reservation_.release();
    // Freed now, not when the next reply replaces it: a GetRecords answer of
    // several MiB would otherwise stay allocated beside the next one.
    std::string().swap(response_body_);
    response_keep_.reset();
    if (ec) {
        close();
        return;
    }
    if (linger_after_write_) {
        linger();
        return;
    }
    if (close_after) {
        stream_.shutdown_send();
        close();
        return;
    }
    wait_for_request();
}

void session::linger() {
    stream_.shutdown_send();
    buffer_.clear();
    buffer_.shrink_to_fit();
    stream_.expires_after(linger_for_);
    drain();
}

void session::drain() {
    stream_.async_read_some(buffer_.prepare(64 * 1024),
                            [self = shared_from_this()](const error_code& ec, std::size_t) {
                                if (ec || self->closed_) {
                                    self->close();
                                    return;
                                }
                                self->drain();
                            });
}

void session::close() {
    if (closed_) return;
    closed_ = true;
    if (stream_body_) {
        stream_body_->cancel();
        stream_body_.reset();
    }
    stream_.close(shared_from_this());
}

}  // namespace kinesd::http
