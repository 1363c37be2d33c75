#include "lambda/esm_metrics.h"

namespace kinesd::lambda {

using prometheus::ClientMetric;
using prometheus::MetricFamily;
using prometheus::MetricType;

std::shared_ptr<esm_counters> esm_metrics::of(const std::string& uuid, const std::string& function) {
    std::lock_guard lock(mutex_);
    auto& e = mappings_[uuid];
    e.function = function;
    if (!e.counters) e.counters = std::make_shared<esm_counters>();
    return e.counters;
}

void esm_metrics::forget(const std::string& uuid) {
    std::lock_guard lock(mutex_);
    mappings_.erase(uuid);
}

std::vector<MetricFamily> esm_metrics::Collect() const {
    MetricFamily invocations{"kinesd_esm_invocations_total", "Function invocations by event source mapping",
                             MetricType::Counter, {}};
    MetricFamily errors{"kinesd_esm_errors_total", "Failed function invocations by event source mapping",
                        MetricType::Counter, {}};
    MetricFamily records{"kinesd_esm_records_total",
                         "Records by outcome: delivered, filtered out, or failed (given up on)", MetricType::Counter, {}};
    MetricFamily age{"kinesd_esm_iterator_age_ms", "Age of the last record handed to the function, in milliseconds",
                     MetricType::Gauge, {}};
    auto counter = [](std::vector<ClientMetric::Label> l, std::uint64_t v) {
        ClientMetric m;
        m.label = std::move(l);
        m.counter.value = double(v);
        return m;
    };
    std::lock_guard lock(mutex_);
    for (const auto& [uuid, e] : mappings_) {
        std::vector<ClientMetric::Label> l = {{"uuid", uuid}, {"function", e.function}};
        const auto& c = *e.counters;
        invocations.metric.push_back(counter(l, c.invocations.load(std::memory_order_relaxed)));
        errors.metric.push_back(counter(l, c.errors.load(std::memory_order_relaxed)));
        for (auto [outcome, v] : {std::pair{"delivered", &c.delivered}, {"filtered", &c.filtered}, {"failed", &c.failed}}) {
            auto lo = l;
            lo.push_back({"outcome", outcome});
            records.metric.push_back(counter(std::move(lo), v->load(std::memory_order_relaxed)));
        }
        ClientMetric g;
        g.label = l;
        g.gauge.value = double(c.iterator_age_ms.load(std::memory_order_relaxed));
        age.metric.push_back(std::move(g));
    }
    return {std::move(invocations), std::move(errors), std::move(records), std::move(age)};
}

}  // namespace kinesd::lambda
