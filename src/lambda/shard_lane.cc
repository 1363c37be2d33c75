#include "lambda/shard_lane.h"

#include <spdlog/spdlog.h>

#include <algorithm>

#include "lambda/batch_delivery.h"
#include "lambda/event_filter.h"
#include "streams/encoding.h"

namespace kinesd::lambda {

shard_lane::shard_lane(lane_context ctx, std::shared_ptr<mapping_source> source, std::string stream_key,
                       std::uint64_t stream_uid, std::uint32_t shard_index)
    : ctx_(ctx), source_(std::move(source)), stream_key_(std::move(stream_key)), stream_uid_(stream_uid),
      index_(shard_index) {}

shard_lane::~shard_lane() {
    request_stop();
    join();
}

void shard_lane::start() { thread_ = std::thread([this] { run(); }); }

void shard_lane::request_stop() {
    {
        std::lock_guard lock(wake_->mutex);
        stop_ = true;
        wake_->stop = true;
    }
    wake_->cv.notify_all();
}

void shard_lane::join() {
    if (thread_.joinable()) thread_.join();
}

bool shard_lane::sleep_ms(std::int64_t ms) {
    std::unique_lock lock(wake_->mutex);
    wake_->cv.wait_for(lock, std::chrono::milliseconds(ms), [this] { return wake_->stop; });
    return !wake_->stop;
}

bool shard_lane::wait_for_records(std::uint64_t from, std::int64_t ms) {
    if (!ctx_.notifier) return sleep_ms(std::min(ms, ctx_.options.idle_poll_ms));
    {
        std::lock_guard lock(wake_->mutex);
        wake_->committed = false;
    }
    // The callback runs on the storage writer: it only flips a flag.
    auto token = ctx_.notifier->wait(*log_, from, [wake = wake_] {
        {
            std::lock_guard lock(wake->mutex);
            wake->committed = true;
        }
        wake->cv.notify_all();
    });
    if (token == 0) return !stop_;  // already committed
    bool stopped;
    {
        std::unique_lock lock(wake_->mutex);
        wake_->cv.wait_for(lock, std::chrono::milliseconds(ms), [this] { return wake_->stop || wake_->committed; });
        stopped = wake_->stop;
    }
    ctx_.notifier->cancel(*log_, token);
    return !stopped;
}

bool shard_lane::refresh_stream() {
    auto s = ctx_.streams.find(stream_key_);
    if (!s || s->uid != stream_uid_ || s->status(ctx_.clock.now_ms()) == streams::stream_status::deleting) return false;
    const auto* shard = s->find_shard(index_);
    if (!shard || !shard->log) return false;
    log_ = shard->log;
    created_s_ = shard->created_s;
    closed_ms_ = shard->closed_ms;
    parent_ = shard->parent;
    adjacent_parent_ = shard->adjacent_parent;
    if (!parents_ok_) parents_ok_ = parents_done(*s);
    // A consumer as the source: its records are counted as that consumer's
    // SubscribeToShard events, since they are read on its behalf.
    consumer_metrics_.reset();
    if (const auto m = source_->get(); m->through_consumer()) {
        auto name = m->event_source_arn.substr(m->event_source_arn.find("/consumer/") + 10);
        name = name.substr(0, name.find(':'));
        for (const auto& c : s->consumers)
            if (c.name == name && !c.deleting_since_ms) consumer_metrics_ = c.metrics;
    }
    refreshed_ms_ = ctx_.clock.now_ms();
    return true;
}

bool shard_lane::parents_done(const streams::stream_state& s) const {
    const auto now = ctx_.clock.now_ms();
    const auto m = source_->get();
    for (auto parent : {parent_, adjacent_parent_}) {
        if (!parent) continue;
        const auto* p = s.find_shard(*parent);
        if (!p || !p->log) continue;  // expired and dropped: nothing left to wait for
        // A short grace after closing lets appends routed just before the
        // reshard land before the parent counts as read to its end.
        if (!p->closed_ms || *p->closed_ms + 1000 > now) return false;
        // Drained only by what every front end appended.
        ctx_.store.refresh_tip(*p->log);
        const auto committed = p->log->committed.load();
        if (p->log->trimmed_below.load() > committed) continue;
        auto cp = ctx_.registry.load_checkpoint(m->uuid, p->log->name);
        if (!cp || cp->stream_uid != stream_uid_ || cp->next <= committed) return false;
    }
    return true;
}

void shard_lane::save(std::uint64_t next) {
    const auto m = source_->get();
    ctx_.registry.save_checkpoint(m->uuid, log_->name, {stream_uid_, next});
}

void shard_lane::choose_start(const mapping& m) {
    auto cp = ctx_.registry.load_checkpoint(m.uuid, log_->name);
    if (cp && cp->stream_uid == stream_uid_) {
        next_ = cp->next;
    } else {
        // LATEST: what arrives after the mapping was made, in this shard
        // and in the ones a later reshard makes.
        if (m.starting_position == "LATEST") {
            ctx_.store.refresh_tip(*log_);
            next_ = ctx_.store.counter_at_time(*log_, m.created_ms);
        }
        else if (m.starting_position == "AT_TIMESTAMP" && m.starting_position_timestamp)
            next_ = ctx_.store.counter_at_time(*log_, std::int64_t(*m.starting_position_timestamp * 1000.0));
        else
            next_ = 0;  // TRIM_HORIZON
        // Kept at once, so that LATEST means the same records after a restart.
        save(next_);
    }
    started_ = true;
}

void shard_lane::run() {
    event_.shard_id = encoding::shard_id(index_);
    while (!stop_) {
        auto m = source_->get();
        const auto now = ctx_.clock.now_ms();
        if (!log_ || now - refreshed_ms_ >= ctx_.options.refresh_ms) {
            if (!refresh_stream()) {
                finished_ = true;  // the stream or shard is gone
                return;
            }
        }
        if (!parents_ok_) {
            sleep_ms(ctx_.options.refresh_ms);
            continue;
        }
        event_.stream_arn = m->stream_arn();
        event_.region = m->region;
        event_.identity_arn = "arn:aws:iam::" + m->account + ":role/" + m->function_name + "-role";
        if (!started_) choose_start(*m);
        bool worked = false;
        try {
            worked = step(m);
        } catch (const std::exception& e) {
            spdlog::error("mapping {} {}: {}", m->uuid, event_.shard_id, e.what());
            sleep_ms(ctx_.options.max_backoff_ms);  // not a tight loop of the same failure
        }
        if (finished_) return;
        if (worked) continue;
        // Records there but held back (a batching window): look again soon.
        // Otherwise sleep until the writer commits the next record, or until
        // the next refresh (a reshard, a window to close, new settings).
        const auto from = std::max(next_, log_->trimmed_below.load());
        if (from <= log_->committed.load())
            sleep_ms(ctx_.options.idle_poll_ms);
        else
            wait_for_records(from, ctx_.options.refresh_ms);
    }
}

bool shard_lane::deliver_window_end(const mapping_snapshot& m, std::int64_t now) {
    // The window is over and its records are in: one last call says so.
    const std::int64_t width = std::int64_t(m->tumbling_window_s) * 1000;
    if (!window_ || now < window_->start_ms + width) return false;
    batch_delivery d(ctx_, *m, event_, *source_->counters, [this](std::int64_t ms) { return sleep_ms(ms); });
    batch_delivery::window_call call;
    call.fields = {{"window", {{"start", iso_ms(window_->start_ms)}, {"end", iso_ms(window_->start_ms + width)}}},
                   {"shardId", event_.shard_id}, {"eventSourceARN", event_.stream_arn},
                   {"isFinalInvokeForWindow", true}, {"isWindowTerminatedEarly", false}};
    call.state = &window_->state;
    if (!d.deliver({}, &call)) return false;
    window_.reset();
    save(next_);
    return true;
}

bool shard_lane::step(const mapping_snapshot& m) {
    const auto now = ctx_.clock.now_ms();
    // An update that turned the windows off leaves no window to hold the
    // checkpoint back (its records were all handed over already).
    if (m->tumbling_window_s == 0) window_.reset();
    const auto committed = log_->committed.load();
    const auto from = std::max(next_, log_->trimmed_below.load());
    if (from > committed) {
        pending_since_ms_ = 0;
        if (m->tumbling_window_s > 0 && deliver_window_end(m, now)) return true;
        if (closed_ms_ && *closed_ms_ + 1000 <= now && !window_) {
            // Read to the end of a closed shard: its children may go.
            save(from);
            finished_ = true;
        }
        return false;
    }
    // MaximumBatchingWindowInSeconds: wait for a full batch that long.
    const auto available = committed - from + 1;
    if (m->max_batching_window_s > 0 && available < std::uint64_t(m->batch_size)) {
        if (!pending_since_ms_) pending_since_ms_ = now;
        if (now - pending_since_ms_ < std::int64_t(m->max_batching_window_s) * 1000) return false;
    }
    pending_since_ms_ = 0;

    const std::int64_t width = std::int64_t(m->tumbling_window_s) * 1000;
    std::vector<source_record> batch;
    std::uint64_t end = from;
    std::size_t bytes = 0;
    bool window_closed = false;
    encoding::sequence_stepper seq(created_s_, index_);
    ctx_.store.read(*log_, from, std::size_t(m->batch_size), ctx_.options.max_batch_bytes,
                    [&](const storage::record_view& r) {
                        if (width > 0) {
                            const auto start = r.arrival_ms / width * width;
                            if (window_ && start != window_->start_ms) {
                                window_closed = true;
                                return false;
                            }
                            if (!window_) window_ = window_state{start, r.counter, nlohmann::json::object()};
                        }
                        source_record rec;
                        rec.counter = r.counter;
                        rec.arrival_ms = r.arrival_ms;
                        rec.partition_key.assign(r.partition_key);
                        rec.data.assign(r.data);
                        rec.sequence_number.assign(seq.next(r.counter, std::uint64_t(r.arrival_ms / 1000)));
                        bytes += rec.data.size() + rec.partition_key.size();
                        batch.push_back(std::move(rec));
                        end = r.counter + 1;
                        return true;
                    });
    if (window_closed && batch.empty()) return deliver_window_end(m, std::max(now, window_->start_ms + width));
    if (batch.empty()) {
        next_ = std::max(next_, end);
        return false;
    }

    // Filtered-out records are consumed without an invocation.
    event_filter filter(m->filter_criteria);
    if (!filter.empty()) {
        const auto before = batch.size();
        std::erase_if(batch, [&](const source_record& r) { return !filter.matches(filter_view(event_, r)); });
        source_->counters->filtered.fetch_add(before - batch.size(), std::memory_order_relaxed);
    }

    auto sleeper = [this](std::int64_t ms) { return sleep_ms(ms); };
    bool ok = true;
    if (width > 0) {
        batch_delivery d(ctx_, *m, event_, *source_->counters, sleeper);
        batch_delivery::window_call call;
        call.fields = {{"window", {{"start", iso_ms(window_->start_ms)}, {"end", iso_ms(window_->start_ms + width)}}},
                       {"shardId", event_.shard_id}, {"eventSourceARN", event_.stream_arn},
                       {"isFinalInvokeForWindow", false}, {"isWindowTerminatedEarly", false}};
        call.state = &window_->state;
        ok = batch.empty() || d.deliver(std::move(batch), &call);
    } else if (m->parallelization_factor > 1 && batch.size() > 1) {
        // Records of one partition key stay in one group, in order; the
        // groups are in flight together and the checkpoint waits for all.
        const auto n = std::size_t(m->parallelization_factor);
        std::vector<std::vector<source_record>> groups(n);
        for (auto& r : batch) groups[std::size_t(encoding::partition_hash(r.partition_key) % n)].push_back(std::move(r));
        std::vector<char> results(n, 1);
        std::vector<std::thread> threads;
        for (std::size_t g = 1; g < n; ++g) {
            if (groups[g].empty()) continue;
            threads.emplace_back([&, g] {
                batch_delivery d(ctx_, *m, event_, *source_->counters, sleeper);
                results[g] = d.deliver(std::move(groups[g]));
            });
        }
        if (!groups[0].empty()) {
            batch_delivery d(ctx_, *m, event_, *source_->counters, sleeper);
            results[0] = d.deliver(std::move(groups[0]));
        }
        for (auto& t : threads) t.join();
        ok = std::all_of(results.begin(), results.end(), [](char c) { return c != 0; });
    } else if (!batch.empty()) {
        batch_delivery d(ctx_, *m, event_, *source_->counters, sleeper);
        ok = d.deliver(std::move(batch));
    }
    if (!ok) return false;  // stopped mid-batch: it is read again next time
    if (consumer_metrics_) {
        consumer_metrics_->event_records.add(end - from);
        consumer_metrics_->event_bytes.add(bytes);
    }
    next_ = end;
    // An open tumbling window keeps the checkpoint at its first record.
    save(window_ ? window_->first_counter : next_);
    if (window_closed) deliver_window_end(m, std::max(now, window_->start_ms + width));
    return true;
}

}  // namespace kinesd::lambda
