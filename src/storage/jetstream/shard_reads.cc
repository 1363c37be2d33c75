// Tips, reads and trims of shard streams (appends: shard_stream.cc).
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
