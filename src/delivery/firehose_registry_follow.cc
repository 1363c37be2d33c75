// How the delivery stream registry follows the metadata other front ends
// write (see storage/meta_follower.h).
#include <spdlog/spdlog.h>

#include <mutex>

#include "delivery/firehose_registry.h"
#include "storage/keys.h"

namespace kinesd::delivery {

void firehose_registry::apply_stored(std::string_view key, const std::string* value, std::uint64_t revision) {
    if (key.substr(0, storage::keys::firehose_meta_prefix.size()) != storage::keys::firehose_meta_prefix) return;
    std::unique_lock lock(mutex_);
    apply_stored_locked(key.substr(storage::keys::firehose_meta_prefix.size()), value, revision);
}

void firehose_registry::apply_stored_locked(std::string_view name, const std::string* value, std::uint64_t revision) {
    auto it = streams_.find(name);
    // A change this front end made itself, or one already applied (notices
    // can arrive after a later change was read directly).
    if (auto known = revisions_.find(name); known != revisions_.end() && revision <= known->second) return;
    if (!value) {
        revisions_[std::string(name)] = revision;
        if (it == streams_.end()) return;
        spdlog::info("delivery stream {} was deleted by another front end", name);
        streams_.erase(it);
        return;
    }
    auto j = nlohmann::json::parse(*value, nullptr, false);
    if (j.is_discarded()) {
        spdlog::error("ignoring corrupt metadata of delivery stream {}", name);
        return;
    }
    auto s = std::make_shared<delivery_stream>(delivery_stream::from_json(j));
    if (it != streams_.end() && it->second->uid == s->uid) {
        // Run-time state belongs to the incarnation, not to a version.
        s->log = it->second->log;
        s->health = it->second->health;
        s->metrics = it->second->metrics;
    }
    if (!s->is_kinesis_source() && !s->log) {
        // The creating front end made the log before it wrote the metadata.
        s->log = store_.open_shard(log_cf_name(s->uid), false);
        if (!s->log) {
            spdlog::warn("delivery stream {}: its record log is missing from storage", name);
            return;
        }
    }
    if (it == streams_.end()) spdlog::info("delivery stream {} was created by another front end", name);
    streams_[s->name] = s;
    revisions_[s->name] = revision;
}

}  // namespace kinesd::delivery
