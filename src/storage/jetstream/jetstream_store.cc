#include "storage/jetstream/jetstream_store.h"

#include <spdlog/spdlog.h>

#include <chrono>
#include <stdexcept>
#include <thread>
#include <unordered_map>

#include "common/clock.h"
#include "storage/jetstream/names.h"
#include "storage/jetstream/record_frame.h"
#include "storage/jetstream/store_impl.h"

namespace kinesd::storage {

std::unique_ptr<log_store> open_jetstream_store(const jetstream_options& options, const kinesd::clock& clock,
                                                const jetstream_tuning& tuning) {
    return std::make_unique<jetstream::jetstream_store>(options, clock, tuning);
}

}  // namespace kinesd::storage

namespace kinesd::storage::jetstream {

std::string nats_error(natsStatus s) {
    const char* last = nats_GetLastError(nullptr);
    return std::string(natsStatus_GetText(s)) + (last && *last ? std::string(" (") + last + ")" : "");
}

namespace {

// The client library calls back from its own threads, also after a
// connection was closed (the closed callback always comes late). Callbacks
// find their store here by number, and a destroyed store is gone from here
// before its memory is: the destructor takes the same lock, so it waits for
// a callback that is running.
std::mutex registry_mutex;
std::unordered_map<std::uintptr_t, jetstream_store*> registry;
std::uintptr_t next_registration = 1;

template <typename Fn>
void with_store(void* closure, Fn&& fn) {
    std::lock_guard lock(registry_mutex);
    auto it = registry.find(reinterpret_cast<std::uintptr_t>(closure));
    if (it != registry.end()) fn(*it->second);
}

void ack_handler(jsCtx*, natsMsg* msg, jsPubAck* ack, jsPubAckErr* error, void* closure) {
    bool handled = false;
    with_store(closure, [&](jetstream_store& store) {
        handled = true;
        store.on_ack(msg, ack, error);
    });
    if (!handled) natsMsg_Destroy(msg);
}
void read_reply(natsConnection*, natsSubscription*, natsMsg* msg, void* closure) {
    bool handled = false;
    with_store(closure, [&](jetstream_store& store) {
        handled = true;
        store.on_read_reply(msg);
    });
    if (!handled) natsMsg_Destroy(msg);
}
void disconnected(natsConnection*, void* closure) {
    with_store(closure, [](jetstream_store& s) { s.on_connection_change(false, "disconnected from NATS"); });
}
void reconnected(natsConnection*, void* closure) {
    with_store(closure, [](jetstream_store& s) { s.on_connection_change(true, ""); });
}
void closed(natsConnection*, void* closure) {
    with_store(closure, [](jetstream_store& s) { s.on_connection_change(false, "NATS connection closed"); });
}

// How often the follower looks at the shards with watchers: appends made
// elsewhere wake local readers within about this long.
constexpr auto follow_interval = std::chrono::milliseconds(100);

}  // namespace

jetstream_store::jetstream_store(const jetstream_options& options, const kinesd::clock& clock,
                                 const jetstream_tuning& tuning)
    : options_(options), clock_(clock), tuning_(tuning) {
    {
        std::lock_guard lock(registry_mutex);
        registration_ = next_registration++;
        registry.emplace(registration_, this);
    }
    try {
        connect();
        open_bucket();
    } catch (...) {
        if (read_sub_) natsSubscription_Destroy(read_sub_);
        if (kv_) kvStore_Destroy(kv_);
        if (js_) jsCtx_Destroy(js_);
        if (connection_) natsConnection_Destroy(connection_);
        if (nats_options_) natsOptions_Destroy(nats_options_);
        std::lock_guard lock(registry_mutex);
        registry.erase(registration_);
        throw;
    }
    publisher_ = std::thread([this] { publisher_loop(); });
    follower_ = std::thread([this] { follower_loop(); });
}

jetstream_store::~jetstream_store() {
    {
        std::lock_guard lock(queue_mutex_);
        stopping_ = true;
    }
    queue_cv_.notify_all();
    follower_cv_.notify_all();
    if (publisher_.joinable()) publisher_.join();
    if (follower_.joinable()) follower_.join();
    {
        // Acknowledgements still on their way get a publish timeout to come.
        std::unique_lock lock(pending_mutex_);
        pending_cv_.wait_for(lock, options_.publish_timeout, [&] { return pending_.empty(); });
    }
    std::vector<std::shared_ptr<pending_append>> left;
    {
        std::lock_guard lock(pending_mutex_);
        for (auto& [id, p] : pending_) left.push_back(p);
    }
    for (auto& p : left) {
        {
            std::lock_guard lock(pending_mutex_);
            if (p->result.ok()) p->result = status::unavailable("storage stopped");
            p->remaining = 0;
        }
        finish(p);
    }
    stop_watches();
    {
        std::lock_guard lock(registry_mutex);
        registry.erase(registration_);
    }
    if (read_sub_) natsSubscription_Unsubscribe(read_sub_);
    if (kv_) kvStore_Destroy(kv_);
    if (js_) jsCtx_Destroy(js_);
    // Subscriptions are freed only once the connection is closed (its reader
    // thread joined): the client library may still be delivering to them.
    if (connection_) natsConnection_Close(connection_);
    if (read_sub_) natsSubscription_Destroy(read_sub_);
    free_watches();
    if (connection_) natsConnection_Destroy(connection_);
    if (nats_options_) natsOptions_Destroy(nats_options_);
}

void jetstream_store::connect() {
    void* closure = reinterpret_cast<void*>(registration_);
    natsStatus s = natsOptions_Create(&nats_options_);
    std::vector<const char*> urls;
    for (auto& u : options_.urls) urls.push_back(u.c_str());
    if (s == NATS_OK) s = natsOptions_SetServers(nats_options_, urls.data(), int(urls.size()));
    if (s == NATS_OK) s = natsOptions_SetName(nats_options_, "kinesd");
    // Keep reconnecting for as long as the process runs: the cluster may
    // restart under us, and while it is away writable() says so.
    if (s == NATS_OK) s = natsOptions_SetMaxReconnect(nats_options_, -1);
    if (s == NATS_OK) s = natsOptions_SetReconnectWait(nats_options_, 250);
    if (s == NATS_OK) s = natsOptions_SetTimeout(nats_options_, 5000);
    if (s == NATS_OK) s = natsOptions_SetDisconnectedCB(nats_options_, disconnected, closure);
    if (s == NATS_OK) s = natsOptions_SetReconnectedCB(nats_options_, reconnected, closure);
    if (s == NATS_OK) s = natsOptions_SetClosedCB(nats_options_, closed, closure);
    // Write each publish at once. By default the library's flusher waits a
    // millisecond for more to batch: a millisecond on every put's
    // acknowledgement and on every request, and reads one record per
    // millisecond. Pipelined appends and reads still fill the socket.
    if (s == NATS_OK) s = natsOptions_SetSendAsap(nats_options_, true);
    // Publishes made while reconnecting wait in this buffer rather than fail.
    if (s == NATS_OK) s = natsOptions_SetReconnectBufSize(nats_options_, 64 << 20);
    if (s != NATS_OK) throw std::runtime_error("NATS options: " + nats_error(s));
    s = natsConnection_Connect(&connection_, nats_options_);
    if (s != NATS_OK) {
        std::string all;
        for (auto& u : options_.urls) all += (all.empty() ? "" : ", ") + u;
        throw std::runtime_error("cannot connect to NATS at " + all + ": " + nats_error(s));
    }
    connected_ = true;
    check_max_payload();
    jsOptions jo;
    jsOptions_Init(&jo);
    jo.Wait = options_.publish_timeout.count();
    jo.PublishAsync.AckHandler = ack_handler;
    jo.PublishAsync.AckHandlerClosure = closure;
    s = natsConnection_JetStream(&js_, connection_, &jo);
    if (s != NATS_OK) throw std::runtime_error("NATS JetStream context: " + nats_error(s));
    natsInbox* inbox = nullptr;
    s = natsInbox_Create(&inbox);
    if (s == NATS_OK) {
        read_inbox_ = std::string(inbox) + ".";
        natsInbox_Destroy(inbox);
        s = natsConnection_Subscribe(&read_sub_, connection_, (read_inbox_ + ">").c_str(), read_reply, closure);
    }
    if (s == NATS_OK) s = natsSubscription_SetPendingLimits(read_sub_, -1, -1);
    if (s != NATS_OK) throw std::runtime_error("NATS reply subscription: " + nats_error(s));
}

// A record is one message, so nats-server's max_payload (1 MiB unless
// configured) bounds it. Kinesis takes records of 1 MiB with their key, and
// up to 10 MiB on streams with a larger MaxRecordSizeInKiB: a cluster that
// cannot hold the first would refuse puts AWS accepts, so kinesd does not
// start on it.
void jetstream_store::check_max_payload() {
    max_payload_ = natsConnection_GetMaxPayload(connection_);
    constexpr std::int64_t one_mib_record = (1 << 20) + message_overhead;
    constexpr std::int64_t largest_record = (10 << 20) + message_overhead;
    if (max_payload_ < one_mib_record)
        throw std::runtime_error("nats-server's max_payload is " + std::to_string(max_payload_) +
                                 " bytes, too small for a 1 MiB Kinesis record (" + std::to_string(one_mib_record) +
                                 " bytes with its key and framing): set max_payload: 12MB in its configuration");
    if (max_payload_ < largest_record)
        spdlog::warn("storage: nats-server's max_payload is {} bytes: records above {} bytes (streams with a "
                     "MaxRecordSizeInKiB beyond that) will be refused; 12MB allows every Kinesis record",
                     max_payload_, max_payload_ - message_overhead);
}

void jetstream_store::on_connection_change(bool connected, const char* what) {
    connected_ = connected;
    if (!connected) {
        std::lock_guard lock(health_mutex_);
        unwritable_why_ = what;
        spdlog::warn("storage: {}", what);
    } else {
        spdlog::info("storage: reconnected to NATS");
    }
}

void jetstream_store::note_unavailable(const std::string& why) {
    {
        std::lock_guard lock(health_mutex_);
        unwritable_why_ = why;
    }
    if (!publishes_failing_.exchange(true)) spdlog::error("storage: publishes failing: {}", why);
}

void jetstream_store::note_writable() {
    if (publishes_failing_.exchange(false)) spdlog::warn("storage: publishes succeed again");
}

bool jetstream_store::writable() const {
    return connected_.load(std::memory_order_relaxed) && !publishes_failing_.load(std::memory_order_relaxed);
}

std::string jetstream_store::unwritable_reason() const {
    if (writable()) return {};
    std::lock_guard lock(health_mutex_);
    return unwritable_why_.empty() ? std::string("NATS unavailable") : unwritable_why_;
}

// The follower asks the cluster (a cheap account request); an answer clears
// a publish failure, so health recovers without waiting for a put.
void jetstream_store::retry_writes() {
    retry_requested_ = true;
    follower_cv_.notify_all();
}

std::uint64_t jetstream_store::live_data_bytes() const {
    std::uint64_t total = 0;
    std::lock_guard lock(shards_mutex_);
    for (auto& [name, shard] : shards_) total += shard->stored_bytes.load(std::memory_order_relaxed);
    return total;
}

// ---- shards

std::shared_ptr<js_shard> jetstream_store::shard_from_info(const std::string& name, jsStreamInfo* info) {
    auto shard = std::make_shared<js_shard>();
    shard->name = name;
    shard->stream = shard_stream_name(options_.prefix, name);
    shard->subject = shard_live_subject(options_.prefix, name);
    const auto closed_subject = shard_closed_subject(options_.prefix, name);
    if (info && info->Config && info->Config->SubjectsLen > 0 && closed_subject == info->Config->Subjects[0])
        shard->closed = true;
    return shard;
}

shard_ref jetstream_store::open_shard(const std::string& name, bool create) {
    {
        std::lock_guard lock(shards_mutex_);
        if (auto it = shards_.find(name); it != shards_.end()) {
            // Dropped meanwhile (refresh_tip found its stream gone): look again.
            if (!it->second->dropped) return it->second;
            shards_.erase(it);
        }
    }
    const auto stream = shard_stream_name(options_.prefix, name);
    jsStreamInfo* info = nullptr;
    jsErrCode code = jsErrCode(0);
    natsStatus s = js_GetStreamInfo(&info, js_, stream.c_str(), nullptr, &code);
    if (s == NATS_NOT_FOUND) {
        if (!create) return nullptr;
        const auto subject = shard_live_subject(options_.prefix, name);
        const char* subjects[] = {subject.c_str()};
        jsStreamConfig config;
        jsStreamConfig_Init(&config);
        config.Name = stream.c_str();
        config.Subjects = subjects;
        config.SubjectsLen = 1;
        config.Storage = js_FileStorage;
        config.Replicas = options_.replicas;
        config.AllowDirect = true;
        config.Duplicates = std::chrono::duration_cast<std::chrono::nanoseconds>(options_.duplicate_window).count();
        config.Retention = js_LimitsPolicy;
        config.Discard = js_DiscardOld;
        // A cluster that has just formed or lost its meta leader refuses
        // placement for a few seconds: those refusals are waited out.
        const auto deadline = std::chrono::steady_clock::now() + options_.publish_timeout * 4;
        for (auto pause = std::chrono::milliseconds(100);; pause = std::min(pause * 2, std::chrono::milliseconds(1000))) {
            jsErrCode add_code = jsErrCode(0);
            s = js_AddStream(&info, js_, &config, nullptr, &add_code);
            if (s == NATS_OK) break;
            // Another front end may have created it meanwhile.
            s = js_GetStreamInfo(&info, js_, stream.c_str(), nullptr, &code);
            if (s == NATS_OK) break;
            const bool transient = add_code == JSClusterNoPeersErr || add_code == JSClusterNotAvailErr ||
                                   add_code == JSClusterNotLeaderErr || add_code == JSClusterIncompleteErr ||
                                   add_code == JSInsufficientResourcesErr || add_code == jsErrCode(0);
            if (!transient || std::chrono::steady_clock::now() + pause > deadline) break;
            spdlog::warn("storage: shard stream {} not created yet (JetStream error {}), trying again", stream,
                         int(add_code));
            std::this_thread::sleep_for(pause);
        }
    }
    if (s != NATS_OK) {
        spdlog::error("storage: cannot open shard stream {}: {}", stream, nats_error(s));
        if (!create) return nullptr;
        throw std::runtime_error("cannot open shard stream " + stream + ": " + nats_error(s));
    }
    auto shard = shard_from_info(name, info);
    shard->committed = info->State.LastSeq;
    shard->trimmed_below = std::max<std::uint64_t>(1, info->State.FirstSeq);
    shard->stored_bytes = info->State.Bytes;
    jsStreamInfo_Destroy(info);
    if (shard->committed > 0) {
        // The last record's arrival, so that arrival times never go back.
        fetch(*shard, shard->committed.load(), 1, SIZE_MAX, [&](std::uint64_t, std::string_view payload) {
            record_frame frame;
            if (decode_record_frame(payload, frame)) shard->last_arrival_ms = frame.arrival_ms;
            return false;
        });
    }
    std::lock_guard lock(shards_mutex_);
    auto [it, inserted] = shards_.emplace(name, shard);
    return it->second;
}

std::vector<shard_ref> jetstream_store::open_shards(const std::vector<std::string>& names) {
    std::vector<shard_ref> out;
    out.reserve(names.size());
    for (auto& name : names) out.push_back(open_shard(name, true));
    return out;
}

void jetstream_store::wait_idle(js_shard& shard) {
    std::unique_lock lock(pending_mutex_);
    // Bounded: every in-flight entry is acknowledged, retried or failed
    // within its publish timeouts.
    pending_cv_.wait_for(lock, options_.publish_timeout * (tuning_.publish_retries + 2),
                         [&] { return shard.in_flight.load() == 0; });
}

void jetstream_store::drop_shard(const shard_ref& ref) {
    auto& shard = static_cast<js_shard&>(*ref);
    // Appends queued before this call are published before it (the
    // publisher takes them in order); a fence waits for their outcome.
    fence();
    shard.dropped = true;
    wait_idle(shard);
    jsErrCode code = jsErrCode(0);
    natsStatus s = js_DeleteStream(js_, shard.stream.c_str(), nullptr, &code);
    if (s != NATS_OK && s != NATS_NOT_FOUND)
        spdlog::error("storage: deleting shard stream {} failed: {}", shard.stream, nats_error(s));
    std::lock_guard lock(shards_mutex_);
    if (auto it = shards_.find(shard.name); it != shards_.end() && it->second.get() == &shard) shards_.erase(it);
}

// Only reports. With several front ends sharing the cluster, a stream that
// this front end's metadata does not name may belong to a stream another
// front end has just created (its shard streams are made before its
// metadata is written); deleting it here would destroy live data.
void jetstream_store::drop_unreferenced(const std::set<std::string>& keep) {
    jsStreamNamesList* names = nullptr;
    if (js_StreamNames(&names, js_, nullptr, nullptr) != NATS_OK || !names) return;
    const std::string head = name_token(options_.prefix) + "_";
    std::size_t unreferenced = 0;
    for (int i = 0; i < names->Count; ++i) {
        std::string_view stream = names->List[i];
        if (!stream.starts_with(head) || stream == meta_bucket_name(options_.prefix)) continue;
        bool known = false;
        for (auto& k : keep)
            if (shard_stream_name(options_.prefix, k) == stream) known = true;
        if (!known) {
            ++unreferenced;
            spdlog::info("storage: shard stream {} is not referenced by any stream known here (kept)", stream);
        }
    }
    if (unreferenced) spdlog::info("storage: {} unreferenced shard streams kept", unreferenced);
    jsStreamNamesList_Destroy(names);
}

void jetstream_store::close_shard(shard_log& base) {
    auto& shard = static_cast<js_shard&>(base);
    // From here on this front end refuses at once; the subject change below
    // makes every other one refuse too.
    shard.closed = true;
    jsStreamInfo* info = nullptr;
    jsErrCode code = jsErrCode(0);
    natsStatus s = js_GetStreamInfo(&info, js_, shard.stream.c_str(), nullptr, &code);
    if (s == NATS_OK) {
        const auto closed_subject = shard_closed_subject(options_.prefix, shard.name);
        if (!(info->Config->SubjectsLen > 0 && closed_subject == info->Config->Subjects[0])) {
            const char* subjects[] = {closed_subject.c_str()};
            jsStreamConfig config = *info->Config;
            config.Subjects = subjects;
            config.SubjectsLen = 1;
            jsStreamInfo* updated = nullptr;
            s = js_UpdateStream(&updated, js_, &config, nullptr, &code);
            jsStreamInfo_Destroy(updated);
        }
        jsStreamInfo_Destroy(info);
    }
    if (s != NATS_OK) spdlog::error("storage: closing shard stream {} failed: {}", shard.stream, nats_error(s));
    fence();
    wait_idle(shard);
    // The stream takes nothing more: its last sequence now is its end. Other
    // front ends' records up to it must be readable here before the shard
    // shows closed, or a reader would reach "the end" short of them.
    load_tip(shard);
}

void jetstream_store::follower_loop() {
    std::unique_lock lock(follower_mutex_);
    for (;;) {
        follower_cv_.wait_for(lock, follow_interval);
        {
            std::lock_guard q(queue_mutex_);
            if (stopping_) return;
        }
        if (retry_requested_.exchange(false) && publishes_failing_) {
            lock.unlock();
            jsAccountInfo* account = nullptr;
            if (js_GetAccountInfo(&account, js_, nullptr, nullptr) == NATS_OK) note_writable();
            jsAccountInfo_Destroy(account);
            lock.lock();
        }
        std::vector<std::shared_ptr<js_shard>> watched;
        {
            std::lock_guard s(shards_mutex_);
            for (auto& [name, shard] : shards_)
                if (shard->watchers.load(std::memory_order_relaxed) > 0 && !shard->dropped) watched.push_back(shard);
        }
        if (watched.empty()) continue;
        lock.unlock();
        for (auto& shard : watched) {
            const auto before = shard->committed.load(std::memory_order_acquire);
            load_tip(*shard);
            if (shard->committed.load(std::memory_order_acquire) > before) {
                std::lock_guard r(runner_mutex_);
                if (commit_listener_) commit_listener_(*shard);
            }
        }
        lock.lock();
    }
}

}  // namespace kinesd::storage::jetstream
