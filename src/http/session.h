#pragma once
// One HTTP/1.1 connection: read a request, hand it to the dispatcher, write
// its reply, repeat while keep-alive holds. One request at a time, so
// pipelined requests simply wait in the buffer until their turn.
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/string_body.hpp>

#include <array>
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "http/listener.h"
#include "http/stream.h"

namespace kinesd::http {

class session : public connection, public std::enable_shared_from_this<session> {
public:
    // `buffer` holds the bytes the listener already read while sniffing.
    session(connection_stream stream, boost::beast::flat_buffer buffer,
            std::shared_ptr<const connection_context> context, connection_set::slot slot);
    ~session() override;

    void run();
    void shutdown() override;
    void close_when_idle() override;

private:
    using parser_type = boost::beast::http::request_parser<boost::beast::http::string_body>;

    void begin_drain();
    void wait_for_request();
    void on_first_bytes(const boost::system::error_code& ec, std::size_t n);
    void read_header();
    void on_header(const boost::system::error_code& ec);
    // Takes the body's bytes from the in-flight budget; false when they do
    // not fit, after answering 503.
    bool reserve_body();
    void send_continue();
    void read_body();
    void on_body_part(const boost::system::error_code& ec);
    void on_body(const boost::system::error_code& ec);
    void dispatch();
    void on_reply(std::uint64_t serial, reply r);
    // Answers without having read the whole request, then closes.
    void reply_and_close(reply r);
    void write_response(reply r, bool keep_alive);
    // A streamed body (reply.stream): the head, then one chunk per pull,
    // each written before the next pull, so a client that stops reading
    // stops the producer instead of growing a buffer.
    void write_stream_head(reply r, bool keep_alive);
    void pump_stream();
    void on_stream_wake();
    void watch_client();
    void on_stream_write(const boost::system::error_code& ec);
    void refuse_busy();
    void on_write(const boost::system::error_code& ec, bool close);
    // Sends FIN, then reads and discards what the client still sends for a
    // moment, so that the kernel does not answer unread body bytes with a
    // RST that would destroy our response before the client reads it.
    void linger();
    void drain();
    void close();

    std::shared_ptr<const connection_context> context_;
    connection_set::slot slot_;
    connection_stream stream_;
    boost::beast::flat_buffer buffer_;
    // The reply handler may run on any thread; it only reads this copy.
    const connection_stream::executor_type executor_;
    const std::string peer_;  // for logs
    std::optional<parser_type> parser_;
    // The reply being written: its status line and headers, and its body.
    std::string response_head_;
    std::string response_body_;
    std::shared_ptr<void> response_keep_;  // reply.keep, until the write is done
    // The body being streamed, the chunk being written, and whether the
    // session waits for the producer's wake before it pulls again.
    std::shared_ptr<actions::body_stream> stream_body_;
    std::string stream_chunk_;
    std::string stream_line_;     // the chunk's size line
    std::string stream_trailer_;  // its CRLF, and the last chunk at the end
    bool stream_keep_alive_ = false;
    bool stream_waiting_ = false;
    bool stream_ended_ = false;
    std::array<char, 256> watch_buffer_;
    // A started request must be complete by then, however it trickles in:
    // Beast's expiry bounds one operation, the body takes several.
    std::chrono::steady_clock::time_point request_deadline_;
    // The current request's body bytes, held until its reply is written.
    inflight_budget::reservation reservation_;
    // Counts dispatched requests; a reply for anything but the current one
    // (e.g. after a shutdown) is dropped.
    std::uint64_t serial_ = 0;
    bool awaiting_reply_ = false;
    // Waiting for the first byte of a request, which a drain may cancel.
    bool idle_ = false;
    // The server is stopping: the request in progress is the last one.
    bool draining_ = false;
    bool keep_alive_ = true;
    unsigned version_ = 11;
    bool linger_after_write_ = false;
    std::chrono::milliseconds linger_for_{0};
    bool closed_ = false;
};

}  // namespace kinesd::http
