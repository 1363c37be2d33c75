#include "streams/stream_registry.h"

#include <spdlog/spdlog.h>

#include <mutex>
#include <set>
#include <stdexcept>

#include "common/crash_point.h"
#include "kinesd/api_error.h"
#include "storage/keys.h"

namespace kinesd::streams {

stream_registry::stream_registry(storage::log_store& store, const kinesd::clock& clock, registry_options options)
    : store_(store), clock_(clock), options_(options) {}

void stream_registry::attach_logs(stream_state& s, bool create) {
    std::vector<std::string> names;
    std::vector<streams::shard_state*> waiting;
    for (auto& shard : s.shards) {
        if (shard.log) continue;
        names.push_back(storage::keys::shard_cf_name(s.uid, shard.index));
        waiting.push_back(&shard);
    }
    if (names.empty()) return;
    auto logs = store_.open_shards(names);
    for (std::size_t i = 0; i < waiting.size(); ++i) {
        waiting[i]->log = std::move(logs[i]);
        if (!create && waiting[i]->log->committed == 0 && waiting[i]->log->trimmed_below == 1)
            spdlog::debug("shard {} of stream {} starts empty", waiting[i]->index, s.name);
    }
}

bool stream_registry::attach_logs_existing(stream_state& s) {
    for (auto& shard : s.shards) {
        if (shard.log) continue;
        shard.log = store_.open_shard(storage::keys::shard_cf_name(s.uid, shard.index), false);
        if (!shard.log) return false;
    }
    return true;
}

void stream_registry::attach_metrics(stream_state& s) const {
    if (!options_.metrics) return;
    if (!s.metrics) s.metrics = std::make_shared<stream_metrics>();
    for (auto& c : s.consumers)
        if (!c.metrics) c.metrics = std::make_shared<consumer_metrics>();
}

std::set<std::string> stream_registry::load() {
    std::unique_lock lock(mutex_);
    std::set<std::string> referenced;
    store_.scan_meta(storage::keys::stream_meta_prefix, [&](std::string_view, std::string_view value) {
        auto j = nlohmann::json::parse(value, nullptr, false);
        if (j.is_discarded()) throw std::runtime_error("corrupt stream metadata in the data directory");
        auto s = std::make_shared<stream_state>(stream_state::from_json(j));
        attach_logs(*s, false);
        attach_metrics(*s);
        // Closed in the metadata but maybe not yet in storage, if the front
        // end that closed it died in between.
        for (auto& shard : s->shards)
            if (!shard.open() && !shard.log->closed.load()) store_.close_shard(*shard.log);
        for (auto& shard : s->shards) referenced.insert(shard.log->name);
        streams_[s->name] = s;
    });
    for (auto& [name, s] : streams_) {
        std::string value;
        std::uint64_t revision = 0;
        if (store_.get_meta_revision(storage::keys::stream_meta_key(name), &value, &revision).ok())
            revisions_[name] = revision;
    }
    spdlog::info("loaded {} streams", streams_.size());
    return referenced;
}

stream_snapshot stream_registry::find(std::string_view name) const {
    std::shared_lock lock(mutex_);
    auto it = streams_.find(name);
    return it == streams_.end() ? nullptr : it->second;
}

stream_snapshot stream_registry::try_find(std::string_view name, bool& busy) const {
    std::shared_lock lock(mutex_, std::try_to_lock);
    busy = !lock.owns_lock();
    if (busy) return nullptr;
    auto it = streams_.find(name);
    return it == streams_.end() ? nullptr : it->second;
}

std::vector<stream_snapshot> stream_registry::list() const {
    std::shared_lock lock(mutex_);
    std::vector<stream_snapshot> out;
    out.reserve(streams_.size());
    for (auto& [name, s] : streams_) out.push_back(s);
    return out;
}

std::size_t stream_registry::open_shard_total_unlocked() const {
    std::size_t n = 0;
    for (auto& [name, s] : streams_) n += s->open_shard_count();
    return n;
}

std::size_t stream_registry::open_shard_total() const {
    std::shared_lock lock(mutex_);
    return open_shard_total_unlocked();
}

std::size_t stream_registry::open_shard_total_unlocked(
    const std::function<bool(std::string_view name)>& include) const {
    std::size_t n = 0;
    for (auto& [name, s] : streams_)
        if (include(name)) n += s->open_shard_count();
    return n;
}

std::size_t stream_registry::open_shard_total(const std::function<bool(std::string_view name)>& include) const {
    std::shared_lock lock(mutex_);
    return open_shard_total_unlocked(include);
}

bool stream_registry::persist(const stream_state& s, std::uint64_t expected) {
    std::uint64_t revision = 0;
    auto status = store_.put_meta_if(storage::keys::stream_meta_key(s.name), s.to_json().dump(), expected, &revision);
    if (status.is_conflict()) return false;
    if (!status.ok()) {
        spdlog::error("persisting stream {} failed: {}", s.name, status.to_string());
        throw api_error::internal();
    }
    revisions_[s.name] = revision;
    return true;
}

std::uint64_t stream_registry::known_revision(std::string_view name) const {
    auto it = revisions_.find(name);
    return it == revisions_.end() ? 0 : it->second;
}

void stream_registry::refresh_locked(std::string_view name) {
    std::string value;
    std::uint64_t revision = 0;
    auto st = store_.get_meta_revision(storage::keys::stream_meta_key(name), &value, &revision);
    if (!st.ok()) {
        spdlog::error("reading stream {} failed: {}", name, st.to_string());
        throw api_error::internal();
    }
    if (revision != 0) apply_stored_locked(name, &value, revision);
}

stream_snapshot stream_registry::create(stream_state state,
                                        const std::function<void(const stream_registry&)>& check) {
    std::unique_lock lock(mutex_);
    check(*this);
    auto s = std::make_shared<stream_state>(std::move(state));
    attach_logs(*s, true);
    attach_metrics(*s);
    // Created only if absent: of front ends creating one name at once,
    // exactly one wins, and the others answer as if they had known.
    if (!persist(*s, 0)) {
        for (auto& shard : s->shards)
            if (shard.log) store_.drop_shard(shard.log);
        refresh_locked(s->name);
        check(*this);
        throw api_error::resource_in_use("Stream " + s->name + " already exists.");
    }
    streams_[s->name] = s;
    return s;
}

stream_snapshot stream_registry::update(std::string_view name, const std::function<void(stream_state&)>& fn) {
    std::unique_lock lock(mutex_);
    for (int attempt = 1;; ++attempt) {
        auto it = streams_.find(name);
        if (it == streams_.end()) return nullptr;
        auto copy = std::make_shared<stream_state>(*it->second);
        fn(*copy);
        attach_logs(*copy, true);
        attach_metrics(*copy);
        // Written over the revision this snapshot came from: a change another
        // front end made meanwhile is read, and fn runs again on it.
        if (!persist(*copy, known_revision(name))) {
            if (attempt == max_update_attempts) throw api_error::limit_exceeded(
                "Stream " + std::string(name) + " is being changed by another request; retry the change.");
            refresh_locked(name);
            continue;
        }
        // Shards this change closes stop taking appends, on every front end,
        // before the change is visible here: a reader that sees a shard
        // closed and reads it to its end must never be followed by a late
        // record in it. Front ends that learn of the change close the shards
        // too before they show it (apply_stored), so a front end that died
        // between the write and this line leaves nothing half done.
        bool closing = false;
        for (auto& shard : copy->shards) closing |= !shard.open() && !shard.log->closed.load();
        if (closing) crash_point("reshard-written");
        for (auto& shard : copy->shards)
            if (!shard.open() && !shard.log->closed.load()) store_.close_shard(*shard.log);
        streams_[copy->name] = copy;
        lock.unlock();
        if (change_listener_) change_listener_(copy->uid);
        return copy;
    }
}

void stream_registry::remove(std::string_view name) {
    std::unique_lock lock(mutex_);
    auto it = streams_.find(name);
    if (it == streams_.end()) return;
    auto s = it->second;
    auto status = store_.delete_meta(storage::keys::stream_meta_key(s->name));
    if (!status.ok()) spdlog::error("deleting metadata of stream {} failed: {}", s->name, status.to_string());
    streams_.erase(it);
    for (auto& shard : s->shards)
        if (shard.log) store_.drop_shard(shard.log);
    spdlog::info("deleted stream {}", s->name);
    lock.unlock();
    if (change_listener_) change_listener_(s->uid);
}

void stream_registry::sweep() {
    std::vector<std::string> due;
    {
        std::shared_lock lock(mutex_);
        auto now = clock_.now_ms();
        for (auto& [name, s] : streams_)
            if (s->deleting_since_ms && now >= *s->deleting_since_ms + options_.delete_delay_ms) due.push_back(name);
    }
    for (auto& name : due) remove(name);
}

}  // namespace kinesd::streams
