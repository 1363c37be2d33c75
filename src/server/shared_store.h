#pragma once
// What a front end keeps in step with the store it may share with others:
// the registries follow the metadata other front ends write, subscription
// claims tell the hub when another front end took a subscription over, and
// the iterator secret is one for all.
#include <atomic>
#include <string>

#include "actions/subscription_hub.h"
#include "delivery/firehose_registry.h"
#include "lambda/mapping_registry.h"
#include "storage/log_store.h"
#include "storage/meta_follower.h"
#include "streams/stream_registry.h"

namespace kinesd::server {

// Registers the follower's handlers (before follower.start()). Claim changes
// reach `claims_hub` once it is set (the hub is made later than the follower).
void follow_shared_store(storage::meta_follower& follower, streams::stream_registry& streams,
                         delivery::firehose_registry& firehose, lambda::mapping_registry& mappings,
                         std::atomic<actions::subscription_hub*>& claims_hub);

// The HMAC key of shard iterators and paging tokens, created once per store
// so that iterators survive restarts and every front end accepts them.
std::string load_secret(storage::log_store& store);

}  // namespace kinesd::server
