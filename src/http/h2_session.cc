#include "http/h2_session.h"

#include <boost/asio/post.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/bind_handler.hpp>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cstring>
#include <optional>
#include <string_view>

#include "common/random.h"

namespace kinesd::http {
namespace {

namespace net = boost::asio;
namespace beast = boost::beast;
using boost::system::error_code;
using clock_type = std::chrono::steady_clock;

// How long a GOAWAY gets to reach the client before the socket closes.
constexpr auto goaway_grace = std::chrono::seconds(1);
// Output is gathered up to this size before one socket write.
constexpr std::size_t write_batch = 256 * 1024;

std::string lowercase(std::string_view s) {
    std::string out(s);
    std::transform(out.begin(), out.end(), out.begin(), [](unsigned char c) { return std::tolower(c); });
    return out;
}

// Connection-specific headers are forbidden in HTTP/2 (RFC 9113 §8.2.2);
// the length and date are set by the session itself.
bool skipped_in_h2(std::string_view lower) {
    return lower == "connection" || lower == "keep-alive" || lower == "proxy-connection" ||
           lower == "transfer-encoding" || lower == "upgrade" || lower == "content-length" || lower == "date";
}

h2_session* self_of(void* user) { return static_cast<h2_session*>(user); }

}  // namespace

h2_session::h2_session(connection_stream stream, beast::flat_buffer preface,
                       std::shared_ptr<const connection_context> context, connection_set::slot slot)
    : context_(std::move(context)),
      slot_(std::move(slot)),
      stream_(std::move(stream)),
      preface_(std::move(preface)),
      executor_(stream_.get_executor()),
      peer_(peer_text(stream_)),
      name_(stream_.is_tls() ? "h2" : "h2c"),
      idle_timer_(executor_),
      last_activity_(clock_type::now()) {}

h2_session::~h2_session() { spdlog::debug("{} connection from {} closed", name_, peer_); }

void h2_session::run() {
    spdlog::debug("{} connection from {}", name_, peer_);
    if (!slot_.bind(weak_from_this())) {
        close();
        return;
    }
    nghttp2_session_callbacks* callbacks = nullptr;
    nghttp2_session_callbacks_new(&callbacks);
    nghttp2_session_callbacks_set_on_begin_headers_callback(callbacks, &h2_session::on_begin_headers);
    nghttp2_session_callbacks_set_on_header_callback(callbacks, &h2_session::on_header);
    nghttp2_session_callbacks_set_on_data_chunk_recv_callback(callbacks, &h2_session::on_data_chunk);
    nghttp2_session_callbacks_set_on_frame_recv_callback(callbacks, &h2_session::on_frame_recv);
    nghttp2_session_callbacks_set_on_frame_send_callback(callbacks, &h2_session::on_frame_send);
    nghttp2_session_callbacks_set_on_stream_close_callback(callbacks, &h2_session::on_stream_close);
    nghttp2_session* raw = nullptr;
    const int rv = nghttp2_session_server_new(&raw, callbacks, this);
    nghttp2_session_callbacks_del(callbacks);
    if (rv != 0) {
        spdlog::error("nghttp2_session_server_new: {}", nghttp2_strerror(rv));
        close();
        return;
    }
    h2_.reset(raw);

    const auto& options = context_->options;
    const nghttp2_settings_entry settings[] = {
        {NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS, options.h2_max_concurrent_streams},
        {NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, options.h2_initial_window},
        {NGHTTP2_SETTINGS_MAX_HEADER_LIST_SIZE, options.header_limit},
    };
    nghttp2_submit_settings(h2_.get(), NGHTTP2_FLAG_NONE, settings, std::size(settings));
    // The SETTINGS above only widen stream windows; the connection window
    // starts at 64 KiB and must be raised separately.
    nghttp2_session_set_local_window_size(h2_.get(), NGHTTP2_FLAG_NONE, 0,
                                          static_cast<std::int32_t>(options.h2_initial_window));

    const auto bytes = preface_.data();
    if (!feed(bytes.data(), bytes.size())) return;
    preface_.clear();
    if (slot_.draining()) begin_drain();
    do_write();
    if (closed_) return;
    do_read();
    // The first check comes early enough to catch a request that the
    // preface started but that trickles in.
    arm_idle_timer(std::min(options.idle_timeout, options.read_timeout));
}

void h2_session::shutdown() {
    net::post(executor_, [self = shared_from_this()] { self->terminate(); });
}

void h2_session::close_when_idle() {
    net::post(executor_, [self = shared_from_this()] {
        self->begin_drain();
        self->do_write();
    });
}

// The GOAWAY's last stream id is the last stream whose headers arrived:
// those streams go on and are answered, and nghttp2 ignores any later one,
// which the client knows it may retry elsewhere (RFC 9113 §6.8). Once no
// stream is left, do_write() sees that nghttp2 wants neither to read nor to
// write and finishes the drain.
void h2_session::begin_drain() {
    if (closed_ || terminating_ || draining_ || !h2_) return;
    draining_ = true;
    nghttp2_submit_goaway(h2_.get(), NGHTTP2_FLAG_NONE, nghttp2_session_get_last_proc_stream_id(h2_.get()),
                          NGHTTP2_NO_ERROR, nullptr, 0);
}

// Closing at once could meet a WINDOW_UPDATE or PING the client sent after
// the last answer, unread, and the kernel would answer it with a reset
// that can destroy answers the client has not read yet. So the session
// sends FIN and reads until the client closes too, for a moment at most.
// TLS does the same in close(): close_notify, then the peer's.
void h2_session::finish_drain() {
    if (lingering_) return;
    if (stream_.is_tls()) {
        close();
        return;
    }
    lingering_ = true;
    terminating_ = true;  // the timer below then closes
    stream_.shutdown_send();
    arm_idle_timer(goaway_grace);
}

h2_session::stream_state* h2_session::find_stream(std::int32_t id) {
    auto it = streams_.find(id);
    return it == streams_.end() ? nullptr : it->second.get();
}

// ---- nghttp2 callbacks --------------------------------------------------------

int h2_session::on_begin_headers(nghttp2_session*, const nghttp2_frame* frame, void* user) {
    if (frame->hd.type != NGHTTP2_HEADERS || frame->headers.cat != NGHTTP2_HCAT_REQUEST) return 0;
    auto* self = self_of(user);
    auto st = std::make_unique<stream_state>();
    st->started = clock_type::now();
    st->reservation = self->context_->budget->open();
    self->streams_[frame->hd.stream_id] = std::move(st);
    // A request must be complete within the read timeout of its start: make
    // sure the timer looks by then.
    const auto deadline = clock_type::now() + self->context_->options.read_timeout;
    if (!self->terminating_ && self->idle_timer_.expiry() > deadline)
        self->arm_idle_timer(self->context_->options.read_timeout);
    return 0;
}

int h2_session::on_header(nghttp2_session*, const nghttp2_frame* frame, const std::uint8_t* name,
                          std::size_t name_len, const std::uint8_t* value, std::size_t value_len,
                          std::uint8_t, void* user) {
    auto* self = self_of(user);
    if (frame->hd.type != NGHTTP2_HEADERS || frame->headers.cat != NGHTTP2_HCAT_REQUEST) return 0;
    auto* st = self->find_stream(frame->hd.stream_id);
    if (!st) return 0;
    const std::string_view n(reinterpret_cast<const char*>(name), name_len);
    const std::string_view v(reinterpret_cast<const char*>(value), value_len);
    if (n == ":method") {
        st->req.method = v;
    } else if (n == ":path") {
        st->req.path = v;
    } else if (n == ":authority") {
        st->req.host = v;
    } else if (n == "content-length") {
        st->req.headers.emplace_back(n, v);
        std::uint64_t length = 0;
        auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), length);
        if (ec == std::errc()) {
            if (length > self->context_->handler.body_limit()) st->too_large = true;
            st->declared_length = static_cast<std::size_t>(length);
        }
    } else {
        set_request_header(st->req, n, v);
    }
    return 0;
}

