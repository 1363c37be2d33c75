// Appends to shard streams: the publisher thread, acknowledgements,
// republishing (tips, reads and trims: shard_reads.cc).
#include <spdlog/spdlog.h>

#include <algorithm>
#include <charconv>
#include <cinttypes>
#include <cstdio>
#include <cstring>
#include <thread>

#include <nlohmann/json.hpp>

#include "common/base64.h"
#include "common/clock.h"
#include "common/random.h"
#include "storage/jetstream/names.h"
#include "storage/jetstream/record_frame.h"
#include "storage/jetstream/store_impl.h"
#include "storage/time_search.h"

namespace kinesd::storage::jetstream {

namespace {

std::uint64_t new_append_id() {
    const auto bytes = id_bytes(8);
    std::uint64_t id = 0;
    std::memcpy(&id, bytes.data(), 8);
    return id;
}

// "<16 hex digits>-<index>": unique per entry, and the same on a republish.
std::string msg_id(std::uint64_t append_id, std::size_t index) {
    char text[48];
    std::snprintf(text, sizeof text, "%016" PRIx64 "-%zu", append_id, index);
    return text;
}

bool parse_msg_id(const char* text, std::uint64_t* append_id, std::size_t* index) {
    if (!text) return false;
    std::string_view v(text);
    auto dash = v.find('-');
    if (dash != 16) return false;
    auto r1 = std::from_chars(v.data(), v.data() + dash, *append_id, 16);
    auto r2 = std::from_chars(v.data() + dash + 1, v.data() + v.size(), *index);
    return r1.ec == std::errc() && r2.ec == std::errc();
}


// Failures after which the same message may be sent again: the server may
// or may not have stored it, and the message id makes a second copy harmless.
bool retryable(natsStatus s) {
    return s == NATS_TIMEOUT || s == NATS_NO_RESPONDERS || s == NATS_CONNECTION_CLOSED ||
           s == NATS_CONNECTION_DISCONNECTED || s == NATS_IO_ERROR || s == NATS_NO_SERVER;
}

}  // namespace

// ---- appends

void jetstream_store::append(std::shared_ptr<append_request> request) {
    auto p = std::make_shared<pending_append>();
    p->request = std::move(request);
    p->remaining = p->request->entries.size();
    p->attempts.assign(p->remaining, 0);
    p->rounds.assign(p->remaining, 0);
    p->acked.assign(p->remaining, false);
    appends_pending_.fetch_add(1, std::memory_order_acq_rel);
    {
        std::lock_guard lock(pending_mutex_);
        do p->id = new_append_id();
        while (p->id == 0 || pending_.count(p->id));
        pending_.emplace(p->id, p);
    }
    if (p->remaining == 0) {
        finish(p);
        return;
    }
    {
        std::lock_guard lock(queue_mutex_);
        if (!stopping_) {
            queue_.push_back(publish_task{p});
            queue_cv_.notify_one();
            return;
        }
    }
    {
        std::lock_guard lock(pending_mutex_);
        p->result = status::unavailable("storage stopped");
        p->remaining = 0;
    }
    finish(p);
}

void jetstream_store::publisher_loop() {
    for (;;) {
        publish_task task;
        {
            std::unique_lock lock(queue_mutex_);
            queue_cv_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
            if (queue_.empty()) return;
            task = std::move(queue_.front());
            queue_.pop_front();
        }
        if (task.retry)
            republish(task);
        else
            publish_append(task.append);
    }
}

void jetstream_store::publish_append(const std::shared_ptr<pending_append>& p) {
    auto& entries = p->request->entries;
    status refused;
    for (auto& e : entries) {
        if (e.shard->dropped) refused = status::not_found("shard dropped");
        else if (e.shard->closed && refused.ok()) refused = status::aborted("shard closed by a reshard");
    }
    if (!refused.ok()) {
        {
            std::lock_guard lock(pending_mutex_);
            p->result = refused;
            p->remaining = 0;
        }
        finish(p);
        return;
    }
    jsPubOptions po;
    jsPubOptions_Init(&po);
    po.MaxWait = options_.publish_timeout.count();
    const std::int64_t now = clock_.now_ms();
    std::string frame;
    for (std::size_t i = 0; i < entries.size(); ++i) {
        auto& e = entries[i];
        auto& shard = static_cast<js_shard&>(*e.shard);
        // Arrival times never go back within a shard, so AT_TIMESTAMP can
        // binary-search by counter (see record_frame.h for why they are ours).
        const std::int64_t arrival =
            std::max({now, shard.last_stamped_ms, shard.last_arrival_ms.load(std::memory_order_relaxed)});
        shard.last_stamped_ms = arrival;
        e.arrival_ms = arrival;
        frame.clear();
        encode_record_frame(frame, arrival, e.partition_key, e.data, e.encrypted);
        shard.in_flight.fetch_add(1, std::memory_order_acq_rel);
        if (std::int64_t(frame.size()) + 128 > max_payload_) {
            // Only on a cluster whose max_payload is below 10 MiB (see
            // check_max_payload): the server would refuse the message.
            entry_done(p, i, 0,
                       status::other("a record of " + std::to_string(e.data.size()) +
                                     " bytes does not fit the NATS cluster's max_payload of " +
                                     std::to_string(max_payload_)));
            continue;
        }
        natsMsg* msg = nullptr;
        natsStatus s = natsMsg_Create(&msg, shard.subject.c_str(), nullptr, frame.data(), int(frame.size()));
        if (s == NATS_OK) s = natsMsgHeader_Set(msg, "Nats-Msg-Id", msg_id(p->id, i).c_str());
        if (s == NATS_OK) s = js_PublishMsgAsync(js_, &msg, &po);
        if (s != NATS_OK) {
            natsMsg_Destroy(msg);
            entry_done(p, i, 0, status::unavailable("publish failed: " + nats_error(s)));
        }
    }
}

int jetstream_store::no_responder_rounds() const {
    const auto per_timeout = std::max<std::int64_t>(1, options_.publish_timeout / responder_pause);
    return int(std::max<std::int64_t>(1, tuning_.publish_retries) * per_timeout);
}

void jetstream_store::republish(publish_task& task) {
    auto& p = task.append;
    auto& shard = static_cast<js_shard&>(*p->request->entries[task.index].shard);
    if (task.check_closed) {
        // No responder: the stream may have moved to its closed subject (a
        // reshard on another front end), been deleted, or lost its leader.
        // One look (and one pause) per shard and round of retries, not per
        // entry: thousands of entries in flight come back together.
        // An entry republished after the last look goes out at once; one
        // that failed again since starts the next look, a pause after the
        // last: a leader election, or a new stream's interest reaching this
        // server, takes a moment.
        auto& round = p->rounds[task.index];
        if (round == shard.responder_round) {
            const auto since = std::chrono::steady_clock::now() - shard.responder_checked;
            if (since < responder_pause) std::this_thread::sleep_for(responder_pause - since);
            shard.stream_exists = load_tip(shard);
            shard.responder_checked = std::chrono::steady_clock::now();
            ++shard.responder_round;
        }
        round = shard.responder_round;
        if (!shard.stream_exists) {
            natsMsg_Destroy(task.retry);
            entry_done(p, task.index, 0, status::not_found("shard stream deleted"));
            return;
        }
        if (shard.closed) {
            natsMsg_Destroy(task.retry);
            entry_done(p, task.index, 0, status::aborted("shard closed by a reshard"));
            return;
        }
    }
    jsPubOptions po;
    jsPubOptions_Init(&po);
    po.MaxWait = options_.publish_timeout.count();
    natsMsg* msg = task.retry;
    natsStatus s = js_PublishMsgAsync(js_, &msg, &po);
    if (s != NATS_OK) {
        natsMsg_Destroy(msg);
        entry_done(p, task.index, 0, status::unavailable("publish failed: " + nats_error(s)));
    }
}

// The client library's acknowledgement thread.
void jetstream_store::on_ack(natsMsg* msg, jsPubAck* ack, jsPubAckErr* error) {
    const char* id_text = nullptr;
    std::uint64_t id = 0;
    std::size_t index = 0;
    std::shared_ptr<pending_append> p;
    if (natsMsgHeader_Get(msg, "Nats-Msg-Id", &id_text) == NATS_OK && parse_msg_id(id_text, &id, &index)) {
        std::lock_guard lock(pending_mutex_);
        if (auto it = pending_.find(id); it != pending_.end()) p = it->second;
    }
    if (!p || index >= p->request->entries.size()) {
        natsMsg_Destroy(msg);
        return;
    }
    if (ack) {
        natsMsg_Destroy(msg);
        entry_done(p, index, ack->Sequence, status::success());
        return;
    }
    const natsStatus err = error ? error->Err : NATS_ERR;
    const std::string text = error && error->ErrText ? error->ErrText : natsStatus_GetText(err);
    auto& shard = *p->request->entries[index].shard;
    if (err == NATS_NO_RESPONDERS && shard.closed) {
        natsMsg_Destroy(msg);
        entry_done(p, index, 0, status::aborted("shard closed by a reshard"));
        return;
    }
    if (retryable(err)) {
        bool again = false;
        {
            std::lock_guard lock(pending_mutex_);
            // A missing responder is answered at once, not after a
            // timeout: its retries are paced by republish and get the
            // budget that timeouts would have taken.
            const int budget = err == NATS_NO_RESPONDERS ? no_responder_rounds() : tuning_.publish_retries;
            again = p->attempts[index]++ < budget;
        }
        if (again) {
            std::lock_guard lock(queue_mutex_);
            if (!stopping_) {
                queue_.push_back(publish_task{p, msg, index, err == NATS_NO_RESPONDERS});
                queue_cv_.notify_one();
                return;
            }
        }
        natsMsg_Destroy(msg);
        entry_done(p, index, 0, status::unavailable("NATS: " + text));
        return;
    }
    natsMsg_Destroy(msg);
    entry_done(p, index, 0, status::other("NATS: " + text));
}

void jetstream_store::entry_done(const std::shared_ptr<pending_append>& p, std::size_t index, std::uint64_t counter,
                                 const status& failure) {
    auto& e = p->request->entries[index];
    bool last = false;
    {
        std::lock_guard lock(pending_mutex_);
        if (counter) {
            e.counter = counter;
            p->acked[index] = true;
        } else if (p->result.ok()) {
            p->result = failure;
        }
        last = --p->remaining == 0;
    }
    static_cast<js_shard&>(*e.shard).in_flight.fetch_sub(1, std::memory_order_acq_rel);
    if (last) finish(p);
    pending_cv_.notify_all();
}

void jetstream_store::finish(const std::shared_ptr<pending_append>& p) {
    status result;
    std::vector<shard_log*> touched;
    {
        std::lock_guard lock(pending_mutex_);
        result = p->result;
        auto& entries = p->request->entries;
        for (std::size_t i = 0; i < entries.size(); ++i) {
            if (!p->acked[i]) continue;
            auto& e = entries[i];
            // A sequence is assigned in the order the stream stores, and
            // storing is in order too: every lower sequence is stored.
            raise(e.shard->committed, e.counter);
            raise(e.shard->last_arrival_ms, e.arrival_ms);
            if (std::find(touched.begin(), touched.end(), e.shard) == touched.end()) touched.push_back(e.shard);
        }
        pending_.erase(p->id);
    }
    if (result.ok()) note_writable();
    else if (result.is_unavailable()) note_unavailable(result.message());
    auto complete = [this, p, result] {
        p->request->done(result);
        appends_pending_.fetch_sub(1, std::memory_order_acq_rel);
    };
    std::lock_guard lock(runner_mutex_);
    if (commit_listener_) {
        std::atomic_thread_fence(std::memory_order_seq_cst);
        for (auto* shard : touched)
            if (shard->watchers.load(std::memory_order_relaxed) > 0) commit_listener_(*shard);
    }
    if (completion_runner_)
        completion_runner_(std::move(complete));
    else
        complete();
    pending_cv_.notify_all();
}

void jetstream_store::fence() {
    std::unique_lock lock(pending_mutex_);
    std::vector<std::uint64_t> ids;
    ids.reserve(pending_.size());
    for (auto& [id, p] : pending_) ids.push_back(id);
    pending_cv_.wait(lock, [&] {
        return std::none_of(ids.begin(), ids.end(), [&](std::uint64_t id) { return pending_.count(id) > 0; });
    });
}

void jetstream_store::set_completion_runner(completion_runner runner) {
    std::lock_guard lock(runner_mutex_);
    completion_runner_ = std::move(runner);
}

void jetstream_store::set_commit_listener(commit_listener listener) {
    std::lock_guard lock(runner_mutex_);
    commit_listener_ = std::move(listener);
}

}  // namespace kinesd::storage::jetstream
