#include "http/ops_endpoints.h"

#include <boost/asio/post.hpp>
#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

namespace kinesd::http {

namespace {

std::string_view path_of(const request& req) {
    std::string_view p = req.path;
    return p.substr(0, p.find('?'));
}

reply text_reply(unsigned status, const char* content_type, std::string body, bool head) {
    reply r;
    r.status = status;
    r.headers.emplace_back("Content-Type", content_type);
    r.headers.emplace_back("Cache-Control", "no-store");
    if (!head) r.body = std::move(body);
    return r;
}

}  // namespace

bool ops_endpoints::handles(const request& req) {
    if (req.method != "GET" && req.method != "HEAD") return false;
    const auto p = path_of(req);
    return p == "/metrics" || p == "/health";
}

void ops_endpoints::serve(request req, reply_handler done) const {
    const bool head = req.method == "HEAD";
    if (path_of(req) == "/health") {
        if (store_.writable()) return done(text_reply(200, "application/json", "{\"status\":\"ok\"}\n", head));
        // The writer resumes only when asked; a health check asks, so the
        // store comes back once space is freed even if nobody writes.
        store_.retry_writes();
        const nlohmann::json body = {{"status", "unavailable"}, {"reason", store_.unwritable_reason()}};
        return done(text_reply(503, "application/json", body.dump() + "\n", head));
    }
    if (!metrics_) return done(text_reply(404, "text/plain", "metrics are off (--metrics off)\n", head));
    boost::asio::post(workers_, [metrics = metrics_, head, done = std::move(done)]() mutable {
        try {
            done(text_reply(200, metrics::exposition_content_type, metrics->render(), head));
        } catch (const std::exception& e) {
            spdlog::error("rendering /metrics failed: {}", e.what());
            done(text_reply(500, "text/plain", "rendering the metrics failed\n", head));
        }
    });
}

}  // namespace kinesd::http
