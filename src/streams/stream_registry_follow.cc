// How a stream registry follows the metadata other front ends write: a
// change seen by the metadata watcher, or a stream looked up again after
// an append found its shard closed, replaces the snapshot here.
#include <spdlog/spdlog.h>

#include <mutex>

#include "storage/keys.h"
#include "streams/stream_registry.h"

namespace kinesd::streams {

namespace {

// Counters are per incarnation and live in memory: a snapshot that came from
// the store keeps those of the one it replaces.
void carry_metrics(const stream_state& from, stream_state& to) {
    if (from.uid != to.uid) return;
    to.metrics = from.metrics;
    for (auto& c : to.consumers)
        for (const auto& old : from.consumers)
            if (old.name == c.name && old.created_ms == c.created_ms) c.metrics = old.metrics;
}

}  // namespace

bool stream_registry::apply_stored_locked(std::string_view name, const std::string* value, std::uint64_t revision) {
    auto it = streams_.find(name);
    // A change this front end made itself, or one already applied (notices
    // can arrive after a later change was read directly).
    if (auto known = revisions_.find(name); known != revisions_.end() && revision <= known->second) return false;
    if (!value) {
        revisions_[std::string(name)] = revision;
        if (it == streams_.end()) return false;
        // The front end that deleted the stream dropped its shards.
        spdlog::info("stream {} was deleted by another front end", name);
        streams_.erase(it);
        return true;
    }
    auto j = nlohmann::json::parse(*value, nullptr, false);
    if (j.is_discarded()) {
        spdlog::error("ignoring corrupt metadata of stream {}", name);
        return false;
    }
    auto s = std::make_shared<stream_state>(stream_state::from_json(j));
    if (it != streams_.end()) {
        carry_metrics(*it->second, *s);
        // Shards keep their logs: the same log objects, so readers that wait
        // on them stay attached.
        for (auto& shard : s->shards)
            if (const auto* old = it->second->find_shard(shard.index); old && it->second->uid == s->uid)
                shard.log = old->log;
    }
    if (!attach_logs_existing(*s)) {
        spdlog::warn("stream {}: a shard of revision {} is missing from storage; waiting for the next change", name,
                     revision);
        return false;
    }
    attach_metrics(*s);
    // Closed here before the snapshot shows it (see update()).
    for (auto& shard : s->shards)
        if (!shard.open() && !shard.log->closed.load()) store_.close_shard(*shard.log);
    if (it == streams_.end())
        spdlog::info("stream {} was created by another front end", name);
    streams_[s->name] = s;
    revisions_[s->name] = revision;
    return true;
}

void stream_registry::apply_stored(std::string_view key, const std::string* value, std::uint64_t revision) {
    if (key.substr(0, storage::keys::stream_meta_prefix.size()) != storage::keys::stream_meta_prefix) return;
    auto name = key.substr(storage::keys::stream_meta_prefix.size());
    std::uint64_t uid = 0;
    {
        std::unique_lock lock(mutex_);
        auto before = streams_.find(name);
        if (before != streams_.end()) uid = before->second->uid;
        if (!apply_stored_locked(name, value, revision)) return;
        auto after = streams_.find(name);
        if (after != streams_.end()) uid = after->second->uid;
    }
    if (change_listener_ && uid) change_listener_(uid);
}

stream_snapshot stream_registry::reload(std::string_view name) {
    std::string value;
    std::uint64_t revision = 0;
    auto key = storage::keys::stream_meta_key(name);
    std::uint64_t uid = 0;
    {
        // Read under the lock: every change this front end makes is written
        // under it, so what is read here is never older than the snapshot.
        std::unique_lock lock(mutex_);
        auto st = store_.get_meta_revision(key, &value, &revision);
        if (!st.ok() && !st.is_not_found()) spdlog::warn("reloading stream {}: {}", name, st.to_string());
        // An absent key carries no revision to order it by: its deletion
        // notice will come.
        if (!st.ok() || revision == 0 || !apply_stored_locked(name, &value, revision)) {
            auto it = streams_.find(name);
            return it == streams_.end() ? nullptr : it->second;
        }
        uid = streams_.find(name)->second->uid;
    }
    if (change_listener_) change_listener_(uid);
    return find(name);
}

}  // namespace kinesd::streams
