#pragma once
// Builds every kinesd metric family when /metrics is scraped, from the
// counters the request paths keep (streams/stream_metrics.h,
// delivery/delivery_metrics.h, request_counters.h) and a few values read
// on the spot (open connections, RocksDB's live data estimate). Nothing is
// registered per stream: a stream's series exist while it does, a deleted
// stream's vanish, a re-created one starts at zero.
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include <prometheus/collectable.h>
#include <prometheus/metric_family.h>

#include "common/clock.h"
#include "delivery/firehose_registry.h"
#include "metrics/request_counters.h"
#include "storage/log_store.h"
#include "streams/stream_registry.h"

namespace kinesd::metrics {

struct collector_sources {
    const streams::stream_registry& streams;
    const delivery::firehose_registry* firehose = nullptr;  // null: no Firehose families
    const storage::log_store* store = nullptr;
    const request_counters* requests = nullptr;
    // For kinesd_requests_total's labels: row i of `requests` is
    // {service, action}; the unknown row is {"", "unknown"}.
    std::vector<std::pair<std::string, std::string>> request_rows;
    std::function<std::size_t()> open_connections;  // null: no kinesd_connections
    const kinesd::clock& clock;
    // The account of streams kept under plain names, for the `account` label.
    std::string account_id;
};

class collector : public prometheus::Collectable {
public:
    explicit collector(collector_sources sources) : src_(std::move(sources)) {}
    std::vector<prometheus::MetricFamily> Collect() const override;

private:
    // The one place the `account` label and the name label come from.
    // Registry keys are "<account>/<name>" for every account but the
    // default one, whose keys are the plain names (actions/service.h).
    std::vector<prometheus::ClientMetric::Label> owner(const std::string& key, const char* name_label) const;

    void collect_streams(std::vector<prometheus::MetricFamily>& out) const;
    void collect_firehose(std::vector<prometheus::MetricFamily>& out) const;
    void collect_process(std::vector<prometheus::MetricFamily>& out) const;

    collector_sources src_;
};

}  // namespace kinesd::metrics
