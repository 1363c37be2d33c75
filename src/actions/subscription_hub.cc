#include "actions/subscription_hub.h"

#include <boost/asio/post.hpp>

#include "actions/subscription.h"
#include "kinesd/api_error.h"
#include "streams/encoding.h"

namespace kinesd::actions {

std::string subscription_hub::in_use_message(const subscription_target& t) const {
    // Streams of other accounts than the default are kept as "<account>/<name>".
    const std::string_view key = t.stream_name;
    const auto slash = key.find('/');
    const std::string account = slash == std::string_view::npos ? account_id_ : std::string(key.substr(0, slash));
    const std::string name(slash == std::string_view::npos ? key : key.substr(slash + 1));
    return "Another active subscription exists for this consumer: " + account + ":" + name + ":" +
           encoding::shard_id(t.shard_index) + ":" + t.consumer_name;
}

void subscription_hub::admit(const std::shared_ptr<subscription>& sub, std::int64_t now_ms) {
    const auto& t = sub->target();
    key k{t.stream_uid, t.consumer_name, t.shard_index};
    auto in_use_here = [&] {
        std::lock_guard lock(mutex_);
        if (stopped_) throw api_error::service_unavailable("The server is shutting down.");
        auto it = live_.find(k);
        auto older = it != live_.end() ? it->second.sub.lock() : nullptr;
        if (older && now_ms - older->started_ms() < settings_.takeover_after_ms)
            throw api_error::resource_in_use(in_use_message(t));
    };
    in_use_here();
    entry e{sub, {}, {}};
    if (claims_) {
        e.claim_key = subscription_claims::key(t.stream_uid, t.shard_index, t.consumer_name);
        e.claim_id = claims_->next_id();
        if (!claims_->claim(e.claim_key, e.claim_id, now_ms, settings_.takeover_after_ms))
            throw api_error::resource_in_use(in_use_message(t));
    }
    std::shared_ptr<subscription> older;
    {
        std::lock_guard lock(mutex_);
        if (stopped_) throw api_error::service_unavailable("The server is shutting down.");
        auto& slot = live_[k];
        older = slot.sub.lock();
        slot = std::move(e);
    }
    if (older && older != sub) older->supersede();
}

void subscription_hub::claim_changed(const std::string& claim_key, const std::string* value) {
    if (!value) return;  // released: nothing to end
    const auto holder = subscription_claims::id_of(*value);
    std::vector<std::shared_ptr<subscription>> lost;
    {
        std::lock_guard lock(mutex_);
        for (auto& [k, e] : live_)
            if (e.claim_key == claim_key && e.claim_id != holder)
                if (auto sub = e.sub.lock()) lost.push_back(std::move(sub));
    }
    for (auto& sub : lost) sub->supersede();
}

void subscription_hub::remove(const subscription& sub) {
    const auto& t = sub.target();
    entry gone;
    {
        std::lock_guard lock(mutex_);
        auto it = live_.find(key{t.stream_uid, t.consumer_name, t.shard_index});
        if (it == live_.end()) return;
        // Only its own entry: a takeover has already put the newer one there.
        auto current = it->second.sub.lock();
        if (current && current.get() != &sub) return;
        gone = std::move(it->second);
        live_.erase(it);
    }
    // The claim goes too, so that a new subscription right after this one
    // ended is not refused; on a worker, since this may run on an I/O thread.
    if (claims_ && !gone.claim_key.empty())
        boost::asio::post(timers_, [claims = claims_, k = std::move(gone.claim_key), id = std::move(gone.claim_id)] {
            claims->release(k, id);
        });
}

std::vector<std::shared_ptr<subscription>> subscription_hub::of_stream(std::uint64_t stream_uid) const {
    std::vector<std::shared_ptr<subscription>> out;
    std::lock_guard lock(mutex_);
    for (auto it = live_.lower_bound(key{stream_uid, "", 0}); it != live_.end() && std::get<0>(it->first) == stream_uid;
         ++it)
        if (auto sub = it->second.sub.lock()) out.push_back(std::move(sub));
    return out;
}

void subscription_hub::stream_changed(std::uint64_t stream_uid) {
    for (auto& sub : of_stream(stream_uid)) sub->kick();
}

void subscription_hub::stop_all() {
    std::vector<std::shared_ptr<subscription>> all;
    {
        std::lock_guard lock(mutex_);
        stopped_ = true;
        for (auto& [k, e] : live_)
            if (auto sub = e.sub.lock()) all.push_back(std::move(sub));
    }
    for (auto& sub : all) sub->stop();
}

std::size_t subscription_hub::size() const {
    std::lock_guard lock(mutex_);
    return live_.size();
}

}  // namespace kinesd::actions
