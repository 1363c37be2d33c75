#pragma once
// Which lanes (shard logs) of one delivery stream this front end reads when
// several front ends share a store. Each lane has a lease of its own,
// "<stream lease>/<shard id>" for a Kinesis source (a DirectPut stream's
// single log: the stream lease itself), so the shards of one source stream
// can be delivered by different front ends and a dead front end's shards
// move one by one to whoever takes their expired leases.
//
// Fairness without knowing who is alive: a front end takes any free lane
// while it holds fewer than half of the stream's lanes (rounded up). Beyond
// that share it takes a lane only once it has seen it free for a grace
// period, which a live front end below its share would not have let pass.
// So two front ends split a stream's lanes, and a lone survivor ends up
// with all of them. A front end alone on its store takes every lane at once.
//
// The delivery worker sees only lane_claims: it never learns how leases are
// kept. claim() does metadata I/O (lease_keeper caches, so asking every read
// round is cheap): call it from the worker's thread, never an I/O thread.
#include <cstdint>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <vector>

namespace kinesd {
class clock;
}
namespace kinesd::storage {
class lease_keeper;
}

namespace kinesd::delivery {

class lane_claims {
public:
    virtual ~lane_claims() = default;
    // For each of `lanes` (shard ids; "" for a DirectPut log), whether this
    // front end may read and checkpoint it now. Takes, renews and gives up
    // leases as it goes; lanes no longer listed are given up.
    virtual std::vector<bool> claim(const std::vector<std::string>& lanes) = 0;
};

struct lane_lease_options {
    // Whether other front ends may share the store. Alone (RocksDB), there
    // is nobody to leave lanes to: every free lane is taken at once.
    bool shared = true;
    std::int64_t look_ms = 1000;   // how often a lane beyond the share is looked at
    std::int64_t grace_ms = 3000;  // how long it must be seen free before it is taken
};

class lane_leases : public lane_claims {
public:
    lane_leases(storage::lease_keeper& leases, const kinesd::clock& clock, std::string stream_lease,
                lane_lease_options options = {});

    std::vector<bool> claim(const std::vector<std::string>& lanes) override;
    // Gives up every lane lease held, so another front end goes on at once
    // (a clean stop that delivered what it had read).
    void release_all();
    std::size_t held() const;
    std::string lease_name(const std::string& lane) const;

private:
    bool free_long_enough(const std::string& lane, std::int64_t now);

    storage::lease_keeper& leases_;
    const kinesd::clock& clock_;
    std::string stream_lease_;
    lane_lease_options options_;
    mutable std::mutex mutex_;
    std::set<std::string> held_;
    struct look {
        std::int64_t next_ms = 0;
        std::int64_t free_since_ms = 0;  // 0: not seen free
    };
    std::map<std::string, look> looks_;
};

}  // namespace kinesd::delivery
