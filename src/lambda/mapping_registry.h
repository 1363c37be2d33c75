#pragma once
// Every event source mapping, in memory and in the meta column family
// ("esm/<uuid>"), plus the pollers' checkpoints ("esm-checkpoint/<uuid>/
// <shard cf>": the first shard counter not yet handed successfully to the
// function). Mappings are immutable snapshots swapped under a lock, like the
// stream registries, so pollers read them without holding it.
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <vector>

#include "common/clock.h"
#include "lambda/mapping.h"
#include "storage/log_store.h"

namespace kinesd::lambda {

using mapping_snapshot = std::shared_ptr<const mapping>;

class mapping_registry {
public:
    mapping_registry(storage::log_store& store, const kinesd::clock& clock) : store_(store), clock_(clock) {}

    void load();
    mapping_snapshot find(std::string_view uuid) const;
    std::vector<mapping_snapshot> list() const;  // by creation, then UUID

    // `check` runs under the exclusive lock and may throw to refuse.
    mapping_snapshot create(mapping m, const std::function<void(const std::vector<mapping_snapshot>&)>& check);
    // fn edits a copy; it may throw to leave everything unchanged. Null when absent.
    mapping_snapshot update(std::string_view uuid, const std::function<void(mapping&)>& fn);
    // LastProcessingResult ("OK", "PROBLEM: ..."): written only when it
    // changes, so a steady stream of batches costs no metadata writes.
    void set_result(std::string_view uuid, const std::string& result);
    // Forgets mappings whose Deleting state is over, with their checkpoints.
    void sweep();

    struct checkpoint {
        std::uint64_t stream_uid = 0;
        std::uint64_t next = 0;
    };
    std::optional<checkpoint> load_checkpoint(std::string_view uuid, std::string_view shard_cf) const;
    bool save_checkpoint(std::string_view uuid, std::string_view shard_cf, checkpoint c);

    const kinesd::clock& clock() const { return clock_; }

    // A change of a mapping seen by the metadata watcher (value null:
    // deleted), applied when newer than what this registry holds
    // (mapping_registry_follow.cc).
    void apply_stored(std::string_view key, const std::string* value, std::uint64_t revision);
    static constexpr std::string_view meta_prefix = "esm/";

private:
    // False when another front end changed the mapping since `expected`.
    bool persist(const mapping& m, std::uint64_t expected);
    void apply_stored_locked(std::string_view uuid, const std::string* value, std::uint64_t revision);

    storage::log_store& store_;
    const kinesd::clock& clock_;
    mutable std::shared_mutex mutex_;
    std::map<std::string, mapping_snapshot, std::less<>> mappings_;
    // The stored revision of each mapping held here (of its deletion, for a
    // deleted one).
    std::map<std::string, std::uint64_t, std::less<>> revisions_;
};

}  // namespace kinesd::lambda
