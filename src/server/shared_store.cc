#include "server/shared_store.h"

#include <optional>
#include <stdexcept>

#include "actions/subscription_claims.h"
#include "common/random.h"
#include "storage/keys.h"

namespace kinesd::server {

void follow_shared_store(storage::meta_follower& follower, streams::stream_registry& streams,
                         delivery::firehose_registry& firehose, lambda::mapping_registry& mappings,
                         std::atomic<actions::subscription_hub*>& claims_hub) {
    using value_type = std::optional<std::string>;
    follower.follow(std::string(storage::keys::stream_meta_prefix),
                    [&streams](const std::string& key, const value_type& value, std::uint64_t revision) {
                        streams.apply_stored(key, value ? &*value : nullptr, revision);
                    });
    follower.follow(std::string(storage::keys::firehose_meta_prefix),
                    [&firehose](const std::string& key, const value_type& value, std::uint64_t revision) {
                        firehose.apply_stored(key, value ? &*value : nullptr, revision);
                    });
    follower.follow(std::string(lambda::mapping_registry::meta_prefix),
                    [&mappings](const std::string& key, const value_type& value, std::uint64_t revision) {
                        mappings.apply_stored(key, value ? &*value : nullptr, revision);
                    });
    follower.follow(std::string(actions::subscription_claims::prefix),
                    [&claims_hub](const std::string& key, const value_type& value, std::uint64_t) {
                        if (auto* hub = claims_hub.load()) hub->claim_changed(key, value ? &*value : nullptr);
                    });
}

std::string load_secret(storage::log_store& store) {
    std::string secret;
    if (store.get_meta(storage::keys::iterator_secret_key, &secret) && secret.size() == 32) return secret;
    // Only if absent: front ends sharing a backend that start together must
    // agree on one secret, so the loser takes the winner's.
    secret = random_bytes(32);
    std::uint64_t revision = 0;
    auto s = store.put_meta_if(storage::keys::iterator_secret_key, secret, 0, &revision);
    if (s.is_conflict()) {
        std::string theirs;
        if (store.get_meta(storage::keys::iterator_secret_key, &theirs) && theirs.size() == 32) return theirs;
        s = store.put_meta(storage::keys::iterator_secret_key, secret);  // an unusable one is replaced
    }
    if (!s.ok()) throw std::runtime_error("cannot write the iterator secret to storage: " + s.to_string());
    return secret;
}

}  // namespace kinesd::server
