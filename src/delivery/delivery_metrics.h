#pragma once
// A delivery stream's figures as CloudWatch reports them for Firehose,
// moved with relaxed atomics (metrics/counters.h) and read when /metrics is
// scraped. Shared by every snapshot of one incarnation, like its health.
#include "metrics/counters.h"

namespace kinesd::delivery {

struct delivery_metrics {
    metrics::counter incoming_records, incoming_bytes;            // DirectPut records taken
    metrics::counter delivered_records, delivered_bytes;          // in objects S3 acknowledged
    metrics::counter delivery_success, delivery_failures;         // PUT attempts
    // HTTP endpoint destinations: records and data bytes of requests the
    // endpoint acknowledged, batches delivered, failed attempts.
    metrics::counter http_records, http_bytes, http_success, http_failures;
    // Arrival time of the oldest record read but not yet delivered; 0 when none.
    metrics::gauge oldest_pending_ms;
};

}  // namespace kinesd::delivery
