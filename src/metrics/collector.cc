#include "metrics/collector.h"

#include <algorithm>
#include <cmath>
#include <initializer_list>
#include <limits>

#include "metrics/names.h"

namespace kinesd::metrics {

namespace {

using prometheus::ClientMetric;
using prometheus::MetricFamily;
using prometheus::MetricType;

MetricType type_of(kind k) {
    switch (k) {
    case kind::counter: return MetricType::Counter;
    case kind::histogram_ms: return MetricType::Histogram;
    default: return MetricType::Gauge;
    }
}

MetricFamily family(std::string_view prefix, std::string_view cloudwatch_name, kind k, std::string help) {
    MetricFamily f;
    f.name = prometheus_name(prefix, cloudwatch_name, k);
    f.help = std::move(help);
    f.type = type_of(k);
    return f;
}

std::vector<ClientMetric::Label> labels(std::initializer_list<std::pair<const char*, const std::string*>> pairs) {
    std::vector<ClientMetric::Label> out;
    out.reserve(pairs.size());
    for (auto& [name, value] : pairs) out.push_back({name, *value});
    return out;
}

ClientMetric counter_sample(std::vector<ClientMetric::Label> l, std::uint64_t v) {
    ClientMetric m;
    m.label = std::move(l);
    m.counter.value = double(v);
    return m;
}

ClientMetric gauge_sample(std::vector<ClientMetric::Label> l, double v) {
    ClientMetric m;
    m.label = std::move(l);
    m.gauge.value = v;
    return m;
}

ClientMetric histogram_sample(std::vector<ClientMetric::Label> l, const latency_histogram& h) {
    ClientMetric m;
    m.label = std::move(l);
    const auto s = h.read();
    std::uint64_t cumulative = 0;
    for (std::size_t i = 0; i < s.buckets.size(); ++i) {
        cumulative += s.buckets[i];
        const double bound = i < latency_histogram::bounds_ms.size() ? latency_histogram::bounds_ms[i]
                                                                     : std::numeric_limits<double>::infinity();
        m.histogram.bucket.push_back({cumulative, bound});
    }
    m.histogram.sample_count = cumulative;
    m.histogram.sample_sum = s.sum_ms;
    return m;
}

// Per-stream figures, in the order they are printed.
struct stream_counter {
    const char* cloudwatch;
    counter streams::stream_metrics::*member;
    const char* help;
};
const stream_counter stream_counters[] = {
    {"IncomingRecords", &streams::stream_metrics::incoming_records, "Records successfully put (PutRecord, PutRecords)"},
    {"IncomingBytes", &streams::stream_metrics::incoming_bytes, "Data bytes successfully put"},
    {"PutRecord.Success", &streams::stream_metrics::put_record_success, "Successful PutRecord calls"},
    {"PutRecords.Success", &streams::stream_metrics::put_records_success,
     "PutRecords calls where at least one record succeeded"},
    {"PutRecords.TotalRecords", &streams::stream_metrics::put_records_total_records, "Records sent in PutRecords"},
    {"PutRecords.SuccessfulRecords", &streams::stream_metrics::put_records_successful_records,
     "PutRecords records written"},
    {"PutRecords.FailedRecords", &streams::stream_metrics::put_records_failed_records,
     "PutRecords records that failed for an internal reason (storage)"},
    {"PutRecords.ThrottledRecords", &streams::stream_metrics::put_records_throttled_records,
     "PutRecords records refused by a shard's write limit"},
    {"GetRecords.Success", &streams::stream_metrics::get_records_success, "Successful GetRecords calls"},
    {"GetRecords.Records", &streams::stream_metrics::get_records_records, "Records returned by GetRecords"},
    {"GetRecords.Bytes", &streams::stream_metrics::get_records_bytes, "Data bytes returned by GetRecords"},
    {"ReadProvisionedThroughputExceeded", &streams::stream_metrics::read_throughput_exceeded,
     "GetRecords calls refused by a shard's read limit"},
    {"WriteProvisionedThroughputExceeded", &streams::stream_metrics::write_throughput_exceeded,
     "Records refused by a shard's write limit (PutRecord and PutRecords)"},
};

struct stream_latency {
    const char* cloudwatch;
    latency_histogram streams::stream_metrics::*member;
    const char* help;
};
const stream_latency stream_latencies[] = {
    {"PutRecord.Latency", &streams::stream_metrics::put_record_latency,
     "PutRecord calls, from the handler until the record is durable"},
    {"PutRecords.Latency", &streams::stream_metrics::put_records_latency,
     "PutRecords calls, from the handler until the records are durable"},
    {"GetRecords.Latency", &streams::stream_metrics::get_records_latency, "GetRecords calls"},
};

struct delivery_counter {
    const char* cloudwatch;
    counter delivery::delivery_metrics::*member;
    const char* help;
};
const delivery_counter delivery_counters[] = {
    {"IncomingRecords", &delivery::delivery_metrics::incoming_records, "Records taken by PutRecord/PutRecordBatch"},
    {"IncomingBytes", &delivery::delivery_metrics::incoming_bytes, "Data bytes taken by PutRecord/PutRecordBatch"},
    {"DeliveryToS3.Records", &delivery::delivery_metrics::delivered_records, "Records in objects written to S3"},
    {"DeliveryToS3.Bytes", &delivery::delivery_metrics::delivered_bytes,
     "Bytes of objects written to S3 (after compression)"},
    {"DeliveryToS3.Success", &delivery::delivery_metrics::delivery_success, "Objects S3 acknowledged"},
    {"DeliveryToS3.Failures", &delivery::delivery_metrics::delivery_failures, "Failed S3 PUT attempts"},
    {"DeliveryToHttpEndpoint.Records", &delivery::delivery_metrics::http_records,
     "Records the HTTP endpoint acknowledged"},
    {"DeliveryToHttpEndpoint.Bytes", &delivery::delivery_metrics::http_bytes,
     "Data bytes of records the HTTP endpoint acknowledged (before base64 and compression)"},
    {"DeliveryToHttpEndpoint.Success", &delivery::delivery_metrics::http_success,
     "Batches the HTTP endpoint acknowledged"},
    {"DeliveryToHttpEndpoint.Failures", &delivery::delivery_metrics::http_failures,
     "Failed HTTP endpoint delivery attempts (each retry counts)"},
};

bool live(const streams::stream_state& s) { return !s.deleting_since_ms && s.metrics; }

}  // namespace

std::vector<ClientMetric::Label> collector::owner(const std::string& key, const char* name_label) const {
    const auto slash = key.find('/');
    if (slash == std::string::npos) return {{"account", src_.account_id}, {name_label, key}};
    return {{"account", key.substr(0, slash)}, {name_label, key.substr(slash + 1)}};
}

std::vector<MetricFamily> collector::Collect() const {
    std::vector<MetricFamily> out;
    collect_streams(out);
    collect_firehose(out);
    collect_process(out);
    return out;
}

void collector::collect_streams(std::vector<MetricFamily>& out) const {
    const auto all = src_.streams.list();
    for (const auto& c : stream_counters) {
        auto f = family("kinesis", c.cloudwatch, kind::counter, c.help);
        for (const auto& s : all)
            if (live(*s))
                f.metric.push_back(counter_sample(owner(s->name, "stream"),
                                                  ((*s->metrics).*c.member).value()));
        out.push_back(std::move(f));
    }
    for (const auto& h : stream_latencies) {
        auto f = family("kinesis", h.cloudwatch, kind::histogram_ms, h.help);
        for (const auto& s : all)
            if (live(*s))
                f.metric.push_back(histogram_sample(owner(s->name, "stream"),
                                                    (*s->metrics).*h.member));
        out.push_back(std::move(f));
    }
    {
        auto f = family("kinesis", "GetRecords.IteratorAgeMilliseconds", kind::gauge,
                        "MillisBehindLatest of the latest GetRecords call on the stream");
        for (const auto& s : all)
            if (live(*s))
                f.metric.push_back(gauge_sample(owner(s->name, "stream"),
                                                double(s->metrics->get_records_iterator_age_ms.value())));
        out.push_back(std::move(f));
    }
    auto records = family("kinesis", "SubscribeToShardEvent.Records", kind::counter,
                          "Records pushed to the consumer by SubscribeToShard");
    auto bytes = family("kinesis", "SubscribeToShardEvent.Bytes", kind::counter,
                        "Data bytes pushed to the consumer by SubscribeToShard");
    auto behind = family("kinesis", "SubscribeToShardEvent.MillisBehindLatest", kind::gauge,
                         "MillisBehindLatest of the latest SubscribeToShard event sent to the consumer");
    for (const auto& s : all) {
        if (!live(*s)) continue;
        for (const auto& c : s->consumers) {
            if (c.deleting_since_ms || !c.metrics) continue;
            auto l = owner(s->name, "stream");
            l.push_back({"consumer", c.name});
            records.metric.push_back(counter_sample(l, c.metrics->event_records.value()));
            bytes.metric.push_back(counter_sample(l, c.metrics->event_bytes.value()));
            behind.metric.push_back(gauge_sample(std::move(l), double(c.metrics->millis_behind_latest.value())));
        }
    }
    out.push_back(std::move(records));
    out.push_back(std::move(bytes));
    out.push_back(std::move(behind));
}

void collector::collect_firehose(std::vector<MetricFamily>& out) const {
    if (!src_.firehose) return;
    auto all = src_.firehose->list();
    // Channels are not delivery streams: their internal ones stay out of sight.
    std::erase_if(all, [](const auto& s) { return s->deleting_since_ms.has_value() || s->is_channel(); });
    for (const auto& c : delivery_counters) {
        auto f = family("firehose", c.cloudwatch, kind::counter, c.help);
        for (const auto& s : all)
            f.metric.push_back(counter_sample(owner(s->name, "delivery_stream"),
                                              ((*s->metrics).*c.member).value()));
        out.push_back(std::move(f));
    }
    auto f = family("firehose", "DeliveryToS3.DataFreshness", kind::gauge_seconds,
                    "Age of the oldest record not yet in S3 (0 when every record read is delivered)");
    auto h = family("firehose", "DeliveryToHttpEndpoint.DataFreshness", kind::gauge_seconds,
                    "Age of the oldest record the HTTP endpoint has not acknowledged (0 when none)");
    const auto now = src_.clock.now_ms();
    for (const auto& s : all) {
        const auto oldest = s->metrics->oldest_pending_ms.value();
        const double age = oldest ? double(std::max<std::int64_t>(0, now - oldest)) / 1000.0 : 0.0;
        (s->is_http_endpoint() ? h : f).metric.push_back(gauge_sample(owner(s->name, "delivery_stream"), age));
    }
    out.push_back(std::move(f));
    out.push_back(std::move(h));
}

void collector::collect_process(std::vector<MetricFamily>& out) const {
    if (src_.open_connections) {
        MetricFamily f{"kinesd_connections", "Open client connections", MetricType::Gauge, {}};
        f.metric.push_back(gauge_sample({}, double(src_.open_connections())));
        out.push_back(std::move(f));
    }
    if (src_.requests) {
        MetricFamily f{"kinesd_requests_total", "Requests answered, by action and HTTP status", MetricType::Counter,
                       {}};
        const auto& r = *src_.requests;
        for (std::size_t row = 0; row < r.rows() && row < src_.request_rows.size(); ++row) {
            for (std::size_t col = 0; col < request_counters::columns; ++col) {
                const auto v = r.value(row, col);
                if (!v) continue;  // a series appears with its first request
                const std::string status = col < request_counters::statuses.size()
                                               ? std::to_string(request_counters::statuses[col])
                                               : std::string("other");
                const auto& [service, action] = src_.request_rows[row];
                f.metric.push_back(
                    counter_sample(labels({{"action", &action}, {"service", &service}, {"status", &status}}), v));
            }
        }
        out.push_back(std::move(f));
    }
    if (src_.store) {
        MetricFamily f{"kinesd_stored_bytes", "RocksDB's estimate of its live data (flushed to files)",
                       MetricType::Gauge, {}};
        f.metric.push_back(gauge_sample({}, double(src_.store->live_data_bytes())));
        out.push_back(std::move(f));
    }
}

}  // namespace kinesd::metrics
