#include "delivery/delivery_worker.h"

#include <boost/asio/post.hpp>
#include <openssl/evp.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <stdexcept>

#include "common/random.h"
#include "delivery/compression.h"
#include "delivery/object_key.h"

namespace kinesd::delivery {

namespace {

// kinesd's error-output-type for batches S3 kept refusing for the whole
// retry window, named like the service's other "<destination>-failed" types.
constexpr std::string_view s3_failed = "s3-failed";

constexpr std::size_t max_failure_details = 1024;

std::uint64_t random_u64() {
    auto bytes = random_bytes(8);
    std::uint64_t v = 0;
    std::memcpy(&v, bytes.data(), 8);
    return v;
}

std::chrono::system_clock::time_point at_ms(std::int64_t ms) {
    return std::chrono::system_clock::time_point(std::chrono::milliseconds(ms));
}

// ---- KPL aggregation. Firehose de-aggregates what the Kinesis Producer
// Library packed into one Kinesis record: magic F3 89 9A C2, a protobuf
// AggregatedRecord (field 3: repeated Record, whose field 3 is the data),
// then the MD5 of the protobuf bytes. Anything else passes through unchanged.

bool read_varint(std::string_view& in, std::uint64_t& v) {
    v = 0;
    for (int shift = 0; shift < 64 && !in.empty(); shift += 7) {
        auto byte = static_cast<unsigned char>(in[0]);
        in.remove_prefix(1);
        v |= std::uint64_t(byte & 0x7f) << shift;
        if (byte < 0x80) return true;
    }
    return false;
}

// Calls fn(field, bytes) for each length-delimited field; skips the others.
template <typename Fn>
bool each_field(std::string_view in, Fn fn) {
    while (!in.empty()) {
        std::uint64_t key, n;
        if (!read_varint(in, key)) return false;
        switch (key & 7) {
            case 0:
                if (!read_varint(in, n)) return false;
                break;
            case 1:
            case 5: {
                std::size_t width = (key & 7) == 1 ? 8 : 4;
                if (in.size() < width) return false;
                in.remove_prefix(width);
                break;
            }
            case 2:
                if (!read_varint(in, n) || n > in.size()) return false;
                if (!fn(key >> 3, in.substr(0, n))) return false;
                in.remove_prefix(n);
                break;
            default: return false;
        }
    }
    return true;
}

bool deaggregate(std::string_view data, std::vector<std::string_view>& out) {
    static constexpr std::string_view magic("\xF3\x89\x9A\xC2", 4);
    out.clear();
    if (data.size() < magic.size() + 16 || data.substr(0, 4) != magic) return false;
    auto message = data.substr(4, data.size() - 20);
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int size = 0;
    if (EVP_Digest(message.data(), message.size(), digest, &size, EVP_md5(), nullptr) != 1 || size != 16 ||
        data.substr(data.size() - 16) != std::string_view(reinterpret_cast<const char*>(digest), 16))
        return false;
    bool ok = each_field(message, [&](std::uint64_t field, std::string_view record) {
        if (field != 3) return true;
        bool has_data = false;
        bool parsed = each_field(record, [&](std::uint64_t f, std::string_view bytes) {
            if (f == 3) {
                out.push_back(bytes);
                has_data = true;
            }
            return true;
        });
        return parsed && has_data;
    });
    return ok && !out.empty();
}

struct transform_pending {};

std::string delivery_arn(const delivery_stream& s, const delivery_options& o) {
    auto slash = s.name.find('/');
    return "arn:aws:firehose:" + o.region + ":" + (slash == std::string::npos ? o.account_id : s.name.substr(0, slash)) +
           ":deliverystream/" + s.shown_name();
}

}  // namespace

struct delivery_worker::batch {
    enum class state { running, done, failed, waiting };
    std::string bucket;
    std::string key;
    std::string error_key;
    compression_format format = compression_format::uncompressed;
    std::string uuid;
    std::string body;     // uncompressed; released once compressed
    std::string payload;  // what is uploaded
    bool compressed = false;
    std::size_t records = 0;
    std::int64_t oldest_ms = 0;
    std::map<std::string, std::uint64_t> ends;
    std::int64_t sealed_ms = 0;
    std::int64_t retry_at_ms = 0;
    int attempts = 0;
    bool to_error_prefix = false;
    std::optional<batch_transform> transform;  // a Lambda processor's work (lambda_processor.h)
    std::shared_ptr<delivery_metrics> metrics;
    // guarded by the worker's mutex
    state st = state::running;
    s3_result result;
};

delivery_worker::delivery_worker(worker_context ctx, delivery_snapshot stream)
    : ctx_(ctx), stream_(std::move(stream)), s3_(stream_->s3()) {}

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
    read_lanes(flushing);
    now = ctx_.clock.now_ms();
    if (open_.records && (flushing || now >= open_.oldest_ms + s3_.interval_ms) && room_for_batch(flushing)) seal();
    publish_oldest_pending();
}

