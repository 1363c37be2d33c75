#pragma once
// Leases on work that exactly one front end should do at a time (a delivery
// stream's worker, an event source mapping's lanes), kept as metadata values
// under "lease/" and moved only by compare-and-swap, so they work the same on
// every backend: with one process on RocksDB the process simply always wins.
//
// A lease names its owner (this process's node id) and an expiry. The owner
// renews it every renew interval; anyone takes it once it has expired, so
// the work moves within `ttl` of its owner's death. Two owners can overlap
// only if one stalls past its expiry without noticing: its work is at least
// once (checkpoints move after delivery), so an overlap repeats records and
// never loses one.
//
// Calls do metadata I/O: they belong on control threads (the delivery
// manager's, the mapping poller's), never on I/O threads.
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <string_view>

#include "storage/log_store.h"

namespace kinesd {
class clock;
}

namespace kinesd::storage {

struct lease_options {
    std::int64_t ttl_ms = 10000;
    std::int64_t renew_ms = 2500;
};

class lease_keeper {
public:
    lease_keeper(log_store& store, const kinesd::clock& clock, std::string owner, lease_options options = {});

    // Whether this process holds `name` now: takes it when it is free or
    // expired, renews it when due. False while another live owner holds it,
    // or when the store cannot be reached (the work then waits: better
    // paused than done twice on purpose).
    bool hold(std::string_view name);
    // Gives the lease up at once (a clean stop), so another front end takes
    // it without waiting for the expiry.
    void release(std::string_view name);
    // Who holds it and until when, for tests and logs; empty when nobody.
    std::string holder(std::string_view name, std::int64_t* expires_ms = nullptr) const;
    const std::string& owner() const { return owner_; }

    static std::string key(std::string_view name);

private:
    struct held {
        std::uint64_t revision = 0;
        std::int64_t expires_ms = 0;
        std::int64_t renewed_ms = 0;
    };
    log_store& store_;
    const kinesd::clock& clock_;
    std::string owner_;
    lease_options options_;
    std::mutex mutex_;
    std::map<std::string, held, std::less<>> held_;
    // Leases another owner holds: not looked at again before this time, so
    // a front end asking every 100 ms does not read the store as often.
    std::map<std::string, std::int64_t, std::less<>> busy_until_;
};

}  // namespace kinesd::storage
