#pragma once
// The dispatcher both HTTP front ends call. It applies AWS's request pipeline
// in AWS's order (method, empty body, content type, body parse, target,
// member types, constraints, then the action) and turns every failure into an
// AWS-shaped error in the request's wire format. Work runs on the worker
// pool, except small puts: their handlers only decode, route and queue to the
// storage writer, so they run on the I/O thread that read them and save two
// thread hops (see runs_inline).
#include <boost/asio/thread_pool.hpp>

#include "actions/service.h"
#include "auth/audit_log.h"
#include "auth/sigv4_verifier.h"
#include "http/ops_endpoints.h"
#include "http/rest_service.h"
#include "http/request.h"
#include "metrics/request_counters.h"

namespace kinesd::http {

class router : public dispatcher {
public:
    router(actions::service& svc, boost::asio::thread_pool& workers, std::size_t body_limit)
        : svc_(svc), workers_(workers), body_limit_(body_limit) {}

    void handle(request req, reply_handler done) override;
    std::size_t body_limit() const override { return body_limit_; }
    reply too_large_reply() const override;

    // Runs the pipeline on the calling thread (tests and handle() use it).
    // `io_thread`: the caller must not wait (see action_context).
    void process(request& req, reply_handler done, bool io_thread = false);

    // Whether handle() runs this request on the calling I/O thread: a POST
    // to an action whose handler never waits, with a body small enough that
    // decoding it is not worth a hop. Larger bodies still go to the workers,
    // so one big put cannot hold up the other connections of its I/O thread.
    static bool runs_inline(const request& req);
    static constexpr std::size_t inline_body_limit = 64 * 1024;

    // With a verifier every Kinesis and Firehose call must be signed by one
    // of its keys, and runs as that key's account. Set before serving.
    void set_verifier(const auth::sigv4_verifier* verifier) { verifier_ = verifier; }
    // Control-plane calls are recorded there when set.
    void set_audit_log(auth::audit_log* log) { audit_ = log; }
    // Data-plane calls (puts and reads) are not audited.
    static bool is_data_plane(std::string_view target);
    // Whether the action first catches up with other front ends' changes
    // (service::catch_up).
    static bool needs_catch_up(std::string_view target);
    // GET/HEAD /metrics and /health (null: answered like any other GET), and
    // the per-action request counters (null: not counted). Set before serving.
    void set_operations(const ops_endpoints* ops, metrics::request_counters* requests) {
        ops_ = ops;
        requests_ = requests;
    }

    // REST APIs served on the same port, asked in order. Set before serving.
    void add_rest_service(rest_service* rest) { rest_.push_back(rest); }

private:
    std::vector<rest_service*> rest_;
    actions::service& svc_;
    boost::asio::thread_pool& workers_;
    std::size_t body_limit_;
    const auth::sigv4_verifier* verifier_ = nullptr;
    auth::audit_log* audit_ = nullptr;
    const ops_endpoints* ops_ = nullptr;
    metrics::request_counters* requests_ = nullptr;
};

}  // namespace kinesd::http
