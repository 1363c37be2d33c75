#pragma once
// What operators poll on the API port, beside the AWS protocol:
//   GET /metrics  Prometheus text exposition (metrics/), rendered on the
//                 worker pool: with many streams it is not an I/O thread's job.
//   GET /health   200 {"status":"ok"} while storage takes writes, else 503
//                 {"status":"unavailable","reason":...} (a full disk, a
//                 store shutting down). Answered on the I/O thread: it reads
//                 one atomic.
// HEAD is answered like GET, without the body.
#include <boost/asio/thread_pool.hpp>

#include "http/request.h"
#include "metrics/exposition.h"
#include "storage/log_store.h"

namespace kinesd::http {

class ops_endpoints {
public:
    // `metrics` null: /metrics answers 404 (metrics are off).
    ops_endpoints(boost::asio::thread_pool& workers, storage::log_store& store, const metrics::exposition* metrics)
        : workers_(workers), store_(store), metrics_(metrics) {}

    static bool handles(const request& req);
    void serve(request req, reply_handler done) const;

private:
    boost::asio::thread_pool& workers_;
    storage::log_store& store_;
    const metrics::exposition* metrics_;
};

}  // namespace kinesd::http