void delivery_worker::publish_oldest_pending() {
    std::int64_t oldest = open_.records ? open_.oldest_ms : 0;
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
            l.cf = stream_->log->cf_name;
            l.log = stream_->log;
            l.next = l.saved = ctx_.registry.checkpoint(*stream_, l.cf).value_or(0);
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
        auto it = std::find_if(lanes_.begin(), lanes_.end(), [&](const lane& l) { return l.cf == shard.log->cf_name; });
        lane l;
        if (it != lanes_.end()) {
            l = std::move(*it);
        } else {
            l.cf = shard.log->cf_name;
            l.log = shard.log;
            // No checkpoint: start at the oldest record (TRIM_HORIZON).
            l.next = l.saved = ctx_.registry.checkpoint(*stream_, l.cf).value_or(0);
        }
        l.index = shard.index;
        l.parent = shard.parent;
        l.adjacent_parent = shard.adjacent_parent;
        l.closed_ms = shard.closed_ms;
        l.created_s = shard.created_s;
        fresh.push_back(std::move(l));
    }
    lanes_ = std::move(fresh);
}

bool delivery_worker::lane_finished(const lane& l, std::int64_t now) const {
    // A short grace after closing lets appends routed just before the
    // reshard land before the shard counts as read to its end.
    if (!l.closed_ms || *l.closed_ms + 1000 > now) return false;
    return std::max(l.next, l.log->trimmed_below.load()) > l.log->committed.load();
}

bool delivery_worker::lane_eligible(const lane& l, std::int64_t now) const {
    for (auto parent : {l.parent, l.adjacent_parent}) {
        if (!parent) continue;
        auto it = std::find_if(lanes_.begin(), lanes_.end(), [&](const lane& p) { return p.index == *parent; });
        if (it != lanes_.end() && !lane_finished(*it, now)) return false;
    }
    return true;
}

bool delivery_worker::room_for_batch(bool flushing) const {
    return flushing || in_flight_.size() < ctx_.options.max_in_flight;
}

void delivery_worker::read_lanes(bool flushing) {
    auto now = ctx_.clock.now_ms();
    for (bool progress = true; progress;) {
        progress = false;
        for (auto& l : lanes_) {
            if (!lane_eligible(l, now)) continue;
            bool blocked = false;
            std::vector<std::string_view> parts;
            ctx_.store.read(*l.log, l.next, 1000, SIZE_MAX, [&](const storage::record_view& r) {
                check_version(r.arrival_ms);
                if (!stream_->is_kinesis_source() || !deaggregate(r.data, parts)) parts.assign(1, r.data);
                // A Kinesis record is checkpointed whole, so its parts share one object.
                std::size_t size = 0;
                for (auto part : parts) size += part.size() + (s3_.append_newline ? 1 : 0);
                if (open_.records && open_.body.size() + size > s3_.size_bytes) {
                    if (!room_for_batch(flushing)) {
                        blocked = true;
                        return false;
                    }
                    seal();
                }
                if (!open_.records || r.arrival_ms < open_.oldest_ms) open_.oldest_ms = r.arrival_ms;
                for (auto part : parts) {
                    open_.body.append(part);
                    if (s3_.append_newline) open_.body.push_back('\n');
                }
                open_.records += parts.size();
                if (s3_.lambda)
                    collect_sources(open_.sources, stream_->is_kinesis_source(), l.index, l.created_s, r.counter,
                                    r.arrival_ms, r.partition_key, parts);
                l.next = r.counter + 1;
                open_.ends[l.cf] = l.next;
                progress = true;
                if (flushing) {
                    flushed_bytes_ += size;
                    ++flushed_records_;
                }
                return !(flushing && flushed_bytes_ > ctx_.options.stop_flush_bytes);
            });
            if (blocked || (flushing && flushed_bytes_ > ctx_.options.stop_flush_bytes)) return;
        }
    }
}

