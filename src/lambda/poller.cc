#include "lambda/poller.h"

#include <spdlog/spdlog.h>

namespace kinesd::lambda {

poller::poller(mapping_registry& mappings, streams::stream_registry& streams, storage::log_store& store,
               const kinesd::clock& clock, invoke_function invoke, esm_metrics& metrics, poller_options options,
               std::string default_account, streams::commit_notifier* notifier)
    : mappings_(mappings), streams_(streams), store_(store), clock_(clock), invoke_(std::move(invoke)),
      metrics_(metrics), options_(std::move(options)), default_account_(std::move(default_account)),
      notifier_(notifier) {
    s3_ = std::make_unique<delivery::s3_client>(options_.s3);
}

poller::~poller() { stop(); }

void poller::start() { thread_ = std::thread([this] { loop(); }); }

void poller::stop() {
    {
        std::lock_guard lock(mutex_);
        stop_ = true;
    }
    cv_.notify_all();
    if (thread_.joinable()) thread_.join();
}

void poller::wake() {
    {
        std::lock_guard lock(mutex_);
        woken_ = true;
    }
    cv_.notify_all();
}

std::string poller::stream_key(const mapping& m) const {
    auto arn = m.stream_arn();
    auto name = arn.substr(arn.find(":stream/") + 8);
    return m.account == default_account_ ? name : m.account + "/" + name;
}

void poller::loop() {
    std::unique_lock lock(mutex_);
    while (!stop_) {
        lock.unlock();
        try {
            refresh();
        } catch (const std::exception& e) {
            spdlog::error("event source mappings: {}", e.what());
        }
        lock.lock();
        cv_.wait_for(lock, std::chrono::milliseconds(options_.refresh_ms), [this] { return stop_ || woken_; });
        woken_ = false;
    }
    lock.unlock();
    // Every lane is asked first, then joined: they stop in parallel.
    for (auto& [uuid, run] : runs_)
        for (auto& [cf, lane] : run.lanes) lane->request_stop();
    runs_.clear();
    // Checkpoints are written as batches finish: another front end may go on.
    if (leases_)
        for (auto& m : mappings_.list()) leases_->release("esm/" + m->uuid);
}

void poller::refresh() {
    mappings_.sweep();
    const auto now = clock_.now_ms();
    std::map<std::string, mapping_snapshot> wanted;
    for (auto& m : mappings_.list())
        if (m->active(now) && (!leases_ || leases_->hold("esm/" + m->uuid))) wanted[m->uuid] = m;
    for (auto it = runs_.begin(); it != runs_.end();) {
        if (wanted.count(it->first)) {
            ++it;
            continue;
        }
        for (auto& [cf, lane] : it->second.lanes) lane->request_stop();
        if (!mappings_.find(it->first)) metrics_.forget(it->first);
        it = runs_.erase(it);
    }
    for (auto& [uuid, m] : wanted) {
        auto& run = runs_[uuid];
        if (!run.source) {
            run.source = std::make_shared<mapping_source>(m);
            run.source->counters = metrics_.of(uuid, m->function_name);
        } else if (run.source->get()->version != m->version) {
            run.source->set(m);
        }
        sync(run, m);
    }
}

void poller::sync(run_state& run, const mapping_snapshot& m) {
    auto s = streams_.find(stream_key(*m));
    if (!s) return;
    if (run.stream_uid != s->uid) {
        // A re-created stream of the same name: its shards start over.
        run.lanes.clear();
        run.stream_uid = s->uid;
    }
    lane_context ctx{mappings_, streams_, store_, clock_, invoke_, s3_.get(), options_, notifier_};
    for (const auto& shard : s->shards) {
        if (!shard.log) continue;
        auto& lane = run.lanes[shard.log->name];
        if (lane) continue;  // finished lanes stay, so a closed shard is not read again
        auto cp = mappings_.load_checkpoint(m->uuid, shard.log->name);
        lane = std::make_unique<shard_lane>(ctx, run.source, stream_key(*m), s->uid, shard.index);
        // A closed shard already delivered to its end needs no thread.
        if (shard.closed_ms && cp && cp->stream_uid == s->uid && cp->next > shard.log->committed.load()) {
            store_.refresh_tip(*shard.log);
            if (cp->next > shard.log->committed.load()) continue;
        }
        lane->start();
    }
}

}  // namespace kinesd::lambda
