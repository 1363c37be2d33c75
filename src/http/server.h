#pragma once
// The network front end: one TCP port that speaks HTTP/1.1 (Beast) and HTTP/2
// with prior knowledge (nghttp2), in plain text or inside TLS. The JS SDK v3 Kinesis client sends h2c over
// plain http:// without asking, while the CLI, boto3 and curl speak HTTP/1.1,
// so the listener sniffs the first bytes of each connection and picks.
//
// Every request, whatever its protocol, goes to the same dispatcher.
#include <boost/asio/io_context.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "http/request.h"

namespace boost::asio::ssl {
class context;
}

namespace kinesd::http {

struct server_options {
    std::string host = "0.0.0.0";
    // 0 binds an ephemeral port; local_port() tells which.
    std::uint16_t port = 4567;
    // Beyond this many open connections new ones are accepted, answered 503
    // and closed at once, so clients fail fast instead of waiting in the
    // backlog. Room for 10,000 idle keep-alive clients and then some.
    std::size_t max_connections = 10'240;
    // How long a connection may sit between requests (HTTP/1.1) or without
    // traffic and without requests in flight (HTTP/2).
    std::chrono::milliseconds idle_timeout{60'000};
    // How long a started request may take from its first byte to its last
    // (headers and body together, however slowly they trickle in), and how
    // long a response write may take; it bounds slow or stalled clients.
    std::chrono::milliseconds read_timeout{30'000};
    // Request body bytes received or being processed at once, over every
    // connection; a body that does not fit is answered 503 unread.
    std::size_t max_inflight_bytes = 256u << 20;
    // Largest request header block. SigV4 headers are a few hundred bytes;
    // Beast's own default (8 KiB) is a little tight for browsers with cookies.
    std::uint32_t header_limit = 16 * 1024;
    // HTTP/2 SETTINGS. A large window lets a 5 MiB PutRecords body arrive in
    // one round trip instead of waiting for WINDOW_UPDATEs every 64 KiB.
    std::uint32_t h2_max_concurrent_streams = 100;
    std::uint32_t h2_initial_window = 16 * 1024 * 1024;
    // TLS on the same port: PEM certificate (chain allowed) and key. With
    // none given, a self-signed pair is made in tls_dir at first start.
    std::string tls_cert;
    std::string tls_key;
    std::string tls_dir;
    // Connections that do not start with a TLS handshake are closed unanswered.
    bool tls_only = false;
};

class listener;

class server {
public:
    // The io_context may be run by several threads; each connection runs on
    // its own strand. The dispatcher must outlive the server and every
    // connection (i.e. until the io_context has stopped running).
    server(boost::asio::io_context& ioc, server_options options, dispatcher& dispatcher);
    ~server();
    server(const server&) = delete;
    server& operator=(const server&) = delete;

    // Binds, listens and starts accepting. Throws std::runtime_error naming
    // the address when it cannot bind (e.g. the port is taken).
    void start();
    // The bound port, useful with port 0. Valid after start().
    std::uint16_t local_port() const noexcept;
    // Stops accepting (the kernel refuses new connections) and lets each
    // connection finish the requests it has begun: HTTP/1.1 answers its
    // request in progress with Connection: close, HTTP/2 sends a GOAWAY
    // naming the last stream it took and answers the streams up to it; then
    // the connection closes, and an idle one closes at once. Returns at once:
    // open_connections() falls to 0 as connections finish. Safe from any
    // thread.
    void drain();
    // Stops accepting and closes every connection (HTTP/2 ones get a GOAWAY
    // first). Replies that arrive later are dropped. Safe from any thread;
    // idempotent.
    void stop();
    // Connections open now (for kinesd_connections); 0 before start().
    std::size_t open_connections() const;

private:
    std::shared_ptr<boost::asio::ssl::context> make_tls() const;

    boost::asio::io_context& ioc_;
    server_options options_;
    dispatcher& dispatcher_;
    std::shared_ptr<listener> listener_;
    std::uint16_t port_ = 0;
};

}  // namespace kinesd::http
