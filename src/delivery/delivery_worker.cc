#include "delivery/delivery_worker.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <set>
#include <stdexcept>

#include "common/random.h"
#include "delivery/compression.h"
#include "delivery/object_key.h"
#include "streams/encoding.h"

namespace kinesd::delivery {

namespace {

constexpr std::size_t max_failure_details = 1024;

processing_settings processing_of(const delivery_stream& s) {
    auto p = processing_settings::from(s.destination, s.is_kinesis_source());
    // A channel writes JSON and STRING records one per line.
    if (s.is_channel() && newline_delimited(channel_settings_of(s.channel).format)) p.record_delimiter = "\n";
    return p;
}

}  // namespace

delivery_worker::delivery_worker(worker_context ctx, delivery_snapshot stream, std::shared_ptr<lane_claims> claims)
    : ctx_(ctx),
      stream_(std::move(stream)),
      s3_(stream_->s3()),
      processing_(processing_of(*stream_)),
      destination_(make_destination_for(*stream_)),
      claims_(std::move(claims)) {}

delivery_worker::~delivery_worker() {
    if (!thread_.joinable()) return;
    // The thread holds a reference to the worker; when it drops the last
    // one, the destructor runs on the thread itself, which cannot join.
    if (thread_.get_id() == std::this_thread::get_id())
        thread_.detach();
    else
        stop(false);
}

void delivery_worker::start() {
    thread_ = std::thread([self = shared_from_this()] { self->run(); });
}

void delivery_worker::update(delivery_snapshot stream) {
    {
        std::lock_guard lock(mutex_);
        pending_ = std::move(stream);
    }
    cv_.notify_all();
}

void delivery_worker::request_stop(bool flush, std::optional<deadline> until) {
    {
        std::lock_guard lock(mutex_);
        stopping_ = true;
        flush_ = flush;
        flush_until_ = until;
    }
    cv_.notify_all();
}

void delivery_worker::join() {
    if (thread_.joinable() && thread_.get_id() != std::this_thread::get_id()) thread_.join();
}

void delivery_worker::run() {
    try {
        refresh_lanes();
    } catch (const std::exception& e) {
        spdlog::error("delivery stream {}: cannot start: {}", stream_->name, e.what());
    }
    std::unique_lock lock(mutex_);
    while (!stopping_) {
        lock.unlock();
        std::int64_t wait = ctx_.options.poll_ms;
        try {
            step(false);
            wait = next_wake(ctx_.clock.now_ms());
        } catch (const std::exception& e) {
            spdlog::error("delivery stream {}: {}", stream_->name, e.what());
        }
        lock.lock();
        cv_.wait_for(lock, std::chrono::milliseconds(wait), [this] { return wake_ || stopping_ || pending_; });
        wake_ = false;
    }
    bool flush = flush_;
    auto until = flush_until_.value_or(std::chrono::steady_clock::now() +
                                       std::chrono::milliseconds(ctx_.options.stop_flush_ms));
    lock.unlock();
    if (flush) this->flush(until);
}

void delivery_worker::flush(deadline until) {
    // Rounds of: read up to stop_flush_bytes, seal, wait for every object to
    // be written; until a round finds nothing more to read. The first round
    // runs even past the deadline: it tells whether anything is left at all.
    using std::chrono::milliseconds;
    bool caught_up = false;
    try {
        do {
            flushed_bytes_ = 0;
            flushed_records_ = 0;
            step(true);
            seal();
            caught_up = flushed_records_ == 0;
            while (!in_flight_.empty()) {
                settle();
                if (in_flight_.empty()) break;
                auto left = std::chrono::duration_cast<milliseconds>(until - std::chrono::steady_clock::now());
                if (left.count() <= 0) break;
                std::unique_lock lock(mutex_);
                cv_.wait_for(lock, std::clamp(left, milliseconds(1), milliseconds(100)), [this] { return wake_; });
                wake_ = false;
            }
            if (!in_flight_.empty()) caught_up = false;
        } while (!caught_up && std::chrono::steady_clock::now() < until);
    } catch (const std::exception& e) {
        caught_up = false;
        spdlog::error("delivery stream {}: flushing failed: {}", stream_->name, e.what());
    }
    flushed_.complete = caught_up && in_flight_.empty();
    flushed_.objects_left = in_flight_.size();
    flushed_.records_left = 0;
    for (auto& b : in_flight_) flushed_.records_left += b->records;
    if (!flushed_.complete)
        spdlog::warn("delivery stream {}: flush incomplete at shutdown ({} objects of {} records not written to S3, "
                     "and possibly records not yet read); they stay stored and are delivered after the next start",
                     stream_->name, flushed_.objects_left, flushed_.records_left);
}

void delivery_worker::step(bool flushing) {
    apply_update();
    settle();
    auto now = ctx_.clock.now_ms();
    if (stream_->is_kinesis_source() && now - lanes_refreshed_ms_ >= 1000) refresh_lanes();
    claim_lanes();
    read_lanes(flushing);
    now = ctx_.clock.now_ms();
    std::vector<std::string> due;
    for (const auto& [id, b] : open_.all())
        if (b.records && (flushing || now >= b.oldest_ms + s3_.interval_ms)) due.push_back(id);
    for (const auto& id : due) {
        if (!room_for_batch(flushing)) break;
        seal(id);
    }
    publish_oldest_pending();
}

void delivery_worker::publish_oldest_pending() {
    std::int64_t oldest = open_.oldest_ms().value_or(0);
    for (const auto& b : in_flight_)
        if (b->records && (!oldest || b->oldest_ms < oldest)) oldest = b->oldest_ms;
    stream_->metrics->oldest_pending_ms.set(oldest);
}

void delivery_worker::apply_update() {
    delivery_snapshot next;
    {
        std::lock_guard lock(mutex_);
        next = std::move(pending_);
        pending_.reset();
    }
    if (next) switch_to(std::move(next));
}

void delivery_worker::switch_to(delivery_snapshot next) {
    // What was buffered under the old configuration goes out under it.
    if (next->version != stream_->version) seal();
    stream_ = std::move(next);
    s3_ = stream_->s3();
    processing_ = processing_of(*stream_);
    destination_ = make_destination_for(*stream_);
}

void delivery_worker::check_version(std::int64_t arrival_ms) {
    // A record that arrived after the last look may have been put after an
    // UpdateDestination that the manager has not handed over yet; it must be
    // delivered under the new version, so look now.
    if (arrival_ms < version_checked_ms_) return;
    version_checked_ms_ = ctx_.clock.now_ms();
    auto latest = ctx_.registry.find(stream_->name);
    if (latest && latest->uid == stream_->uid && latest->version != stream_->version) switch_to(std::move(latest));
}

void delivery_worker::refresh_lanes() {
    auto now = ctx_.clock.now_ms();
    lanes_refreshed_ms_ = now;
    if (!stream_->is_kinesis_source()) {
        if (lanes_.empty() && stream_->log) {
            lane l;
            l.cf = stream_->log->name;
            l.log = stream_->log;
            l.next = l.saved = stored_checkpoint(l);
            l.held = !claims_;
            lanes_.push_back(std::move(l));
        }
        return;
    }
    auto source = ctx_.streams.find(stream_->source_stream_name());
    if (!source || source->status(now) == streams::stream_status::deleting) {
        if (!source_missing_)
            spdlog::warn("delivery stream {}: source stream {} not found", stream_->name, stream_->source_stream_arn);
        source_missing_ = true;
        stream_->health->fail("UNKNOWN_ERROR",
                              "The source Kinesis stream " + stream_->source_stream_arn + " does not exist.");
        return;
    }
    if (source_missing_) {
        source_missing_ = false;
        stream_->health->clear();
    }
    std::vector<lane> fresh;
    fresh.reserve(source->shards.size());
    for (const auto& shard : source->shards) {
        if (!shard.log) continue;
        auto it = std::find_if(lanes_.begin(), lanes_.end(), [&](const lane& l) { return l.cf == shard.log->name; });
        lane l;
        if (it != lanes_.end()) {
            l = std::move(*it);
            // Read by another front end: where it has got to.
            if (!l.held && !l.done) l.next = l.saved = stored_checkpoint(l);
        } else {
            l.id = encoding::shard_id(shard.index);
            l.cf = shard.log->name;
            l.log = shard.log;
            l.next = l.saved = stored_checkpoint(l);
            l.held = !claims_;
        }
        l.index = shard.index;
        l.parent = shard.parent;
        l.adjacent_parent = shard.adjacent_parent;
        l.closed_ms = shard.closed_ms;
        l.created_s = shard.created_s;
        if (claims_ && !l.done && lane_done(l, now)) l.done = true;
        fresh.push_back(std::move(l));
    }
    lanes_ = std::move(fresh);
}

bool delivery_worker::read_to_end(const lane& l, std::uint64_t position, std::int64_t now) const {
    // A short grace after closing lets appends routed just before the
    // reshard land before the shard counts as read to its end.
    if (!l.closed_ms || *l.closed_ms + 1000 > now) return false;
    const auto past_end = [&] { return std::max(position, l.log->trimmed_below.load()) > l.log->committed.load(); };
    if (!past_end()) return false;
    // Past the end this front end knows of: past the end only if no other
    // front end appended beyond it.
    ctx_.store.refresh_tip(*l.log);
    return past_end();
}

bool delivery_worker::lane_finished(const lane& l, std::int64_t now) const { return read_to_end(l, l.next, now); }

// By the checkpoint rather than the read position: the lane's lease may go
// only once nothing of it waits for the destination.
bool delivery_worker::lane_done(const lane& l, std::int64_t now) const { return read_to_end(l, l.saved, now); }

bool delivery_worker::lane_eligible(const lane& l, std::int64_t now) const {
    for (auto parent : {l.parent, l.adjacent_parent}) {
        if (!parent) continue;
        auto it = std::find_if(lanes_.begin(), lanes_.end(), [&](const lane& p) { return p.index == *parent; });
        if (it != lanes_.end() && !lane_finished(*it, now)) return false;
    }
    return true;
}

void delivery_worker::settle() {
    auto now = ctx_.clock.now_ms();
    std::vector<std::shared_ptr<batch>> retry;
    std::vector<std::shared_ptr<batch>> failed;
    {
        std::lock_guard lock(mutex_);
        for (auto& b : in_flight_) {
            if (b->st == batch::state::failed) {
                b->st = batch::state::waiting;
                failed.push_back(b);
            } else if (b->st == batch::state::waiting && now >= b->retry_at_ms) {
                retry.push_back(b);
            }
        }
    }
    for (auto& b : failed) {
        if (!b->attempts++) b->failing_since_ms = now;
        const bool permanent = b->result.result == attempt_result::outcome::permanent;
        const bool over = permanent || b->dest->retries_over(b->to_error_prefix, now - b->failing_since_ms,
                                                             b->waited_ms);
        auto wait = over ? 0 : b->dest->backoff_ms(b->attempts, b->waited_ms);
        b->waited_ms += wait;
        b->retry_at_ms = now + wait;
        std::string details = b->result.details + (over ? "" : " Delivery is being retried.");
        if (details.size() > max_failure_details) details.resize(max_failure_details);
        spdlog::warn("delivery stream {}: delivering {} records to {} failed (attempt {}): {}; retrying in {} ms",
                     stream_->name, b->records, b->dest->describe(), b->attempts, b->result.details, wait);
        stream_->health->fail("UNKNOWN_ERROR", details);
        if (over) {
            if (!b->to_error_prefix) {
                spdlog::error("delivery stream {}: giving up on {} for {} records{}; writing them to the error output",
                              stream_->name, b->dest->describe(), b->records,
                              permanent ? " (permanent failure)" : " after the retry window");
                b->to_error_prefix = true;
                b->attempts = 0;
                b->waited_ms = 0;
            } else {
                spdlog::error("delivery stream {}: dropping {} records that could not be written to the error output",
                              stream_->name, b->records);
                std::lock_guard lock(mutex_);
                b->st = batch::state::done;
            }
        }
    }
    for (auto& b : retry) post(b);

    for (;;) {
        std::shared_ptr<batch> front;
        {
            std::lock_guard lock(mutex_);
            if (in_flight_.empty() || in_flight_.front()->st != batch::state::done) break;
            front = in_flight_.front();
        }
        in_flight_.pop_front();
        checkpoint(*front);
        if (front->result.ok()) {
            if ((front->attempts || front->to_error_prefix) && !source_missing_) stream_->health->clear();
            spdlog::debug("delivery stream {}: delivered {} records to {}", stream_->name, front->records,
                          front->dest->describe());
        }
    }
}

void delivery_worker::checkpoint(const batch& b) {
    // `b` has left in_flight_. With several open buffers, records read
    // before b's last one may still wait in another buffer or batch: the
    // checkpoint stops at the first of them (partition_buffers.h).
    for (const auto& end : b.ends) {
        const auto& cf = end.first;
        auto it = std::find_if(lanes_.begin(), lanes_.end(), [&](const lane& l) { return l.cf == cf; });
        // A lane whose lease went elsewhere is checkpointed by its new owner.
        if (it == lanes_.end() || !it->held) continue;
        std::uint64_t next = it->next;
        open_.bound_checkpoint(cf, next);
        for (const auto& other : in_flight_)
            if (auto f = other->firsts.find(cf); f != other->firsts.end() && f->second < next) next = f->second;
        if (next <= it->saved) continue;
        if (!ctx_.registry.save_checkpoint(*stream_, cf, next)) continue;
        it->saved = next;
        // DirectPut records exist only to be delivered.
        if (!stream_->is_kinesis_source()) ctx_.store.trim(*it->log, next);
    }
}

std::set<std::string> delivery_worker::active_partitions() const {
    // A partition stays active until its objects are written (AWS counts
    // an undeliverable partition as active too). Error buffers are none.
    std::set<std::string> active;
    for (const auto& [id, b] : open_.all())
        if (b.error_output_type.empty()) active.insert(id);
    for (const auto& b : in_flight_)
        if (b->partition.empty() || b->partition[0] != '\0') active.insert(b->partition);
    return active;
}

std::int64_t delivery_worker::next_wake(std::int64_t now) const {
    std::int64_t wait = ctx_.options.poll_ms;
    if (auto oldest = open_.oldest_ms(); oldest && room_for_batch(false))
        wait = std::min(wait, *oldest + s3_.interval_ms - now);
    std::lock_guard lock(mutex_);
    for (auto& b : in_flight_)
        if (b->st == batch::state::waiting) wait = std::min(wait, b->retry_at_ms - now);
    return std::max<std::int64_t>(wait, 5);
}

}  // namespace kinesd::delivery
