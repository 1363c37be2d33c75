#include "delivery/firehose_registry.h"

#include <spdlog/spdlog.h>

#include <mutex>
#include <stdexcept>

#include "kinesd/api_error.h"
#include "storage/keys.h"

namespace kinesd::delivery {

namespace {

std::string meta_key(std::string_view name) {
    return std::string(storage::keys::firehose_meta_prefix) + std::string(name);
}

std::string checkpoint_prefix(std::string_view name) {
    return std::string(storage::keys::firehose_checkpoint_prefix) + std::string(name) + "/";
}

}  // namespace

firehose_registry::firehose_registry(storage::log_store& store, const kinesd::clock& clock,
                                     firehose_registry_options options)
    : store_(store), clock_(clock), options_(options) {}

std::string firehose_registry::log_cf_name(std::uint64_t uid) { return storage::keys::shard_cf_name(uid, 0); }

void firehose_registry::attach_log(delivery_stream& s) {
    if (s.is_kinesis_source() || s.log) return;
    s.log = store_.open_shard(log_cf_name(s.uid), true);
}

std::set<std::string> firehose_registry::load() {
    std::unique_lock lock(mutex_);
    std::set<std::string> referenced;
    store_.scan_meta(storage::keys::firehose_meta_prefix, [&](std::string_view, std::string_view value) {
        auto j = nlohmann::json::parse(value, nullptr, false);
        if (j.is_discarded()) throw std::runtime_error("corrupt delivery stream metadata in the data directory");
        auto s = std::make_shared<delivery_stream>(delivery_stream::from_json(j));
        attach_log(*s);
        if (s->log) referenced.insert(s->log->name);
        streams_[s->name] = s;
    });
    for (auto& [name, s] : streams_) {
        std::string value;
        std::uint64_t revision = 0;
        if (store_.get_meta_revision(meta_key(name), &value, &revision).ok()) revisions_[name] = revision;
    }
    // Checkpoints of streams deleted (or re-created) just before a crash.
    std::vector<std::string> stale;
    store_.scan_meta(storage::keys::firehose_checkpoint_prefix, [&](std::string_view key, std::string_view value) {
        auto rest = key.substr(storage::keys::firehose_checkpoint_prefix.size());
        // A name may hold '/' (an owner prefix); the log name after it never does.
        auto name = rest.substr(0, rest.rfind('/'));
        auto it = streams_.find(name);
        auto j = nlohmann::json::parse(value, nullptr, false);
        if (it == streams_.end() || j.is_discarded() || j.value("uid", std::uint64_t(0)) != it->second->uid)
            stale.emplace_back(key);
    });
    for (auto& key : stale) store_.delete_meta(key);
    spdlog::info("loaded {} delivery streams", streams_.size());
    return referenced;
}

delivery_snapshot firehose_registry::find(std::string_view name) const {
    std::shared_lock lock(mutex_);
    auto it = streams_.find(name);
    return it == streams_.end() ? nullptr : it->second;
}

std::vector<delivery_snapshot> firehose_registry::list() const {
    std::shared_lock lock(mutex_);
    std::vector<delivery_snapshot> out;
    out.reserve(streams_.size());
    for (auto& [name, s] : streams_) out.push_back(s);
    return out;
}

bool firehose_registry::persist(const delivery_stream& s, std::uint64_t expected) {
    std::uint64_t revision = 0;
    auto status = store_.put_meta_if(meta_key(s.name), s.to_json().dump(), expected, &revision);
    if (status.is_conflict()) return false;
    if (!status.ok()) {
        spdlog::error("persisting delivery stream {} failed: {}", s.name, status.to_string());
        throw api_error::internal();
    }
    revisions_[s.name] = revision;
    return true;
}

void firehose_registry::refresh_locked(std::string_view name) {
    std::string value;
    std::uint64_t revision = 0;
    auto st = store_.get_meta_revision(meta_key(name), &value, &revision);
    if (!st.ok()) {
        spdlog::error("reading delivery stream {} failed: {}", name, st.to_string());
        throw api_error::internal();
    }
    if (revision != 0) apply_stored_locked(name, &value, revision);
}

delivery_snapshot firehose_registry::create(delivery_stream state,
                                            const std::function<void(const firehose_registry&)>& check) {
    std::unique_lock lock(mutex_);
    check(*this);
    auto s = std::make_shared<delivery_stream>(std::move(state));
    // A stale checkpoint of an earlier stream of this name must not apply.
    delete_checkpoints(s->name, std::nullopt);
    attach_log(*s);
    // Created only if absent: of front ends creating one name at once,
    // exactly one wins.
    if (!persist(*s, 0)) {
        if (s->log) store_.drop_shard(s->log);
        refresh_locked(s->name);
        check(*this);
        throw api_error::resource_in_use("Firehose " + s->name + " already exists.");
    }
    streams_[s->name] = s;
    return s;
}

delivery_snapshot firehose_registry::update(std::string_view name, const std::function<void(delivery_stream&)>& fn) {
    std::unique_lock lock(mutex_);
    for (int attempt = 1;; ++attempt) {
        auto it = streams_.find(name);
        if (it == streams_.end()) return nullptr;
        auto copy = std::make_shared<delivery_stream>(*it->second);
        fn(*copy);
        auto known = revisions_.find(name);
        if (persist(*copy, known == revisions_.end() ? 0 : known->second)) {
            streams_[copy->name] = copy;
            return copy;
        }
        // Another front end changed it meanwhile: fn runs again on that.
        if (attempt == 5) throw api_error::concurrent_modification(
            "Firehose " + std::string(name) + " is being changed by another request.");
        refresh_locked(name);
    }
}

void firehose_registry::delete_checkpoints(std::string_view name, std::optional<std::uint64_t> keep_uid) {
    std::vector<std::string> keys;
    const auto prefix = checkpoint_prefix(name);
    store_.scan_meta(prefix, [&](std::string_view key, std::string_view value) {
        // "<name>/" also begins the keys of "<name>/<other>" (an owner prefix).
        if (key.substr(prefix.size()).find('/') != std::string_view::npos) return;
        if (keep_uid) {
            auto j = nlohmann::json::parse(value, nullptr, false);
            if (!j.is_discarded() && j.value("uid", std::uint64_t(0)) == *keep_uid) return;
        }
        keys.emplace_back(key);
    });
    for (auto& key : keys) store_.delete_meta(key);
}

void firehose_registry::remove(std::string_view name) {
    std::unique_lock lock(mutex_);
    auto it = streams_.find(name);
    if (it == streams_.end()) return;
    auto s = it->second;
    auto status = store_.delete_meta(meta_key(s->name));
    if (!status.ok()) spdlog::error("deleting metadata of delivery stream {} failed: {}", s->name, status.to_string());
    streams_.erase(it);
    if (s->log) store_.drop_shard(s->log);
    delete_checkpoints(s->name, std::nullopt);
    spdlog::info("deleted delivery stream {}", s->name);
}

void firehose_registry::sweep() {
    std::vector<std::string> due;
    {
        std::shared_lock lock(mutex_);
        auto now = clock_.now_ms();
        for (auto& [name, s] : streams_)
            if (s->deleting_since_ms && now >= *s->deleting_since_ms + options_.delete_delay_ms) due.push_back(name);
    }
    for (auto& name : due) remove(name);
}

std::optional<std::uint64_t> firehose_registry::checkpoint(const delivery_stream& s,
                                                           const std::string& shard) const {
    std::string value;
    if (!store_.get_meta(checkpoint_prefix(s.name) + shard, &value)) return std::nullopt;
    auto j = nlohmann::json::parse(value, nullptr, false);
    if (j.is_discarded() || j.value("uid", std::uint64_t(0)) != s.uid) return std::nullopt;
    return j.value("next", std::uint64_t(0));
}

bool firehose_registry::save_checkpoint(const delivery_stream& s, const std::string& shard, std::uint64_t next) {
    nlohmann::json j = {{"uid", s.uid}, {"next", next}};
    auto status = store_.put_meta(checkpoint_prefix(s.name) + shard, j.dump());
    if (!status.ok()) spdlog::error("saving checkpoint of delivery stream {} failed: {}", s.name, status.to_string());
    return status.ok();
}

}  // namespace kinesd::delivery
