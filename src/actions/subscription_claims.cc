#include "actions/subscription_claims.h"

#include <spdlog/spdlog.h>

#include <charconv>

namespace kinesd::actions {

namespace {

// Conflicts with other front ends' claims are retried this often before the
// subscription is refused as in use: each retry reads the newer claim.
constexpr int max_attempts = 5;

std::int64_t started_of(std::string_view value) {
    const auto space = value.find(' ');
    std::int64_t ms = 0;
    if (space == std::string_view::npos) return 0;
    std::from_chars(value.data() + space + 1, value.data() + value.size(), ms);
    return ms;
}

}  // namespace

std::string subscription_claims::key(std::uint64_t stream_uid, std::uint32_t shard_index, std::string_view consumer) {
    std::string k(prefix);
    k += std::to_string(stream_uid);
    k += '/';
    k += std::to_string(shard_index);
    k += '/';
    k += consumer;
    return k;
}

std::string subscription_claims::next_id() {
    std::lock_guard lock(mutex_);
    return owner_ + "-" + std::to_string(++next_);
}

std::string_view subscription_claims::id_of(std::string_view value) { return value.substr(0, value.find(' ')); }

bool subscription_claims::claim(const std::string& key, const std::string& id, std::int64_t now_ms,
                                std::int64_t window_ms) {
    const std::string value = id + " " + std::to_string(now_ms);
    for (int attempt = 0; attempt < max_attempts; ++attempt) {
        std::string held;
        std::uint64_t revision = 0;
        auto st = store_.get_meta_revision(key, &held, &revision);
        if (!st.ok() && !st.is_not_found()) {
            // Better served than refused for a store that cannot answer: the
            // rule is about two clients, not about losing records.
            spdlog::warn("subscription claim {}: {}", key, st.to_string());
            return true;
        }
        if (revision != 0 && now_ms - started_of(held) < window_ms) return false;
        std::uint64_t written = 0;
        st = store_.put_meta_if(key, value, revision, &written);
        if (st.ok()) return true;
        if (!st.is_conflict()) {
            spdlog::warn("subscription claim {}: {}", key, st.to_string());
            return true;
        }
    }
    return false;
}

void subscription_claims::release(const std::string& key, const std::string& id) {
    std::string held;
    std::uint64_t revision = 0;
    if (!store_.get_meta_revision(key, &held, &revision).ok() || revision == 0) return;
    if (id_of(held) != id) return;  // a newer subscription holds it now
    (void)store_.delete_meta_if(key, revision);
}

}  // namespace kinesd::actions
