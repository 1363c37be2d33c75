#include "actions/subscription_hub.h"

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
    std::shared_ptr<subscription> older;
    {
        std::lock_guard lock(mutex_);
        if (stopped_) throw api_error::service_unavailable("The server is shutting down.");
        auto it = live_.find(k);
        if (it != live_.end()) older = it->second.lock();
        if (older && now_ms - older->started_ms() < settings_.takeover_after_ms)
            throw api_error::resource_in_use(in_use_message(t));
        live_[k] = sub;
    }
    if (older) older->supersede();
}

void subscription_hub::remove(const subscription& sub) {
    const auto& t = sub.target();
    std::lock_guard lock(mutex_);
    auto it = live_.find(key{t.stream_uid, t.consumer_name, t.shard_index});
    if (it == live_.end()) return;
    // Only its own entry: a takeover has already put the newer one there.
    auto current = it->second.lock();
    if (!current || current.get() == &sub) live_.erase(it);
}

std::vector<std::shared_ptr<subscription>> subscription_hub::of_stream(std::uint64_t stream_uid) const {
    std::vector<std::shared_ptr<subscription>> out;
    std::lock_guard lock(mutex_);
    for (auto it = live_.lower_bound(key{stream_uid, "", 0}); it != live_.end() && std::get<0>(it->first) == stream_uid;
         ++it)
        if (auto sub = it->second.lock()) out.push_back(std::move(sub));
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
        for (auto& [k, weak] : live_)
            if (auto sub = weak.lock()) all.push_back(std::move(sub));
    }
    for (auto& sub : all) sub->stop();
}

std::size_t subscription_hub::size() const {
    std::lock_guard lock(mutex_);
    return live_.size();
}

}  // namespace kinesd::actions
