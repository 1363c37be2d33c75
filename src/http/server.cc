#include "http/server.h"

#include <spdlog/spdlog.h>

#include <stdexcept>

#include "http/listener.h"

namespace kinesd::http {

server::server(boost::asio::io_context& ioc, server_options options, dispatcher& dispatcher)
    : ioc_(ioc), options_(std::move(options)), dispatcher_(dispatcher) {}

server::~server() { stop(); }

void server::start() {
    if (listener_) throw std::logic_error("server already started");
    auto budget = std::make_shared<inflight_budget>(options_.max_inflight_bytes);
    auto context =
        std::make_shared<const connection_context>(connection_context{dispatcher_, options_, std::move(budget)});
    auto l = std::make_shared<listener>(ioc_, std::move(context));
    port_ = l->open();
    listener_ = std::move(l);
    listener_->run();
    spdlog::debug("listening on {}:{} (HTTP/1.1 and h2c)", options_.host, port_);
}

std::uint16_t server::local_port() const noexcept { return port_; }

std::size_t server::open_connections() const { return listener_ ? listener_->open_connections() : 0; }

void server::stop() {
    if (listener_) listener_->stop();
}

}  // namespace kinesd::http
