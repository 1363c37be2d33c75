#include "http/server.h"

#include <spdlog/spdlog.h>

#include <stdexcept>

#include "http/listener.h"
#include "http/self_signed_cert.h"
#include "http/tls_context.h"

namespace kinesd::http {

server::server(boost::asio::io_context& ioc, server_options options, dispatcher& dispatcher)
    : ioc_(ioc), options_(std::move(options)), dispatcher_(dispatcher) {}

server::~server() { stop(); }

void server::start() {
    if (listener_) throw std::logic_error("server already started");
    auto budget = std::make_shared<inflight_budget>(options_.max_inflight_bytes);
    auto context = std::make_shared<const connection_context>(
        connection_context{dispatcher_, options_, std::move(budget), make_tls()});
    auto l = std::make_shared<listener>(ioc_, std::move(context));
    port_ = l->open();
    listener_ = std::move(l);
    listener_->run();
    spdlog::debug("listening on {}:{} (HTTP/1.1 and HTTP/2{})", options_.host, port_,
                  options_.tls_only ? ", TLS only" : ", TLS and plain text");
}

std::shared_ptr<boost::asio::ssl::context> server::make_tls() const {
    tls_files files{options_.tls_cert, options_.tls_key};
    if (files.cert.empty() != files.key.empty())
        throw std::runtime_error("a TLS certificate needs its key, and a key its certificate: set both or neither");
    bool created = false;
    const bool self_signed = files.cert.empty();
    if (self_signed) {
        if (options_.tls_dir.empty()) {
            if (options_.tls_only) throw std::runtime_error("TLS only, but no certificate and nowhere to make one");
            return nullptr;
        }
        files = ensure_self_signed_cert(options_.tls_dir, created);
    }
    std::shared_ptr<boost::asio::ssl::context> context;
    try {
        context = make_tls_context(files.cert, files.key);
    } catch (const std::runtime_error& e) {
        if (!self_signed) throw;
        throw std::runtime_error(std::string(e.what()) + " (remove " + options_.tls_dir + " to have a new pair made)");
    }
    if (self_signed)
        spdlog::info("TLS: {} self-signed certificate {} (trust it as the CA bundle for https clients)",
                     created ? "made a" : "using the", files.cert);
    else
        spdlog::info("TLS: certificate {}", files.cert);
    return context;
}

std::uint16_t server::local_port() const noexcept { return port_; }

std::size_t server::open_connections() const { return listener_ ? listener_->open_connections() : 0; }

void server::drain() {
    if (listener_) listener_->drain();
}

void server::stop() {
    if (listener_) listener_->stop();
}

}  // namespace kinesd::http
