#pragma once
// A stream's figures as CloudWatch reports them, moved by the put and read
// paths with relaxed atomics (metrics/counters.h) and read when /metrics is
// scraped. One object per stream incarnation: the registry's copy-on-write
// snapshots share it, a re-created stream gets a new one (so starts at
// zero), and a deleted stream's goes with its last snapshot.
//
// Bytes are data bytes (the blobs), as CloudWatch's IncomingBytes and
// GetRecords.Bytes count them.
#include "metrics/counters.h"

namespace kinesd::streams {

struct stream_metrics {
    metrics::counter incoming_records, incoming_bytes;
    metrics::counter put_record_success;
    metrics::latency_histogram put_record_latency;
    metrics::counter put_records_success, put_records_total_records, put_records_successful_records,
        put_records_failed_records, put_records_throttled_records;
    metrics::latency_histogram put_records_latency;
    metrics::counter get_records_success, get_records_records, get_records_bytes;
    metrics::latency_histogram get_records_latency;
    metrics::gauge get_records_iterator_age_ms;
    metrics::counter read_throughput_exceeded, write_throughput_exceeded;
};

// One registered consumer's SubscribeToShard figures.
struct consumer_metrics {
    metrics::counter event_records, event_bytes;
    metrics::gauge millis_behind_latest;
};

}  // namespace kinesd::streams
