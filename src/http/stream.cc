#include "http/stream.h"

namespace kinesd::http {

void connection_stream::close(std::shared_ptr<void> owner, std::chrono::steady_clock::duration grace) {
    boost::system::error_code ignored;
    auto* t = std::get_if<1>(&stream_);
    if (!t || !socket().is_open()) {
        socket().shutdown(boost::asio::ip::tcp::socket::shutdown_both, ignored);
        tcp().close();
        return;
    }
    // The shutdown may wait behind a read still in flight, and for a peer
    // that never answers: the timer closes the socket regardless, which ends
    // whatever is pending.
    auto timer = std::make_shared<boost::asio::steady_timer>(get_executor(), grace);
    timer->async_wait([this, owner](const boost::system::error_code& ec) {
        if (!ec) tcp().close();
    });
    (*t)->async_shutdown([this, timer, owner = std::move(owner)](const boost::system::error_code&) {
        timer->cancel();
        tcp().close();
    });
}

std::string peer_text(const connection_stream& stream) {
    boost::system::error_code ec;
    auto ep = stream.socket().remote_endpoint(ec);
    if (ec) return "?";
    return ep.address().to_string() + ":" + std::to_string(ep.port());
}

}  // namespace kinesd::http
