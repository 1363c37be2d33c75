#pragma once
// The dispatcher both HTTP front ends call. It applies AWS's request pipeline
// in AWS's order (method, empty body, content type, body parse, target,
// member types, constraints, then the action) and turns every failure into an
// AWS-shaped error in the request's wire format. Work runs on the worker
// pool, never on the I/O thread that read the request.
#include <boost/asio/thread_pool.hpp>

#include "actions/service.h"
#include "http/request.h"

namespace kinesd::http {

class router : public dispatcher {
public:
    router(actions::service& svc, boost::asio::thread_pool& workers, std::size_t body_limit)
        : svc_(svc), workers_(workers), body_limit_(body_limit) {}

    void handle(request req, reply_handler done) override;
    std::size_t body_limit() const override { return body_limit_; }
    reply too_large_reply() const override;

    // Runs the pipeline on the calling thread (tests and handle() use it).
    void process(request& req, reply_handler done);

private:
    actions::service& svc_;
    boost::asio::thread_pool& workers_;
    std::size_t body_limit_;
};

}  // namespace kinesd::http