int h2_session::on_data_chunk(nghttp2_session*, std::uint8_t, std::int32_t stream_id, const std::uint8_t* data,
                              std::size_t len, void* user) {
    auto* self = self_of(user);
    auto* st = self->find_stream(stream_id);
    if (!st) return 0;
    const auto limit = self->context_->handler.body_limit();
    if (st->too_large) {
        st->discarded += len;
        self->reset_if_still_sending(stream_id, *st);
        return 0;
    }
    if (st->req.body.size() + len > limit) {
        st->too_large = true;
        st->discarded = st->req.body.size() + len;
        std::string().swap(st->req.body);
        return 0;
    }
    if (!st->reservation.grow_to(st->req.body.size() + len)) {
        st->discarded = st->req.body.size() + len;
        self->refuse_busy(*st);
        return 0;
    }
    st->req.body.append(reinterpret_cast<const char*>(data), len);
    return 0;
}

int h2_session::on_frame_recv(nghttp2_session*, const nghttp2_frame* frame, void* user) {
    if (frame->hd.type != NGHTTP2_HEADERS && frame->hd.type != NGHTTP2_DATA) return 0;
    auto* self = self_of(user);
    const auto id = frame->hd.stream_id;
    auto* st = self->find_stream(id);
    if (!st || st->responded || st->dispatched) return 0;
    // A declared length is reserved whole before any body byte arrives.
    if (frame->hd.type == NGHTTP2_HEADERS && !st->too_large && !st->reservation.grow_to(st->declared_length))
        self->refuse_busy(*st);
    // Answer as soon as a limit is known to be exceeded: from the declared
    // length, or from the data received so far.
    if (st->too_large) {
        self->submit(id, *st, self->early_reply(*st));
        return 0;
    }
    if (frame->hd.flags & NGHTTP2_FLAG_END_STREAM) self->dispatch(id, *st);
    return 0;
}