void delivery_worker::seal() {
    if (!open_.records) return;
    auto b = std::make_shared<batch>();
    random_source random = random_u64;
    b->bucket = s3_.bucket;
    b->format = s3_.compression;
    b->uuid = random_uuid(random);
    auto when = at_ms(open_.oldest_ms);
    auto name = object_name(stream_->shown_name(), std::to_string(stream_->version), when, b->uuid, s3_.extension);
    prefix_values values{when, &random, s3_failed, nullptr};
    try {
        b->key = evaluate_prefix(s3_.prefix, values) + name;
        b->error_key = evaluate_error_output_prefix(s3_.error_output_prefix, s3_.prefix, values) + name;
    } catch (const std::exception& e) {
        // Prefixes are checked when set; this is a safety net only.
        spdlog::error("delivery stream {}: bad prefix ({}), using the default", stream_->name, e.what());
        b->key = evaluate_prefix("", values) + name;
        b->error_key = std::string(s3_failed) + "/" + b->key;
    }
    b->body = std::move(open_.body);
    b->records = open_.records;
    b->oldest_ms = open_.oldest_ms;
    b->ends = std::move(open_.ends);
    b->sealed_ms = ctx_.clock.now_ms();
    b->metrics = stream_->metrics;
    if (s3_.lambda) {
        b->transform.emplace(*s3_.lambda, std::move(open_.sources), s3_.append_newline);
        b->transform->ctx = {ctx_.options.invoker, delivery_arn(*stream_, ctx_.options), stream_->source_stream_arn,
                             ctx_.options.region, ctx_.options.invoke_timeout_ms,
                             [this] { return ctx_.clock.now_ms(); }, [] { return random_uuid(random_u64); }};
        prefix_values failed{when, &random, error_output_type::processing_failed, nullptr};
        try {
            b->transform->failed_key = evaluate_error_output_prefix(s3_.error_output_prefix, s3_.prefix, failed) + name;
        } catch (const std::exception&) {
            b->transform->failed_key = std::string(error_output_type::processing_failed) + "/" + b->key;
        }
    }
    open_ = buffer{};
    in_flight_.push_back(b);
    post(b);
}

void delivery_worker::post(const std::shared_ptr<batch>& b) {
    {
        std::lock_guard lock(mutex_);
        b->st = batch::state::running;
    }
    boost::asio::post(ctx_.pool, [self = shared_from_this(), b] { self->attempt(b); });
}

