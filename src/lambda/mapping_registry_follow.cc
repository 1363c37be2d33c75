// How the event source mapping registry follows the metadata other front
// ends write (see storage/meta_follower.h).
#include <spdlog/spdlog.h>

#include <mutex>

#include "lambda/mapping_registry.h"

namespace kinesd::lambda {

void mapping_registry::apply_stored(std::string_view key, const std::string* value, std::uint64_t revision) {
    if (key.substr(0, meta_prefix.size()) != meta_prefix) return;
    std::unique_lock lock(mutex_);
    apply_stored_locked(key.substr(meta_prefix.size()), value, revision);
}

void mapping_registry::apply_stored_locked(std::string_view uuid, const std::string* value, std::uint64_t revision) {
    auto it = mappings_.find(uuid);
    // A change this front end made itself, or one already applied (notices
    // can arrive after a later change was read directly).
    if (auto known = revisions_.find(uuid); known != revisions_.end() && revision <= known->second) return;
    if (!value) {
        if (it != mappings_.end()) mappings_.erase(it);
        revisions_[std::string(uuid)] = revision;
        return;
    }
    auto j = nlohmann::json::parse(*value, nullptr, false);
    if (j.is_discarded()) {
        spdlog::error("ignoring corrupt event source mapping {}", uuid);
        return;
    }
    auto m = std::make_shared<mapping>(mapping::from_store(j));
    mappings_[m->uuid] = std::move(m);
    revisions_[std::string(uuid)] = revision;
}

}  // namespace kinesd::lambda