int h2_session::on_frame_send(nghttp2_session*, const nghttp2_frame* frame, void* user) {
    if (frame->hd.type != NGHTTP2_HEADERS && frame->hd.type != NGHTTP2_DATA) return 0;
    if (!(frame->hd.flags & NGHTTP2_FLAG_END_STREAM)) return 0;
    auto* self = self_of(user);
    const auto id = frame->hd.stream_id;
    auto* st = self->find_stream(id);
    if (st && st->too_large) {
        st->response_sent = true;
        self->reset_if_still_sending(id, *st);
    }
    return 0;
}

void h2_session::refuse_busy(stream_state& st) {
    st.too_large = true;
    st.busy = true;
    st.reservation.release();
    std::string().swap(st.req.body);
}

reply h2_session::early_reply(const stream_state& st) const {
    return st.busy ? busy_reply(st.req.content_type) : context_->handler.too_large_reply();
}

// After an early too-large answer the client may stop sending via
// RST_STREAM(NO_ERROR) (RFC 9113 §8.1). Some clients (curl 7.88) then drop
// the response they already received, so the reset waits until the client
// has sent twice the body limit; a body smaller than that is read and
// discarded, a larger one cannot tie the connection up for long.
void h2_session::reset_if_still_sending(std::int32_t id, stream_state& st) {
    if (!st.response_sent || st.reset_sent) return;
    if (st.discarded <= 2 * context_->handler.body_limit()) return;
    if (nghttp2_session_get_stream_remote_close(h2_.get(), id) != 0) return;
    st.reset_sent = true;
    pending_resets_.push_back(id);
}

int h2_session::on_stream_close(nghttp2_session*, std::int32_t stream_id, std::uint32_t, void* user) {
    auto* self = self_of(user);
    // A reply that arrives for a stream no longer here is dropped; a body
    // still streaming to it stops.
    if (auto* st = self->find_stream(stream_id); st && st->source) st->source->cancel();
    self->streams_.erase(stream_id);
    return 0;
}

ssize_t h2_session::read_response_body(nghttp2_session*, std::int32_t stream_id, std::uint8_t* buf,
                                       std::size_t length, std::uint32_t* data_flags, nghttp2_data_source*,
                                       void* user) {
    auto* self = self_of(user);
    auto* st = self->find_stream(stream_id);
    if (!st) return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
    if (st->source) return self->read_streamed_body(stream_id, *st, buf, length, data_flags);
    const auto n = std::min(length, st->response_body.size() - st->sent);
    std::memcpy(buf, st->response_body.data() + st->sent, n);
    st->sent += n;
    if (st->sent == st->response_body.size()) *data_flags |= NGHTTP2_DATA_FLAG_EOF;
    return static_cast<ssize_t>(n);
}

ssize_t h2_session::read_streamed_body(std::int32_t id, stream_state& st, std::uint8_t* buf, std::size_t length,
                                      std::uint32_t* data_flags) {
    if (st.sent == st.response_body.size() && !st.source_ended) {
        st.response_body.clear();
        st.sent = 0;
        // Pulled only when the window lets nghttp2 ask for more: a client
        // that stops reading stops the producer.
        if (st.source->pull(st.response_body) == actions::body_stream::pulled::end) st.source_ended = true;
    }
    const auto n = std::min(length, st.response_body.size() - st.sent);
    if (n == 0 && !st.source_ended) {
        st.deferred = true;
        return NGHTTP2_ERR_DEFERRED;
    }
    std::memcpy(buf, st.response_body.data() + st.sent, n);
    st.sent += n;
    if (st.source_ended && st.sent == st.response_body.size()) *data_flags |= NGHTTP2_DATA_FLAG_EOF;
    return static_cast<ssize_t>(n);
}

