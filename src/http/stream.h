#pragma once
// The byte stream a session talks over: plain TCP or TLS over TCP. Both
// protocols' sessions use this one type, so neither needs to be a template;
// a plain connection pays one branch per operation and no allocation.
//
// Timeouts live on the TCP layer (Beast's tcp_stream) whichever it is, so
// a TLS record that stalls half-way trips the same read timeout.
#include <boost/asio/buffer.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core/tcp_stream.hpp>

#include <algorithm>
#include <chrono>
#include <memory>
#include <string>
#include <utility>
#include <variant>

namespace kinesd::http {

class connection_stream {
public:
    using tls_stream = boost::asio::ssl::stream<boost::beast::tcp_stream>;
    using executor_type = boost::beast::tcp_stream::executor_type;

    explicit connection_stream(boost::beast::tcp_stream plain) : stream_(std::in_place_index<0>, std::move(plain)) {}
    connection_stream(connection_stream&&) = default;
    connection_stream& operator=(connection_stream&&) = default;

    // Wraps the TCP stream in TLS; the handshake is the caller's to run.
    void start_tls(boost::asio::ssl::context& context) {
        auto plain = std::move(std::get<0>(stream_));
        stream_.emplace<1>(std::make_unique<tls_stream>(std::move(plain), context));
    }

    bool is_tls() const noexcept { return stream_.index() == 1; }
    tls_stream& tls() { return *std::get<1>(stream_); }
    boost::beast::tcp_stream& tcp() {
        if (auto* t = std::get_if<1>(&stream_)) return (*t)->next_layer();
        return std::get<0>(stream_);
    }
    const boost::beast::tcp_stream& tcp() const {
        if (auto* t = std::get_if<1>(&stream_)) return (*t)->next_layer();
        return std::get<0>(stream_);
    }
    boost::asio::ip::tcp::socket& socket() { return tcp().socket(); }
    const boost::asio::ip::tcp::socket& socket() const { return tcp().socket(); }
    executor_type get_executor() noexcept { return tcp().get_executor(); }

    void expires_after(std::chrono::steady_clock::duration d) { tcp().expires_after(d); }
    void expires_at(std::chrono::steady_clock::time_point t) { tcp().expires_at(t); }
    void expires_never() { tcp().expires_never(); }

    template <typename Buffers, typename Handler>
    auto async_read_some(const Buffers& buffers, Handler&& handler) {
        if (auto* t = std::get_if<1>(&stream_)) return (*t)->async_read_some(buffers, std::forward<Handler>(handler));
        return std::get<0>(stream_).async_read_some(buffers, std::forward<Handler>(handler));
    }

    // TLS writes one buffer per record. A reply's head and the start of its
    // body are gathered into one record instead (Beast's flat_stream does
    // the same but writes nothing when the sequence starts with an empty
    // buffer, as Asio's async_write passes once the head is out).
    template <typename Buffers, typename Handler>
    auto async_write_some(const Buffers& buffers, Handler&& handler) {
        if (auto* t = std::get_if<1>(&stream_)) {
            std::size_t filled = 0;
            const auto end = boost::asio::buffer_sequence_end(buffers);
            for (auto it = boost::asio::buffer_sequence_begin(buffers); it != end; ++it)
                if (boost::asio::const_buffer(*it).size() > 0) ++filled;
            if (filled > 1) {
                gathered_.resize(std::min(boost::asio::buffer_size(buffers), tls_record_size));
                boost::asio::buffer_copy(boost::asio::buffer(gathered_), buffers);
                return (*t)->async_write_some(boost::asio::buffer(gathered_), std::forward<Handler>(handler));
            }
            return (*t)->async_write_some(buffers, std::forward<Handler>(handler));
        }
        return std::get<0>(stream_).async_write_some(buffers, std::forward<Handler>(handler));
    }

    // A read without a timeout, for noticing that a client went away while a
    // long response streams out. Plain TCP reads the socket itself, out of
    // the timed layer's way; TLS must decrypt, so it clears the read timer
    // (a write in flight keeps its own).
    template <typename Buffers, typename Handler>
    void async_read_untimed(const Buffers& buffers, Handler&& handler) {
        if (auto* t = std::get_if<1>(&stream_)) {
            (*t)->next_layer().expires_never();
            (*t)->async_read_some(buffers, std::forward<Handler>(handler));
            return;
        }
        std::get<0>(stream_).socket().async_read_some(buffers, std::forward<Handler>(handler));
    }

    // Ends the reads and writes in flight with operation_aborted.
    void cancel() { tcp().cancel(); }
    // Whether the client's bytes wait in the kernel, unread.
    bool bytes_waiting() const {
        boost::system::error_code ec;
        return socket().available(ec) > 0 && !ec;
    }

    // Gives back the record-gathering buffer, for a connection going idle.
    void release_idle_memory() { std::string().swap(gathered_); }

    // No more bytes from us. TLS says so with close_notify when it closes.
    void shutdown_send() {
        if (is_tls()) return;
        boost::system::error_code ignored;
        socket().shutdown(boost::asio::ip::tcp::socket::shutdown_send, ignored);
    }

    // Closes the connection. TLS first sends close_notify and waits up to
    // `grace` for the peer's, on the connection's strand, never blocking a
    // thread; `owner` keeps the stream alive until then.
    void close(std::shared_ptr<void> owner, std::chrono::steady_clock::duration grace = std::chrono::seconds(1));

private:
    // The plaintext one TLS record carries.
    static constexpr std::size_t tls_record_size = 16 * 1024;

    // The TLS stream cannot move; the connection must, into its session.
    std::variant<boost::beast::tcp_stream, std::unique_ptr<tls_stream>> stream_;
    std::string gathered_;
};

// "address:port" of the peer, for logs.
std::string peer_text(const connection_stream& stream);

}  // namespace kinesd::http
