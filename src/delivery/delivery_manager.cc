#include "delivery/delivery_manager.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <vector>

namespace kinesd::delivery {

delivery_manager::delivery_manager(firehose_registry& registry, streams::stream_registry& streams,
                                   storage::store& store, const kinesd::clock& clock, delivery_options options)
    : registry_(registry),
      streams_(streams),
      store_(store),
      clock_(clock),
      options_(std::move(options)),
      s3_(options_.s3),
      pool_(std::max(1, options_.upload_threads)) {}

delivery_manager::~delivery_manager() { stop(); }

void delivery_manager::start() {
    thread_ = std::thread([this] { loop(); });
}

void delivery_manager::loop() {
    std::unique_lock lock(mutex_);
    while (!stopping_) {
        lock.unlock();
        try {
            reconcile();
        } catch (const std::exception& e) {
            spdlog::error("delivery: {}", e.what());
        }
        lock.lock();
        cv_.wait_for(lock, std::chrono::milliseconds(100), [this] { return stopping_; });
    }
}

void delivery_manager::reconcile() {
    registry_.sweep();
    auto now = clock_.now_ms();
    auto streams = registry_.list();
    worker_context ctx{registry_, streams_, store_, clock_, s3_, pool_, options_};

    std::vector<std::shared_ptr<delivery_worker>> retired;
    {
        std::lock_guard lock(workers_mutex_);
        for (auto it = workers_.begin(); it != workers_.end();) {
            auto found = std::find_if(streams.begin(), streams.end(), [&](auto& s) { return s->name == it->first; });
            bool keep = found != streams.end() && (*found)->uid == it->second.stream->uid &&
                        (*found)->status(now) == delivery_status::active;
            if (keep) {
                ++it;
                continue;
            }
            // A deleted stream's buffered data is dropped, as AWS does.
            it->second.worker->request_stop(false);
            retired.push_back(it->second.worker);
            it = workers_.erase(it);
        }
        for (auto& s : streams) {
            if (s->status(now) != delivery_status::active) continue;
            auto it = workers_.find(s->name);
            if (it == workers_.end()) {
                auto worker = std::make_shared<delivery_worker>(ctx, s);
                worker->start();
                workers_.emplace(s->name, running{worker, s});
            } else if (it->second.stream != s) {
                it->second.worker->update(s);
                it->second.stream = s;
            }
        }
    }
    for (auto& w : retired) w->join();
}

void delivery_manager::stop() {
    {
        std::lock_guard lock(mutex_);
        if (stopped_) return;
        stopped_ = true;
        stopping_ = true;
    }
    cv_.notify_all();
    if (thread_.joinable()) thread_.join();
    std::map<std::string, running> workers;
    {
        std::lock_guard lock(workers_mutex_);
        workers.swap(workers_);
    }
    // All flush at once, so shutdown takes as long as the slowest, not the sum.
    for (auto& [name, r] : workers) r.worker->request_stop(true);
    for (auto& [name, r] : workers) r.worker->join();
    pool_.join();
    spdlog::info("delivery stopped ({} delivery streams flushed)", workers.size());
}

}  // namespace kinesd::delivery
