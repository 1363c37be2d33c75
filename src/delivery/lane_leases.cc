#include "delivery/lane_leases.h"

#include <spdlog/spdlog.h>

#include <algorithm>

#include "common/clock.h"
#include "storage/lease_keeper.h"

namespace kinesd::delivery {

lane_leases::lane_leases(storage::lease_keeper& leases, const kinesd::clock& clock, std::string stream_lease,
                         lane_lease_options options)
    : leases_(leases), clock_(clock), stream_lease_(std::move(stream_lease)), options_(options) {}

std::string lane_leases::lease_name(const std::string& lane) const {
    return lane.empty() ? stream_lease_ : stream_lease_ + "/" + lane;
}

std::vector<bool> lane_leases::claim(const std::vector<std::string>& lanes) {
    std::lock_guard lock(mutex_);
    const auto now = clock_.now_ms();
    for (auto it = held_.begin(); it != held_.end();) {
        if (std::find(lanes.begin(), lanes.end(), *it) != lanes.end()) {
            ++it;
            continue;
        }
        leases_.release(lease_name(*it));
        looks_.erase(*it);
        it = held_.erase(it);
    }
    std::vector<bool> out(lanes.size(), false);
    std::size_t count = 0;
    // Renewals first, so the share counts what is really held.
    for (std::size_t i = 0; i < lanes.size(); ++i) {
        if (!held_.contains(lanes[i])) continue;
        if (leases_.hold(lease_name(lanes[i]))) {
            out[i] = true;
            ++count;
        } else {
            held_.erase(lanes[i]);
        }
    }
    const std::size_t share = options_.shared ? (lanes.size() + 1) / 2 : lanes.size();
    for (std::size_t i = 0; i < lanes.size(); ++i) {
        if (out[i]) continue;
        if (count >= share && !free_long_enough(lanes[i], now)) continue;
        if (!leases_.hold(lease_name(lanes[i]))) continue;
        out[i] = true;
        ++count;
        held_.insert(lanes[i]);
        looks_.erase(lanes[i]);
    }
    return out;
}

bool lane_leases::free_long_enough(const std::string& lane, std::int64_t now) {
    auto& l = looks_[lane];
    if (now >= l.next_ms) {
        l.next_ms = now + options_.look_ms;
        std::int64_t expires = 0;
        auto owner = leases_.holder(lease_name(lane), &expires);
        // Its own name from before a restart counts as free: hold() takes it back.
        const bool free = owner.empty() || owner == leases_.owner() || expires <= now;
        if (!free)
            l.free_since_ms = 0;
        else if (!l.free_since_ms)
            l.free_since_ms = now;
    }
    return l.free_since_ms && now - l.free_since_ms >= options_.grace_ms;
}

void lane_leases::release_all() {
    std::lock_guard lock(mutex_);
    for (const auto& lane : held_) leases_.release(lease_name(lane));
    held_.clear();
    looks_.clear();
}

std::size_t lane_leases::held() const {
    std::lock_guard lock(mutex_);
    return held_.size();
}

}  // namespace kinesd::delivery
