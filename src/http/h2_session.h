#pragma once
// One HTTP/2 connection: prior-knowledge h2c, or h2 inside TLS. nghttp2 does the framing,
// HPACK and flow control; this class feeds it the bytes Asio reads, writes
// what it produces, and turns each stream into one dispatcher request.
//
// Everything, nghttp2 callbacks included, runs on the connection's strand.
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <nghttp2/nghttp2.h>

#include <array>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "http/listener.h"
#include "http/stream.h"

namespace kinesd::http {

class h2_session : public connection, public std::enable_shared_from_this<h2_session> {
public:
    // `preface` holds the bytes the listener already read (the client
    // connection preface at least); they are fed to nghttp2 first.
    h2_session(connection_stream stream, boost::beast::flat_buffer preface,
               std::shared_ptr<const connection_context> context, connection_set::slot slot);
    ~h2_session() override;

    void run();
    // Sends GOAWAY, flushes briefly, then closes.
    void shutdown() override;
    // Sends GOAWAY naming the last stream begun, answers the streams up to
    // it, then closes.
    void close_when_idle() override;

private:
    struct stream_state {
        request req;
        std::chrono::steady_clock::time_point started;
        std::size_t declared_length = 0;
        // This stream's body bytes in the in-flight budget, until it closes.
        inflight_budget::reservation reservation;
        // The body is being discarded after an early answer: 413 when too
        // large, 503 (`busy`) when it did not fit the in-flight budget.
        bool too_large = false;
        bool busy = false;
        std::size_t discarded = 0;  // body bytes received, when too large
        bool response_sent = false;  // the whole early response went out
        bool reset_sent = false;
        bool dispatched = false;
        bool responded = false;
        std::string response_body;
        std::shared_ptr<void> response_keep;  // reply.keep, until the stream closes
        std::size_t sent = 0;
        // A streamed body: response_body holds what was pulled and not yet
        // framed; `deferred` while nghttp2 waits for the producer's wake.
        std::shared_ptr<actions::body_stream> source;
        bool deferred = false;
        bool source_ended = false;
    };
    struct session_deleter {
        void operator()(nghttp2_session* s) const { nghttp2_session_del(s); }
    };

    static int on_begin_headers(nghttp2_session*, const nghttp2_frame* frame, void* user);
    static int on_header(nghttp2_session*, const nghttp2_frame* frame, const std::uint8_t* name,
                         std::size_t name_len, const std::uint8_t* value, std::size_t value_len,
                         std::uint8_t flags, void* user);
    static int on_data_chunk(nghttp2_session*, std::uint8_t flags, std::int32_t stream_id,
                             const std::uint8_t* data, std::size_t len, void* user);
    static int on_frame_recv(nghttp2_session*, const nghttp2_frame* frame, void* user);
    static int on_frame_send(nghttp2_session*, const nghttp2_frame* frame, void* user);
    static int on_stream_close(nghttp2_session*, std::int32_t stream_id, std::uint32_t error_code, void* user);
    static ssize_t read_response_body(nghttp2_session*, std::int32_t stream_id, std::uint8_t* buf,
                                      std::size_t length, std::uint32_t* data_flags, nghttp2_data_source*,
                                      void* user);

    stream_state* find_stream(std::int32_t id);
    void refuse_busy(stream_state& st);
    reply early_reply(const stream_state& st) const;
    void reset_if_still_sending(std::int32_t id, stream_state& st);
    bool feed(const void* data, std::size_t n);
    void do_read();
    void on_read(const boost::system::error_code& ec, std::size_t n);
    void do_write();
    void on_write(const boost::system::error_code& ec, std::size_t n);
    void dispatch(std::int32_t id, stream_state& st);
    void on_reply(std::int32_t id, reply r);
    void submit(std::int32_t id, stream_state& st, reply r);
    void on_source_wake(std::int32_t id);
    // Copies up to `length` bytes of a streamed body into buf, pulling more
    // from its source when what was pulled is used up.
    ssize_t read_streamed_body(std::int32_t id, stream_state& st, std::uint8_t* buf, std::size_t length,
                               std::uint32_t* data_flags);
    void cancel_sources();
    void arm_idle_timer(std::chrono::steady_clock::duration after);
    void on_idle_timer(const boost::system::error_code& ec);
    void begin_drain();
    // Every stream is answered after a drain's GOAWAY: half-closes and waits
    // briefly for the client to close its side.
    void finish_drain();
    void terminate();
    void close();

    std::shared_ptr<const connection_context> context_;
    connection_set::slot slot_;
    connection_stream stream_;
    boost::beast::flat_buffer preface_;
    const connection_stream::executor_type executor_;
    const std::string peer_;
    const char* const name_;  // h2 (in TLS) or h2c, for logs
    boost::asio::steady_timer idle_timer_;
    std::unique_ptr<nghttp2_session, session_deleter> h2_;
    std::unordered_map<std::int32_t, std::unique_ptr<stream_state>> streams_;
    // Streams to reset once the current mem_send batch is done: nghttp2
    // callbacks only record them.
    std::vector<std::int32_t> pending_resets_;
    std::array<char, 32 * 1024> read_buffer_;
    std::string write_buffer_;
    bool writing_ = false;
    bool terminating_ = false;
    bool draining_ = false;
    bool lingering_ = false;  // finish_drain() ran: what the client sends is dropped
    bool closed_ = false;
    std::chrono::steady_clock::time_point last_activity_;
};

}  // namespace kinesd::http
