#include "storage/lease_keeper.h"

#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include <algorithm>

#include "common/clock.h"

namespace kinesd::storage {

namespace {

struct lease_value {
    std::string owner;
    std::int64_t expires_ms = 0;
};

bool parse(const std::string& text, lease_value* out) {
    auto j = nlohmann::json::parse(text, nullptr, false);
    if (j.is_discarded() || !j.is_object()) return false;
    out->owner = j.value("owner", std::string());
    out->expires_ms = j.value("expires_ms", std::int64_t(0));
    return true;
}

std::string dump(std::string_view owner, std::int64_t expires_ms) {
    return nlohmann::json{{"owner", owner}, {"expires_ms", expires_ms}}.dump();
}

}  // namespace

lease_keeper::lease_keeper(log_store& store, const kinesd::clock& clock, std::string owner, lease_options options)
    : store_(store), clock_(clock), owner_(std::move(owner)), options_(options) {}

std::string lease_keeper::key(std::string_view name) { return "lease/" + std::string(name); }

bool lease_keeper::hold(std::string_view name) {
    std::lock_guard lock(mutex_);
    const auto now = clock_.now_ms();
    auto it = held_.find(name);
    if (it != held_.end() && now < it->second.renewed_ms + options_.renew_ms && now < it->second.expires_ms)
        return true;

    if (auto busy = busy_until_.find(name); busy != busy_until_.end()) {
        if (now < busy->second) return false;
        busy_until_.erase(busy);
    }
    const auto k = key(name);
    std::string text;
    std::uint64_t revision = 0;
    auto st = store_.get_meta_revision(k, &text, &revision);
    if (!st.ok() && !st.is_not_found()) {
        spdlog::warn("lease {}: cannot read it: {}", name, st.to_string());
        // Still ours until it expires: nobody else may take it before then.
        return it != held_.end() && now < it->second.expires_ms;
    }
    lease_value current;
    if (revision != 0 && parse(text, &current) && current.owner != owner_ && now < current.expires_ms) {
        if (it != held_.end()) {
            spdlog::warn("lease {} was taken by {}", name, current.owner);
            held_.erase(it);
        }
        busy_until_[std::string(name)] = std::min(current.expires_ms, now + options_.renew_ms / 2);
        return false;
    }
    const auto expires = now + options_.ttl_ms;
    std::uint64_t next = 0;
    st = store_.put_meta_if(k, dump(owner_, expires), revision, &next);
    if (!st.ok()) {
        if (!st.is_conflict()) spdlog::warn("lease {}: cannot write it: {}", name, st.to_string());
        if (st.is_conflict() && it != held_.end()) held_.erase(it);
        return it != held_.end() && now < it->second.expires_ms;
    }
    if (it == held_.end()) {
        spdlog::info("lease {} taken by {}", name, owner_);
        it = held_.emplace(std::string(name), held{}).first;
    }
    it->second = held{next, expires, now};
    return true;
}

void lease_keeper::release(std::string_view name) {
    std::lock_guard lock(mutex_);
    auto it = held_.find(name);
    if (it == held_.end()) return;
    auto st = store_.delete_meta_if(key(name), it->second.revision);
    if (!st.ok() && !st.is_conflict()) spdlog::warn("lease {}: cannot release it: {}", name, st.to_string());
    held_.erase(it);
}

std::string lease_keeper::holder(std::string_view name, std::int64_t* expires_ms) const {
    std::string text;
    if (!store_.get_meta(key(name), &text)) return {};
    lease_value v;
    if (!parse(text, &v)) return {};
    if (expires_ms) *expires_ms = v.expires_ms;
    return v.owner;
}

}  // namespace kinesd::storage
