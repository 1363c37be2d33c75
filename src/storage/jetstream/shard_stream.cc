// Appends, reads, trims and tips of shard streams.
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

std::string nats_error(natsStatus s) {
    const char* last = nats_GetLastError(nullptr);
    return std::string(natsStatus_GetText(s)) + (last && *last ? std::string(" (") + last + ")" : "");
}

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

void raise(std::atomic<std::uint64_t>& value, std::uint64_t to) {
    auto seen = value.load(std::memory_order_relaxed);
    while (seen < to && !value.compare_exchange_weak(seen, to, std::memory_order_release)) {
    }
}
void raise(std::atomic<std::int64_t>& value, std::int64_t to) {
    auto seen = value.load(std::memory_order_relaxed);
    while (seen < to && !value.compare_exchange_weak(seen, to, std::memory_order_release)) {
    }
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

void jetstream_store::republish(publish_task& task) {
    auto& p = task.append;
    auto& shard = static_cast<js_shard&>(*p->request->entries[task.index].shard);
    if (task.check_closed) {
        // No responder: the stream may have moved to its closed subject (a
        // reshard on another front end), been deleted, or lost its leader.
        // One look (and one pause) per shard and round of retries, not per
        // entry: thousands of entries in flight come back together.
        constexpr auto round = std::chrono::milliseconds(250);
        if (std::chrono::steady_clock::now() - shard.responder_checked >= round) {
            shard.stream_exists = load_tip(shard);
            if (shard.stream_exists && !shard.closed) {
                // A leader election takes a moment; publishing at once
                // would only find no responder again.
                std::this_thread::sleep_for(round);
            }
            shard.responder_checked = std::chrono::steady_clock::now();
        }
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
            again = p->attempts[index]++ < tuning_.publish_retries;
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

// ---- tips

bool jetstream_store::load_tip(js_shard& shard, bool* closed) {
    jsStreamInfo* info = nullptr;
    jsErrCode code = jsErrCode(0);
    natsStatus s = js_GetStreamInfo(&info, js_, shard.stream.c_str(), nullptr, &code);
    if (s == NATS_NOT_FOUND) return false;
    if (s != NATS_OK) {
        spdlog::debug("storage: stream info of {} failed: {}", shard.stream, nats_error(s));
        return true;
    }
    const auto closed_subject = shard_closed_subject(options_.prefix, shard.name);
    if (info->Config && info->Config->SubjectsLen > 0 && closed_subject == info->Config->Subjects[0]) {
        shard.closed = true;
        if (closed) *closed = true;
    }
    const std::uint64_t last = info->State.LastSeq;
    const std::uint64_t first = std::max<std::uint64_t>(1, info->State.FirstSeq);
    shard.stored_bytes = info->State.Bytes;
    jsStreamInfo_Destroy(info);
    raise(shard.trimmed_below, first);
    if (last > shard.committed.load(std::memory_order_acquire) || shard.last_arrival_ms.load() == 0) {
        if (last > 0) {
            fetch(shard, last, 1, SIZE_MAX, [&](std::uint64_t, std::string_view payload) {
                record_frame frame;
                if (decode_record_frame(payload, frame)) raise(shard.last_arrival_ms, frame.arrival_ms);
                return false;
            });
        }
        raise(shard.committed, last);
    }
    return true;
}

void jetstream_store::refresh_tip(shard_log& shard) {
    if (!load_tip(static_cast<js_shard&>(shard))) shard.dropped = true;
}

// ---- reads

// One reply subscription serves every read for the store's lifetime.
// Subscribing and unsubscribing per read raced with the C client's reader
// thread: a reply still arriving for a subscription being destroyed made it
// lock freed memory (libnats 3.4.1 looks the subscription up without holding
// a reference). Late replies now arrive at a live subscription and are
// dropped here.
void jetstream_store::on_read_reply(natsMsg* msg) {
    const char* subject = natsMsg_GetSubject(msg);
    std::uint64_t read_id = 0;
    std::size_t index = SIZE_MAX;
    if (subject && std::strncmp(subject, read_inbox_.c_str(), read_inbox_.size()) == 0) {
        const char* p = subject + read_inbox_.size();
        const char* end = p + std::strlen(p);
        auto r = std::from_chars(p, end, read_id);
        if (r.ec == std::errc() && r.ptr < end && *r.ptr == '.') std::from_chars(r.ptr + 1, end, index);
    }
    std::shared_ptr<pending_read> read;
    {
        std::lock_guard lock(reads_mutex_);
        if (auto it = reads_.find(read_id); it != reads_.end()) read = it->second;
    }
    if (read) {
        std::lock_guard lock(read->mutex);
        if (!read->finished && index < read->slots.size() && !read->slots[index]) {
            read->slots[index] = msg;
            read->cv.notify_all();
            return;
        }
    }
    natsMsg_Destroy(msg);
}

void jetstream_store::request_all(const std::vector<std::string>& subjects,
                                  const std::function<void(std::size_t, natsMsg*)>& fn) {
    if (subjects.empty()) return;
    auto read = std::make_shared<pending_read>();
    const std::uint64_t read_id = next_read_id_.fetch_add(1);
    {
        std::lock_guard lock(reads_mutex_);
        reads_.emplace(read_id, read);
    }
    const std::string base = read_inbox_ + std::to_string(read_id);
    const std::size_t depth = std::max<std::size_t>(1, tuning_.read_pipeline);
    std::size_t sent = 0, answered = 0;
    while (answered < subjects.size()) {
        for (; sent < subjects.size() && sent - answered < depth; ++sent) {
            {
                std::lock_guard lock(read->mutex);
                read->slots.push_back(nullptr);
            }
            const std::string reply = base + "." + std::to_string(sent);
            natsConnection_PublishRequest(connection_, subjects[sent].c_str(), reply.c_str(), nullptr, 0);
        }
        natsMsg* m = nullptr;
        {
            std::unique_lock lock(read->mutex);
            if (!read->cv.wait_for(lock, options_.publish_timeout, [&] { return read->slots[answered] != nullptr; })) {
                spdlog::warn("storage: requests timed out ({} of {} answered)", answered, subjects.size());
                break;
            }
            std::swap(m, read->slots[answered]);
        }
        fn(answered, m);
        natsMsg_Destroy(m);
        ++answered;
    }
    {
        std::lock_guard lock(reads_mutex_);
        reads_.erase(read_id);
    }
    std::lock_guard lock(read->mutex);
    read->finished = true;
    for (auto*& m : read->slots) {
        natsMsg_Destroy(m);
        m = nullptr;
    }
}

std::size_t jetstream_store::fetch(js_shard& shard, std::uint64_t from, std::size_t count, std::size_t max_bytes,
                                   const std::function<bool(std::uint64_t, std::string_view)>& fn) {
    if (count == 0) return 0;
    auto read = std::make_shared<pending_read>();
    const std::uint64_t read_id = next_read_id_.fetch_add(1);
    {
        std::lock_guard lock(reads_mutex_);
        reads_.emplace(read_id, read);
    }
    const std::string base = read_inbox_ + std::to_string(read_id);
    const std::string api = api_prefix_ + ".DIRECT.GET." + shard.stream;
    const std::size_t depth = std::max<std::size_t>(1, tuning_.read_pipeline);
    // Past the last record known here, a few requests at a time: records
    // other front ends stored may be there, but mostly nothing is.
    constexpr std::size_t beyond_known = 8;
    auto& slots = read->slots;
    std::size_t sent = 0, emitted = 0, visited = 0, bytes = 0, average = 0;
    std::uint64_t last_seq = 0;
    bool stop = false;
    std::string body;
    while (!stop && emitted < count) {
        // Keep up to `depth` requests in flight, fewer when the bytes still
        // wanted fit in fewer records of the size seen so far.
        std::size_t window = depth;
        if (average > 0 && max_bytes != SIZE_MAX)
            window = std::clamp<std::size_t>((max_bytes > bytes ? max_bytes - bytes : 0) / average + 1, 1, depth);
        const std::uint64_t known = std::max(shard.committed.load(std::memory_order_acquire), last_seq);
        while (sent < count && sent - emitted < window && from + sent <= known + beyond_known) {
            // next_by_subj: the message at `seq` or the first after it, so a
            // trimmed prefix is skipped rather than answered "not found".
            body = "{\"seq\":" + std::to_string(from + sent) + ",\"next_by_subj\":\"" + shard.subject + "\"}";
            const std::string reply = base + "." + std::to_string(sent);
            {
                std::lock_guard lock(read->mutex);
                slots.push_back(nullptr);
            }
            if (natsConnection_PublishRequest(connection_, api.c_str(), reply.c_str(), body.data(),
                                              int(body.size())) != NATS_OK) {
                stop = true;
                break;
            }
            ++sent;
        }
        if (stop || emitted >= sent) break;
        {
            std::unique_lock lock(read->mutex);
            if (!read->cv.wait_for(lock, options_.publish_timeout, [&] { return slots[emitted] != nullptr; })) {
                spdlog::warn("storage: reading {} timed out", shard.stream);
                break;
            }
        }
        natsMsg* m = nullptr;
        {
            std::lock_guard lock(read->mutex);
            std::swap(m, slots[emitted]);
        }
        const std::uint64_t wanted = from + emitted;
        ++emitted;
        auto emit = [&](std::uint64_t seq, std::string_view payload) {
            if (seq <= last_seq) return;  // a record that moved past a trim, seen already
            last_seq = seq;
            ++visited;
            bytes += payload.size();
            average = bytes / visited;
            if (!fn(seq, payload)) stop = true;
        };
        const char* value = nullptr;
        const int size = natsMsg_GetDataLength(m);
        if (size == 0 && natsMsgHeader_Get(m, "Status", &value) == NATS_OK) {
            // 404: nothing at or after this sequence (408 and others: an
            // error; either way the read ends here)...
            const bool not_found = std::strcmp(value, "404") == 0;
            if (!not_found) spdlog::warn("storage: direct get on {}: status {}", shard.stream, value);
            natsMsg_Destroy(m);
            // ...unless this front end knows the record is stored: any
            // replica answers a direct get, also one still catching up.
            std::uint64_t seq = 0;
            std::string payload;
            if (not_found && wanted <= shard.committed.load(std::memory_order_acquire) &&
                leader_get(shard, wanted, &seq, &payload)) {
                emit(seq, payload);
                continue;
            }
            break;
        }
        std::uint64_t seq = 0;
        if (natsMsgHeader_Get(m, "Nats-Sequence", &value) == NATS_OK)
            std::from_chars(value, value + std::strlen(value), seq);
        emit(seq, std::string_view(natsMsg_GetData(m), std::size_t(size)));
        natsMsg_Destroy(m);
    }
    {
        std::lock_guard lock(reads_mutex_);
        reads_.erase(read_id);
    }
    std::lock_guard lock(read->mutex);
    read->finished = true;  // a reply the callback holds now is dropped there
    for (auto*& m : slots) {
        natsMsg_Destroy(m);
        m = nullptr;
    }
    return visited;
}

bool jetstream_store::leader_get(js_shard& shard, std::uint64_t seq, std::uint64_t* found, std::string* payload) {
    const std::string api = api_prefix_ + ".STREAM.MSG.GET." + shard.stream;
    const std::string body =
        "{\"seq\":" + std::to_string(seq) + ",\"next_by_subj\":\"" + shard.subject + "\"}";
    natsMsg* reply = nullptr;
    if (natsConnection_Request(&reply, connection_, api.c_str(), body.data(), int(body.size()),
                               options_.publish_timeout.count()) != NATS_OK)
        return false;
    auto answer = nlohmann::json::parse(natsMsg_GetData(reply), natsMsg_GetData(reply) + natsMsg_GetDataLength(reply),
                                        nullptr, false);
    natsMsg_Destroy(reply);
    if (answer.is_discarded() || !answer.contains("message")) return false;
    const auto& message = answer["message"];
    std::string error;
    if (!message.contains("seq") || !message.contains("data") ||
        !base64::decode(message["data"].get<std::string>(), *payload, &error))
        return false;
    *found = message["seq"].get<std::uint64_t>();
    return true;
}

std::size_t jetstream_store::read(shard_log& base, std::uint64_t from, std::size_t limit, std::size_t max_bytes,
                                  const std::function<bool(const record_view&)>& fn) {
    auto& shard = static_cast<js_shard&>(base);
    from = std::max(from, shard.trimmed_below.load(std::memory_order_acquire));
    if (limit == 0 || shard.dropped) return 0;
    std::size_t count = 0, bytes = 0;
    std::uint64_t last = 0;
    fetch(shard, from, limit, max_bytes, [&](std::uint64_t seq, std::string_view payload) {
        record_frame frame;
        if (!decode_record_frame(payload, frame)) return true;  // not ours: skipped
        last = seq;
        ++count;
        bytes += frame.partition_key.size() + frame.data.size();
        // The arrival time exactly as stamped, even where it is below an
        // earlier record's (a republish that landed after later records):
        // it is part of the sequence number the put answered, and a read
        // must print that same number.
        return fn(record_view{seq, frame.arrival_ms, frame.partition_key, frame.data, frame.encrypted}) &&
               bytes < max_bytes && count < limit;
    });
    raise(shard.committed, last);
    return count;
}

bool jetstream_store::first_at_or_after(shard_log& base, std::uint64_t counter, record_view* out) {
    auto& shard = static_cast<js_shard&>(base);
    // The views stay valid until this thread's next call.
    thread_local std::string payload_copy;
    bool found = false;
    fetch(shard, std::max<std::uint64_t>(counter, 1), 1, SIZE_MAX, [&](std::uint64_t seq, std::string_view payload) {
        payload_copy.assign(payload);
        record_frame frame;
        if (!decode_record_frame(payload_copy, frame)) return false;
        *out = record_view{seq, frame.arrival_ms, frame.partition_key, frame.data, frame.encrypted};
        found = true;
        return false;
    });
    return found;
}

std::uint64_t jetstream_store::counter_at_time(shard_log& shard, std::int64_t t_ms) {
    return search_counter_at_time(*this, shard, t_ms);
}

status jetstream_store::trim(shard_log& base, std::uint64_t below) {
    auto& shard = static_cast<js_shard&>(base);
    if (below <= shard.trimmed_below.load()) return status::success();
    // Purging past the stream's end would move its next sequence: never
    // beyond what is stored.
    load_tip(shard);
    below = std::min(below, shard.committed.load() + 1);
    if (below <= shard.trimmed_below.load()) return status::success();
    jsOptions o;
    jsOptions_Init(&o);
    o.Stream.Purge.Sequence = below;
    jsErrCode code = jsErrCode(0);
    natsStatus s = js_PurgeStream(js_, shard.stream.c_str(), &o, &code);
    if (s != NATS_OK) return classify(s, "trim");
    raise(shard.trimmed_below, below);
    return status::success();
}

}  // namespace kinesd::storage::jetstream
