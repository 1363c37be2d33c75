#pragma once
// kinesd_requests_total{action,status}: a fixed table of relaxed atomics,
// one row per action (plus one for unknown targets), one column per HTTP
// status kinesd answers (plus one for any other). Counting a request is
// one add at an index the router already has: no lock, no map.
#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>

namespace kinesd::metrics {

class request_counters {
public:
    // Rows 0..actions-1 are the actions in their list order; row `actions`
    // counts requests for no known action.
    explicit request_counters(std::size_t actions)
        : actions_(actions), cells_(new std::atomic<std::uint64_t>[(actions + 1) * columns]()) {}

    static constexpr std::array<unsigned, 9> statuses = {200, 400, 403, 404, 408, 413, 429, 500, 503};
    static constexpr std::size_t columns = statuses.size() + 1;  // the last: any other status

    std::size_t unknown_action() const { return actions_; }
    std::size_t rows() const { return actions_ + 1; }

    static std::size_t column_of(unsigned status) {
        std::size_t i = 0;
        while (i < statuses.size() && statuses[i] != status) ++i;
        return i;
    }
    void count(std::size_t action, unsigned status) {
        if (action > actions_) action = actions_;
        cells_[action * columns + column_of(status)].fetch_add(1, std::memory_order_relaxed);
    }
    std::uint64_t value(std::size_t action, std::size_t column) const {
        return cells_[action * columns + column].load(std::memory_order_relaxed);
    }

private:
    std::size_t actions_;
    std::unique_ptr<std::atomic<std::uint64_t>[]> cells_;
};

}  // namespace kinesd::metrics
