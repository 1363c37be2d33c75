#pragma once
// Per-mapping counters the pollers keep (relaxed atomics), and the
// collector that turns them into /metrics families:
//   kinesd_esm_invocations_total{uuid,function}   function invocations
//   kinesd_esm_errors_total{uuid,function}        failed invocations
//   kinesd_esm_records_total{uuid,function,outcome} delivered | filtered | failed
//   kinesd_esm_iterator_age_ms{uuid,function}     age of the last record handed over
#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>

#include <prometheus/collectable.h>
#include <prometheus/metric_family.h>

namespace kinesd::lambda {

struct esm_counters {
    std::atomic<std::uint64_t> invocations{0};
    std::atomic<std::uint64_t> errors{0};
    std::atomic<std::uint64_t> delivered{0};
    std::atomic<std::uint64_t> filtered{0};
    std::atomic<std::uint64_t> failed{0};  // sent to the on-failure destination (or discarded)
    std::atomic<std::int64_t> iterator_age_ms{0};
};

class esm_metrics : public prometheus::Collectable {
public:
    // The counters of a mapping, made on first use.
    std::shared_ptr<esm_counters> of(const std::string& uuid, const std::string& function);
    void forget(const std::string& uuid);
    std::vector<prometheus::MetricFamily> Collect() const override;

private:
    struct entry {
        std::string function;
        std::shared_ptr<esm_counters> counters;
    };
    mutable std::mutex mutex_;
    std::map<std::string, entry> mappings_;
};

}  // namespace kinesd::lambda