void h2_session::on_source_wake(std::int32_t id) {
    if (closed_) return;
    auto* st = find_stream(id);
    if (!st || !st->deferred) return;
    st->deferred = false;
    nghttp2_session_resume_data(h2_.get(), id);
    do_write();
}

void h2_session::cancel_sources() {
    for (auto& [id, st] : streams_)
        if (st->source) {
            st->source->cancel();
            st->source.reset();
        }
}

// ---- requests and replies -----------------------------------------------------

void h2_session::dispatch(std::int32_t id, stream_state& st) {
    st.dispatched = true;
    auto done = [self = shared_from_this(), id](reply r) {
        net::post(self->executor_, [self, id, r = std::move(r)]() mutable { self->on_reply(id, std::move(r)); });
    };
    try {
        context_->handler.handle(std::move(st.req), std::move(done));
    } catch (const std::exception& e) {
        spdlog::error("dispatcher failed: {}", e.what());
        reply failure;
        failure.status = 500;
        submit(id, st, std::move(failure));
    }
}

void h2_session::on_reply(std::int32_t id, reply r) {
    if (closed_ || terminating_) return;
    auto* st = find_stream(id);
    if (!st || st->responded) return;
    submit(id, *st, std::move(r));
    do_write();
}

void h2_session::submit(std::int32_t id, stream_state& st, reply r) {
    st.responded = true;
    std::vector<std::pair<std::string, std::string>> fields;
    fields.reserve(r.headers.size() + 4);
    fields.emplace_back(":status", std::to_string(r.status));
    for (auto& [name, value] : r.headers) {
        auto lower = lowercase(name);
        if (!skipped_in_h2(lower)) fields.emplace_back(std::move(lower), std::move(value));
    }
    if (!has_header(r, "x-amzn-RequestId")) fields.emplace_back("x-amzn-requestid", id_uuid());
    if (!r.stream) fields.emplace_back("content-length", std::to_string(r.body.size()));
    fields.emplace_back("date", http_date_now());

    std::vector<nghttp2_nv> nva;
    nva.reserve(fields.size());
    for (auto& [name, value] : fields) {
        // Without NO_COPY flags nghttp2 copies names and values.
        nva.push_back({reinterpret_cast<std::uint8_t*>(name.data()), reinterpret_cast<std::uint8_t*>(value.data()),
                       name.size(), value.size(), NGHTTP2_NV_FLAG_NONE});
    }
    st.response_body = std::move(r.body);
    st.response_keep = std::move(r.keep);
    st.sent = 0;
    if (r.stream) {
        st.response_body.clear();
        st.source = std::move(r.stream);
        // The request's bytes are no longer needed; a stream may run for minutes.
        st.reservation.release();
        st.source->start([weak = weak_from_this(), id] {
            if (auto self = weak.lock()) net::post(self->executor_, [self, id] { self->on_source_wake(id); });
        });
    }
    nghttp2_data_provider provider{};
    provider.read_callback = &h2_session::read_response_body;
    const int rv = nghttp2_submit_response(h2_.get(), id, nva.data(), nva.size(),
                                           st.response_body.empty() && !st.source ? nullptr : &provider);
    if (rv != 0) spdlog::debug("{} {}: cannot submit response on stream {}: {}", name_, peer_, id, nghttp2_strerror(rv));
}

// ---- I/O ----------------------------------------------------------------------

bool h2_session::feed(const void* data, std::size_t n) {
    const auto rv = nghttp2_session_mem_recv(h2_.get(), static_cast<const std::uint8_t*>(data), n);
    if (rv < 0) {
        spdlog::debug("{} {}: {}", name_, peer_, nghttp2_strerror(static_cast<int>(rv)));
        close();
        return false;
    }
    return true;
}

void h2_session::do_read() {
    stream_.async_read_some(net::buffer(read_buffer_),
                            beast::bind_front_handler(&h2_session::on_read, shared_from_this()));
}