void delivery_worker::attempt(const std::shared_ptr<batch>& b) {
    s3_result r;
    try {
        // A Lambda processor's transformation, once; false: its error
        // documents could not be written (r says why), retried like an upload.
        if (b->transform && !b->transform->run_and_write_errors(b->body, ctx_.s3, b->bucket, r))
            throw transform_pending{};
        if (!b->compressed) {
            zip_entry_options zip{b->uuid, at_ms(b->oldest_ms)};
            if (b->format == compression_format::uncompressed)
                b->payload = std::move(b->body);
            else
                b->payload = compress(b->format, b->body, zip);
            b->body = std::string();
            b->compressed = true;
        }
        if (b->transform && b->transform->delivered == 0)
            r = s3_result{};  // every record dropped or failed: no object
        else
            r = ctx_.s3.put_object(b->bucket, b->to_error_prefix ? b->error_key : b->key, b->payload,
                                   "application/octet-stream", content_encoding(b->format));
    } catch (const transform_pending&) {
    } catch (const std::exception& e) {
        r.outcome = s3_outcome::retryable;
        r.code = "InternalError";
        r.message = e.what();
    }
    if (r.ok()) {
        b->metrics->delivery_success.add();
        b->metrics->delivered_records.add(b->records);
        b->metrics->delivered_bytes.add(b->payload.size());
    } else {
        b->metrics->delivery_failures.add();
    }
    {
        std::lock_guard lock(mutex_);
        b->result = std::move(r);
        b->st = b->result.ok() ? batch::state::done : batch::state::failed;
        wake_ = true;
    }
    cv_.notify_all();
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
        ++b->attempts;
        backoff_ms_ = backoff_ms_ ? std::min(backoff_ms_ * 2, ctx_.options.max_backoff_ms)
                                  : ctx_.options.initial_backoff_ms;
        b->retry_at_ms = now + backoff_ms_;
        const auto& r = b->result;
        const auto& key = b->to_error_prefix ? b->error_key : b->key;
        std::string details = "Could not write to S3 bucket " + b->bucket + ": " +
                              (r.code.empty() ? std::string("Error") : r.code) +
                              (r.message.empty() ? "" : ": " + r.message) +
                              (r.http_status ? " (HTTP " + std::to_string(r.http_status) + ")" : std::string()) +
                              ". Delivery is being retried.";
        if (details.size() > max_failure_details) details.resize(max_failure_details);
        spdlog::warn("delivery stream {}: writing s3://{}/{} failed (attempt {}): {} {}; retrying in {} ms",
                     stream_->name, b->bucket, key, b->attempts, r.code, r.message, backoff_ms_);
        stream_->health->fail("UNKNOWN_ERROR", details);
        if (now - b->sealed_ms > ctx_.options.retry_window_ms) {
            if (!b->to_error_prefix) {
                spdlog::error("delivery stream {}: giving up on s3://{}/{} after the retry window; writing it to "
                              "the error output prefix",
                              stream_->name, b->bucket, b->key);
                b->to_error_prefix = true;
                b->sealed_ms = now;
            } else {
                spdlog::error("delivery stream {}: dropping {} records that could not be written to S3",
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
            backoff_ms_ = 0;
            if (front->attempts && !source_missing_) stream_->health->clear();
            spdlog::debug("delivery stream {}: wrote {} records to s3://{}/{}", stream_->name, front->records,
                          front->bucket, front->to_error_prefix ? front->error_key : front->key);
        }
    }
}

void delivery_worker::checkpoint(const batch& b) {
    for (const auto& end : b.ends) {
        const auto& cf = end.first;
        const auto next = end.second;
        auto it = std::find_if(lanes_.begin(), lanes_.end(), [&](const lane& l) { return l.cf == cf; });
        if (it == lanes_.end() || next <= it->saved) continue;
        if (!ctx_.registry.save_checkpoint(*stream_, cf, next)) continue;
        it->saved = next;
        // DirectPut records exist only to be delivered.
        if (!stream_->is_kinesis_source()) ctx_.store.trim(*it->log, next).PermitUncheckedError();
    }
}

std::int64_t delivery_worker::next_wake(std::int64_t now) const {
    std::int64_t wait = ctx_.options.poll_ms;
    if (open_.records && room_for_batch(false)) wait = std::min(wait, open_.oldest_ms + s3_.interval_ms - now);
    std::lock_guard lock(mutex_);
    for (auto& b : in_flight_)
        if (b->st == batch::state::waiting) wait = std::min(wait, b->retry_at_ms - now);
    return std::max<std::int64_t>(wait, 5);
}

}  // namespace kinesd::delivery
