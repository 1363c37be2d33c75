#include "delivery/delivery_manager.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <vector>

namespace kinesd::delivery {

namespace {

std::string lease_name(const delivery_stream& s) { return "firehose/" + s.name + "/" + std::to_string(s.uid); }

}  // namespace

delivery_manager::delivery_manager(firehose_registry& registry, streams::stream_registry& streams,
                                   storage::log_store& store, const kinesd::clock& clock, delivery_options options)
    : registry_(registry),
      streams_(streams),
      store_(store),
      clock_(clock),
      options_(std::move(options)),
      s3_(std::make_unique<s3_client>(options_.s3)),
      pool_(std::make_unique<boost::asio::thread_pool>(std::max(1, options_.upload_threads))),
      http_pool_(std::make_unique<boost::asio::thread_pool>(std::max(1, options_.http_threads))) {}

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
    worker_context ctx{registry_, streams_, store_, clock_, *s3_, *pool_, *http_pool_, options_};

    std::vector<running> retired;
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
            retired.push_back(std::move(it->second));
            it = workers_.erase(it);
        }
        for (auto& s : streams) {
            if (s->status(now) != delivery_status::active) continue;
            auto it = workers_.find(s->name);
            if (it == workers_.end()) {
                std::shared_ptr<lane_leases> lanes;
                if (leases_) lanes = std::make_shared<lane_leases>(*leases_, clock_, lease_name(*s),
                                                                lane_lease_options{.shared = shared_store_});
                auto worker = std::make_shared<delivery_worker>(ctx, s, lanes);
                worker->start();
                workers_.emplace(s->name, running{worker, s, lanes});
            } else if (it->second.stream != s) {
                it->second.worker->update(s);
                it->second.stream = s;
            }
        }
    }
    for (auto& r : retired) {
        r.worker->join();
        if (r.lanes) r.lanes->release_all();
    }
}

delivery_manager::stop_report delivery_manager::stop(std::chrono::steady_clock::time_point until) {
    stop_report report;
    {
        std::lock_guard lock(mutex_);
        if (stopped_) return report;
        stopped_ = true;
        stopping_ = true;
    }
    cv_.notify_all();
    if (thread_.joinable()) thread_.join();
    // A stream created since the last pass has records but no worker yet.
    try {
        reconcile();
    } catch (const std::exception& e) {
        spdlog::error("delivery: {}", e.what());
    }
    std::map<std::string, running> workers;
    {
        std::lock_guard lock(workers_mutex_);
        workers.swap(workers_);
    }
    // All flush at once, so shutdown takes as long as the slowest, not the sum.
    for (auto& [name, r] : workers) r.worker->request_stop(true, until);
    for (auto& [name, r] : workers) {
        r.worker->join();
        // What was flushed is checkpointed: another front end may go on now.
        if (r.lanes && r.worker->flushed().complete) r.lanes->release_all();
        const auto& f = r.worker->flushed();
        ++report.streams;
        if (f.complete) continue;
        ++report.incomplete;
        report.objects_left += f.objects_left;
        report.records_left += f.records_left;
    }
    if (report.objects_left > 0) {
        // An upload may be blocked on an unresponsive endpoint for its whole
        // request timeout; joining would outlast the deadline. Its batch was
        // never checkpointed, so the next start sends it again.
        pool_->stop();
        http_pool_->stop();
        (void)pool_.release();
        (void)http_pool_.release();
        (void)s3_.release();
    } else {
        pool_->join();
        http_pool_->join();
    }
    spdlog::info("delivery stopped ({} delivery streams flushed, {} with data left)", report.streams,
                 report.incomplete);
    return report;
}

}  // namespace kinesd::delivery