void h2_session::on_read(const error_code& ec, std::size_t n) {
    if (closed_) return;
    if (ec) {
        close();
        return;
    }
    if (lingering_) {
        do_read();
        return;
    }
    last_activity_ = clock_type::now();
    if (!feed(read_buffer_.data(), n)) return;
    do_write();
    if (closed_) return;
    if (lingering_ || nghttp2_session_want_read(h2_.get())) do_read();
}

void h2_session::do_write() {
    if (writing_ || closed_) return;
    write_buffer_.clear();
    for (;;) {
        for (auto id : pending_resets_) nghttp2_submit_rst_stream(h2_.get(), NGHTTP2_FLAG_NONE, id, NGHTTP2_NO_ERROR);
        pending_resets_.clear();
        const std::uint8_t* data = nullptr;
        const auto n = nghttp2_session_mem_send(h2_.get(), &data);
        if (n < 0) {
            spdlog::debug("{} {}: {}", name_, peer_, nghttp2_strerror(static_cast<int>(n)));
            close();
            return;
        }
        if (n == 0 && pending_resets_.empty()) break;
        write_buffer_.append(reinterpret_cast<const char*>(data), static_cast<std::size_t>(n));
        if (write_buffer_.size() >= write_batch) break;
    }
    if (write_buffer_.empty()) {
        // A big response leaves a big buffer; idle connections should not keep it.
        if (write_buffer_.capacity() > write_batch) std::string().swap(write_buffer_);
        if (!nghttp2_session_want_read(h2_.get()) && !nghttp2_session_want_write(h2_.get())) {
            if (draining_)
                finish_drain();
            else
                close();
        }
        return;
    }
    writing_ = true;
    net::async_write(stream_, net::buffer(write_buffer_),
                     beast::bind_front_handler(&h2_session::on_write, shared_from_this()));
}

void h2_session::on_write(const error_code& ec, std::size_t) {
    writing_ = false;
    if (closed_) return;
    if (ec) {
        close();
        return;
    }
    last_activity_ = clock_type::now();
    do_write();
}

// One timer serves both idleness and the GOAWAY grace period. A connection
// counts as busy, and is kept, while any of its requests awaits a reply.
void h2_session::arm_idle_timer(clock_type::duration after) {
    idle_timer_.expires_after(after);
    idle_timer_.async_wait(beast::bind_front_handler(&h2_session::on_idle_timer, shared_from_this()));
}

void h2_session::on_idle_timer(const error_code& ec) {
    if (ec || closed_) return;
    if (terminating_) {
        close();
        return;
    }
    const auto idle = context_->options.idle_timeout;
    const auto now = clock_type::now();
    // A streamed body counts as awaited for as long as it runs: its
    // producer sends heartbeats, and a quiet stream is not an idle client.
    const bool awaiting = std::any_of(streams_.begin(), streams_.end(), [](const auto& entry) {
        return (entry.second->dispatched && !entry.second->responded) || entry.second->source;
    });
    // A request still arriving after the read timeout is a stalled or
    // trickling client: the connection goes, as an HTTP/1.1 one would.
    std::optional<clock_type::time_point> oldest_receiving;
    for (const auto& [id, st] : streams_)
        if (!st->dispatched && !st->responded && (!oldest_receiving || st->started < *oldest_receiving))
            oldest_receiving = st->started;
    if (oldest_receiving && now - *oldest_receiving >= context_->options.read_timeout) {
        spdlog::debug("{} {}: request not complete within the read timeout, closing", name_, peer_);
        terminate();
        return;
    }
    const auto quiet_for = now - last_activity_;
    if (awaiting || oldest_receiving || quiet_for < idle) {
        auto next = awaiting || quiet_for >= idle ? clock_type::duration(idle) : idle - quiet_for;
        if (oldest_receiving)
            next = std::min(next, *oldest_receiving + context_->options.read_timeout - now);
        arm_idle_timer(next);
        return;
    }
    spdlog::debug("{} {}: idle, closing", name_, peer_);
    terminate();
}

void h2_session::terminate() {
    if (closed_ || terminating_) return;
    if (!h2_) {
        close();
        return;
    }
    terminating_ = true;
    nghttp2_session_terminate_session(h2_.get(), NGHTTP2_NO_ERROR);
    do_write();
    if (!closed_) arm_idle_timer(goaway_grace);
}

void h2_session::close() {
    if (closed_) return;
    closed_ = true;
    cancel_sources();
    idle_timer_.cancel();
    stream_.close(shared_from_this());
}

}  // namespace kinesd::http
