#include "lambda/mapping_registry.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <mutex>

#include "kinesd/api_error.h"

namespace kinesd::lambda {

namespace {

constexpr std::string_view checkpoint_prefix = "esm-checkpoint/";

std::string checkpoint_key(std::string_view uuid, std::string_view shard_cf) {
    std::string key(checkpoint_prefix);
    key += uuid;
    key += '/';
    key += shard_cf;
    return key;
}

}  // namespace

void mapping_registry::load() {
    std::unique_lock lock(mutex_);
    store_.scan_meta(meta_prefix, [&](std::string_view, std::string_view value) {
        auto j = nlohmann::json::parse(value, nullptr, false);
        if (j.is_discarded()) {
            spdlog::error("skipping a corrupt event source mapping in the data directory");
            return;
        }
        auto m = std::make_shared<mapping>(mapping::from_store(j));
        mappings_[m->uuid] = std::move(m);
    });
    for (auto& [uuid, m] : mappings_) {
        std::string value;
        std::uint64_t revision = 0;
        if (store_.get_meta_revision(std::string(meta_prefix) + uuid, &value, &revision).ok())
            revisions_[uuid] = revision;
    }
    spdlog::info("loaded {} event source mappings", mappings_.size());
}

mapping_snapshot mapping_registry::find(std::string_view uuid) const {
    std::shared_lock lock(mutex_);
    auto it = mappings_.find(uuid);
    return it == mappings_.end() ? nullptr : it->second;
}

std::vector<mapping_snapshot> mapping_registry::list() const {
    std::vector<mapping_snapshot> out;
    {
        std::shared_lock lock(mutex_);
        for (auto& [uuid, m] : mappings_) out.push_back(m);
    }
    std::stable_sort(out.begin(), out.end(),
                     [](const mapping_snapshot& a, const mapping_snapshot& b) { return a->created_ms < b->created_ms; });
    return out;
}

bool mapping_registry::persist(const mapping& m, std::uint64_t expected) {
    std::uint64_t revision = 0;
    auto status = store_.put_meta_if(std::string(meta_prefix) + m.uuid, m.to_store().dump(), expected, &revision);
    if (status.is_conflict()) return false;
    if (!status.ok()) {
        spdlog::error("persisting event source mapping {} failed: {}", m.uuid, status.to_string());
        throw api_error::internal();
    }
    revisions_[m.uuid] = revision;
    return true;
}

mapping_snapshot mapping_registry::create(mapping m,
                                          const std::function<void(const std::vector<mapping_snapshot>&)>& check) {
    std::unique_lock lock(mutex_);
    std::vector<mapping_snapshot> all;
    for (auto& [uuid, existing] : mappings_) all.push_back(existing);
    check(all);
    auto snapshot = std::make_shared<mapping>(std::move(m));
    // UUIDs are random: a conflict here means a broken random source.
    if (!persist(*snapshot, 0)) throw api_error::internal();
    mappings_[snapshot->uuid] = snapshot;
    return snapshot;
}

mapping_snapshot mapping_registry::update(std::string_view uuid, const std::function<void(mapping&)>& fn) {
    std::unique_lock lock(mutex_);
    for (int attempt = 1;; ++attempt) {
        auto it = mappings_.find(uuid);
        if (it == mappings_.end()) return nullptr;
        auto copy = std::make_shared<mapping>(*it->second);
        fn(*copy);
        auto known = revisions_.find(uuid);
        if (persist(*copy, known == revisions_.end() ? 0 : known->second)) {
            mappings_[copy->uuid] = copy;
            return copy;
        }
        // Another front end changed it meanwhile: fn runs again on that.
        if (attempt == 5) throw api_error::internal();
        std::string value;
        std::uint64_t revision = 0;
        auto st = store_.get_meta_revision(std::string(meta_prefix) + std::string(uuid), &value, &revision);
        if (!st.ok()) throw api_error::internal();
        apply_stored_locked(uuid, revision ? &value : nullptr, revision);
    }
}

void mapping_registry::set_result(std::string_view uuid, const std::string& result) {
    {
        std::shared_lock lock(mutex_);
        auto it = mappings_.find(uuid);
        if (it == mappings_.end() || it->second->last_processing_result == result) return;
    }
    try {
        update(uuid, [&](mapping& m) { m.last_processing_result = result; });
    } catch (const std::exception& e) {
        spdlog::warn("event source mapping {}: cannot record the processing result: {}", uuid, e.what());
    }
}

void mapping_registry::sweep() {
    const auto now = clock_.now_ms();
    std::vector<std::string> gone;
    {
        std::unique_lock lock(mutex_);
        for (auto it = mappings_.begin(); it != mappings_.end();) {
            const auto& m = *it->second;
            if (m.target == target_state::deleted && now >= m.transition_until_ms) {
                store_.delete_meta(std::string(meta_prefix) + m.uuid);
                gone.push_back(m.uuid);
                it = mappings_.erase(it);
            } else {
                ++it;
            }
        }
    }
    for (auto& uuid : gone) {
        std::vector<std::string> keys;
        store_.scan_meta(checkpoint_key(uuid, ""),
                         [&](std::string_view key, std::string_view) { keys.emplace_back(key); });
        for (auto& key : keys) store_.delete_meta(key);
        spdlog::info("deleted event source mapping {}", uuid);
    }
}

std::optional<mapping_registry::checkpoint> mapping_registry::load_checkpoint(std::string_view uuid,
                                                                              std::string_view shard_cf) const {
    std::string value;
    if (!store_.get_meta(checkpoint_key(uuid, shard_cf), &value)) return std::nullopt;
    auto j = nlohmann::json::parse(value, nullptr, false);
    if (j.is_discarded()) return std::nullopt;
    return checkpoint{j.value("uid", std::uint64_t(0)), j.value("next", std::uint64_t(0))};
}

bool mapping_registry::save_checkpoint(std::string_view uuid, std::string_view shard_cf, checkpoint c) {
    nlohmann::json j = {{"uid", c.stream_uid}, {"next", c.next}};
    auto status = store_.put_meta(checkpoint_key(uuid, shard_cf), j.dump());
    if (!status.ok()) spdlog::error("saving checkpoint of mapping {} failed: {}", uuid, status.to_string());
    return status.ok();
}

}  // namespace kinesd::lambda
