#include "actions/subscription.h"

#include <boost/asio/post.hpp>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>

#include "actions/kinesis_common.h"
#include "actions/records_cbor.h"
#include "actions/records_json.h"
#include "actions/service.h"
#include "actions/subscription_hub.h"
#include "codec/event_stream.h"
#include "codec/cbor_writer.h"
#include "codec/json_writer.h"
#include "streams/encoding.h"

namespace kinesd::actions {

namespace {

using nlohmann::json;

// The :content-type of event payloads: the request's own format.
const char* payload_type(codec::wire_format format) {
    return format == codec::wire_format::cbor ? "application/x-amz-cbor-1.1" : "application/x-amz-json-1.1";
}

}  // namespace

subscription::subscription(service& svc, subscription_hub& hub, codec::wire_format format,
                           subscription_target target, std::int64_t started_ms)
    : svc_(svc),
      hub_(hub),
      format_(format),
      target_(std::move(target)),
      started_ms_(started_ms),
      timer_(hub.timers()),
      last_event_ms_(started_ms) {}

subscription::~subscription() {
    // The notifier's callback holds only a weak reference; its entry goes too.
    hub_.notifier().cancel(*target_.log, wait_token_);
    hub_.remove(*this);
}

void subscription::start(std::function<void()> wake) {
    {
        std::lock_guard lock(mutex_);
        wake_ = std::move(wake);
        // botocore and the other SDKs insist on this event first.
        codec::event_stream::append_event(ready_, "initial-response", payload_type(format_),
                                          format_ == codec::wire_format::cbor ? std::string_view("\xa0", 1) : "{}");
    }
    // The first SubscribeToShardEvent goes out at once, records or not, so a
    // client knows the subscription runs before anything is put.
    wake_();
}

body_stream::pulled subscription::pull(std::string& out) {
    bool look = false;
    pulled result;
    {
        std::lock_guard lock(mutex_);
        if (!ready_.empty()) {
            // Handed over without a copy when the connection's buffer is
            // empty (it always is): an event can be megabytes, and this runs
            // on an I/O thread.
            if (out.empty())
                out.swap(ready_);
            else
                out.append(ready_);
            ready_.clear();
            // Keep one event in preparation while the client reads this one.
            look = !ended_ && !stepping_ && !cancelled_;
            if (look) stepping_ = true;
            result = ended_ ? pulled::end : pulled::data;
        } else {
            if (!ended_ && !stepping_ && !cancelled_ && !first_event_sent_) {
                stepping_ = true;
                look = true;
            }
            result = ended_ ? pulled::end : pulled::wait;
        }
    }
    if (look) svc_.post([self = shared_from_this()] { self->step(); });
    return result;
}

void subscription::cancel() {
    streams::commit_notifier::token token = 0;
    {
        std::lock_guard lock(mutex_);
        cancelled_ = true;
        token = std::exchange(wait_token_, 0);
        timer_.cancel();
    }
    hub_.notifier().cancel(*target_.log, token);
    hub_.remove(*this);
}

void subscription::kick() {
    {
        std::lock_guard lock(mutex_);
        // While an event waits for the client, its pull starts the next step.
        if (cancelled_ || ended_ || stepping_ || !ready_.empty()) return;
        stepping_ = true;
    }
    svc_.post([self = shared_from_this()] { self->step(); });
}

void subscription::supersede() {
    {
        std::lock_guard lock(mutex_);
        superseded_ = true;
    }
    kick();
}

void subscription::stop() {
    {
        std::lock_guard lock(mutex_);
        stopping_ = true;
        // An armed timer would hold the worker pool's shutdown for a heartbeat.
        timer_.cancel();
    }
    kick();
}

void subscription::step() {
    const std::int64_t now = svc_.clock().now_ms();
    outcome out;
    try {
        out = next_event(now);
    } catch (const std::exception& e) {
        spdlog::error("subscription to {} of {}: {}", encoding::shard_id(target_.shard_index), target_.stream_name,
                      e.what());
        exception_event(out, "InternalFailureException", "Internal Service Failure");
    }
    std::function<void()> wake;
    {
        std::lock_guard lock(mutex_);
        if (cancelled_) {
            stepping_ = false;
            return;
        }
        // Shutdown came during the step: end after what is ready.
        if (stopping_) out.end = true;
        if (out.bytes.empty() && !out.end) {
            if (wait_locked(now)) {
                stepping_ = false;
                return;
            }
            // The next record committed meanwhile: stepping_ stays set for
            // the step posted below.
        } else {
            stepping_ = false;
            first_event_sent_ = true;
            last_event_ms_ = now;
            ready_.append(out.bytes);
            ended_ = out.end;
            if (ended_) timer_.cancel();
            wake = wake_ ? wake_ : [] {};
        }
    }
    if (!wake) {
        svc_.post([self = shared_from_this()] { self->step(); });
        return;
    }
    if (wake) wake();
}

bool subscription::wait_locked(std::int64_t now_ms) {
    if (wait_token_ == 0) {
        std::weak_ptr<subscription> weak = weak_from_this();
        wait_token_ = hub_.notifier().wait(*target_.log, target_.next_counter, [weak] {
            if (auto self = weak.lock()) {
                {
                    std::lock_guard lock(self->mutex_);
                    self->wait_token_ = 0;
                }
                self->kick();
            }
        });
        // A commit came between the read and now: read again.
        if (wait_token_ == 0) return false;
    }
    const auto& settings = hub_.settings();
    const std::int64_t due = std::min(last_event_ms_ + settings.heartbeat_ms, started_ms_ + settings.lifetime_ms);
    timer_.expires_after(std::chrono::milliseconds(std::max<std::int64_t>(1, due - now_ms)));
    timer_.async_wait([weak = weak_from_this()](const boost::system::error_code& ec) {
        if (ec) return;
        if (auto self = weak.lock()) self->kick();
    });
    return true;
}

std::string subscription::continuation_of(std::uint64_t counter) {
    if (counter == last_counter_ && !last_sequence_.empty()) return last_sequence_;
    // A position no record of ours has named yet (a LATEST start, say): the
    // record's own number when there is one, so that the text equals what
    // GetRecords gives for it.
    std::uint64_t arrival_s = target_.shard_created_s;
    storage::record_view r{};
    if (counter > 0 && svc_.store().first_at_or_after(*target_.log, counter, &r) && r.counter == counter)
        arrival_s = std::uint64_t(r.arrival_ms / 1000);
    return encoding::sequence_number({target_.shard_created_s, target_.shard_index, counter, arrival_s});
}

subscription::outcome subscription::next_event(std::int64_t now) {
    outcome out;
    bool superseded, stopping;
    {
        std::lock_guard lock(mutex_);
        superseded = superseded_;
        stopping = stopping_;
    }
    if (superseded) {
        exception_event(out, "ResourceInUseException", hub_.in_use_message(target_));
        return out;
    }
    if (stopping || now >= started_ms_ + hub_.settings().lifetime_ms) {
        out.end = true;
        return out;
    }
    auto s = svc_.streams().find(target_.stream_name);
    if (!s || s->uid != target_.stream_uid || s->deleting_since_ms) {
        exception_event(out, "ResourceNotFoundException",
                        "Stream " + std::string(service::name_of_key(target_.stream_name)) + " under account " +
                            std::string(svc_.account_of_key(target_.stream_name)) + " not found.");
        return out;
    }
    const auto consumer = std::find_if(s->consumers.begin(), s->consumers.end(), [&](const auto& c) {
        // A deregistered consumer's subscriptions end at once, while it is
        // still DELETING.
        return c.name == target_.consumer_name && c.created_ms == target_.consumer_created_ms &&
               !c.deleting_since_ms;
    });
    const bool consumer_there = consumer != s->consumers.end();
    const auto* shard = s->find_shard(target_.shard_index);
    if (!consumer_there || !shard) {
        exception_event(out, "ResourceNotFoundException", "Consumer " + target_.consumer_arn + " not found.");
        return out;
    }

    auto& log = *target_.log;
    const std::int64_t horizon = now - s->retention_ms();
    std::uint64_t next = std::max(target_.next_counter, log.trimmed_below.load());
    std::int64_t last_arrival = 0;
    std::size_t bytes = 0, data_bytes = 0;
    // The Records array's elements, as text or CBOR as the request was.
    std::string records_text;
    records_writer json_writer(records_text, *shard, event_max_records, SIZE_MAX);
    cbor_records_writer cbor_writer(records_text, shard->created_s, shard->index, 64);
    std::uint64_t last_delivered = 0;
    svc_.store().read(log, next, event_max_records, event_max_bytes, [&](const storage::record_view& r) {
        next = r.counter + 1;
        // Past retention: never delivered, as GetRecords never returns it.
        if (r.arrival_ms < horizon) return true;
        if (format_ == codec::wire_format::json)
            json_writer.add(r);
        else
            cbor_writer.add(r);
        last_delivered = r.counter;
        last_arrival = r.arrival_ms;
        bytes += r.data.size() + r.partition_key.size();
        data_bytes += r.data.size();
        return true;
    });
    std::size_t count;
    if (format_ == codec::wire_format::json) {
        json_writer.finish();
        count = json_writer.count();
    } else {
        cbor_writer.finish();
        count = cbor_writer.count();
    }
    target_.next_counter = std::max(next, log.trimmed_below.load());
    const bool at_tip = target_.next_counter > log.committed.load();
    const bool have_records = last_delivered != 0;
    if (have_records) {
        last_counter_ = last_delivered;
        last_sequence_ = encoding::sequence_number(
            {shard->created_s, shard->index, last_delivered, std::uint64_t(last_arrival / 1000)});
        const std::int64_t behind = at_tip ? 0 : std::max<std::int64_t>(0, log.last_arrival_ms.load() - last_arrival);
        records_event(out, last_sequence_, behind, records_text, count, nullptr);
        if (auto* m = consumer->metrics.get()) {
            m->event_records.add(count);
            m->event_bytes.add(data_bytes);
            m->millis_behind_latest.set(behind);
        }
    } else if (auto* m = consumer->metrics.get(); m && at_tip) {
        m->millis_behind_latest.set(0);
    }
    if (!shard->open() && at_tip) {
        // The end of a closed shard: its children, no continuation, and the
        // end of the stream. Kept apart from the last records so that a
        // client handles those before it learns the shard ended.
        const json children = kinesis::child_shards_of(*s, *shard);
        records_event(out, {}, 0, {}, 0, &children);
        out.end = true;
        return out;
    }
    if (!have_records && (!first_event_sent_ || now - last_event_ms_ >= hub_.settings().heartbeat_ms))
        records_event(out, continuation_of(target_.next_counter - 1), 0, {}, 0, nullptr);
    return out;
}

void subscription::records_event(outcome& out, const std::string& continuation, std::int64_t behind,
                                 std::string_view records, std::size_t count, const json* children) {
    // Members sorted as the general encoders write them, so an event reads
    // like a GetRecords answer.
    std::string payload;
    if (format_ == codec::wire_format::json) {
        payload.reserve(records.size() + 256);
        payload = "{";
        if (children) {
            payload.append("\"ChildShards\":");
            codec::write_json(*children, payload);
            payload.push_back(',');
        }
        if (!continuation.empty()) payload.append("\"ContinuationSequenceNumber\":\"").append(continuation).append("\",");
        payload.append("\"MillisBehindLatest\":").append(std::to_string(behind)).append(",\"Records\":[");
        payload.append(records);
        payload.append("]}");
    } else {
        payload.reserve(records.size() + 256);
        codec::write_cbor_head(5, 2 + (children ? 1 : 0) + (continuation.empty() ? 0 : 1), payload);
        if (children) {
            codec::write_cbor_text("ChildShards", payload);
            codec::write_cbor(*children, payload);
        }
        if (!continuation.empty()) {
            codec::write_cbor_text("ContinuationSequenceNumber", payload);
            codec::write_cbor_text(continuation, payload);
        }
        codec::write_cbor_text("MillisBehindLatest", payload);
        codec::write_cbor(json(behind), payload);
        codec::write_cbor_text("Records", payload);
        codec::write_cbor_head(4, count, payload);
        payload.append(records);
    }
    codec::event_stream::append_event(out.bytes, "SubscribeToShardEvent", payload_type(format_), payload);
}

void subscription::exception_event(outcome& out, std::string_view type, const std::string& message) {
    std::string payload;
    codec::encode_to(format_, json{{"message", message}}, payload);
    codec::event_stream::append_exception(out.bytes, type, payload_type(format_), payload);
    out.end = true;
}

}  // namespace kinesd::actions
