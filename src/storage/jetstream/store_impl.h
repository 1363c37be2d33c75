#pragma once
// The JetStream backend's class, shared by its files: jetstream_store.cc
// (connection, shards, health), shard_stream.cc (append, read, trim, tip),
// meta_bucket.cc (metadata). Only jetstream_store.h is for other folders.
#include <nats/nats.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "storage/jetstream/jetstream_store.h"

namespace kinesd::storage::jetstream {

// A shard as this backend keeps it.
struct js_shard : shard_log {
    std::string stream;   // the JetStream stream's name
    std::string subject;  // where appends are published
    // The last arrival time stamped on a publish here (publisher thread).
    std::int64_t last_stamped_ms = 0;
    // Entries published and not yet acknowledged or failed.
    std::atomic<std::uint32_t> in_flight{0};
    // Bytes stored, from the last stream info (for live_data_bytes).
    std::atomic<std::uint64_t> stored_bytes{0};
    // The last look at the stream after a publish found no responder, and
    // whether it still existed (publisher thread only): every entry in flight
    // to a shard whose leader died comes back at once, and one look serves
    // them all.
    std::chrono::steady_clock::time_point responder_checked{};
    std::uint32_t responder_round = 0;  // counts those looks
    bool stream_exists = true;
};

// How far apart the looks at a stream without responders are.
inline constexpr auto responder_pause = std::chrono::milliseconds(250);

// The client library's text for a status, with its last error's detail.
std::string nats_error(natsStatus s);

// Raises an atomic position to `to` if it is below it (several threads
// learn of new records at once).
template <typename T>
void raise(std::atomic<T>& value, T to) {
    auto seen = value.load(std::memory_order_relaxed);
    while (seen < to && !value.compare_exchange_weak(seen, to, std::memory_order_release)) {
    }
}

// One append while its entries are being acknowledged.
struct pending_append {
    std::shared_ptr<append_request> request;
    std::uint64_t id = 0;
    std::size_t remaining = 0;     // under the store's pending mutex
    std::vector<int> attempts;     // per entry
    // Per entry: the shard's responder_round when it was last republished
    // (publisher thread only).
    std::vector<std::uint32_t> rounds;
    std::vector<bool> acked;       // per entry
    status result;                 // the first failure
};

// One read's replies, filled in by the reply subscription's thread.
struct pending_read {
    std::mutex mutex;
    std::condition_variable cv;
    std::vector<natsMsg*> slots;  // by request index
    bool finished = false;
};

class jetstream_store final : public log_store {
public:
    jetstream_store(const jetstream_options& options, const kinesd::clock& clock, const jetstream_tuning& tuning);
    ~jetstream_store() override;

    std::string_view backend_name() const override { return "nats"; }

    status put_meta(std::string_view key, std::string_view value) override;
    status delete_meta(std::string_view key) override;
    bool get_meta(std::string_view key, std::string* value) const override;
    void scan_meta(std::string_view prefix,
                   const std::function<void(std::string_view, std::string_view)>& fn) const override;
    status get_meta_revision(std::string_view key, std::string* value, std::uint64_t* revision) const override;
    status put_meta_if(std::string_view key, std::string_view value, std::uint64_t expected,
                       std::uint64_t* revision) override;
    status delete_meta_if(std::string_view key, std::uint64_t expected) override;
    std::uint64_t watch_meta(std::string_view prefix, meta_watcher fn) override;
    void unwatch_meta(std::uint64_t id) override;
    std::uint64_t meta_sync_point() const override;

    shard_ref open_shard(const std::string& name, bool create) override;
    std::vector<shard_ref> open_shards(const std::vector<std::string>& names) override;
    void drop_shard(const shard_ref& shard) override;
    void drop_unreferenced(const std::set<std::string>& keep) override;
    void close_shard(shard_log& shard) override;

    void append(std::shared_ptr<append_request> request) override;
    void fence() override;
    void set_completion_runner(completion_runner runner) override;
    void set_commit_listener(commit_listener listener) override;
    std::size_t appends_pending() const override { return appends_pending_.load(std::memory_order_acquire); }
    bool lone_client() const override { return false; }

    void refresh_tip(shard_log& shard) override;
    std::size_t read(shard_log& shard, std::uint64_t from, std::size_t limit, std::size_t max_bytes,
                     const std::function<bool(const record_view&)>& fn) override;
    bool first_at_or_after(shard_log& shard, std::uint64_t counter, record_view* out) override;
    std::uint64_t counter_at_time(shard_log& shard, std::int64_t t_ms) override;
    status trim(shard_log& shard, std::uint64_t below) override;
    void compact(shard_log&) override {}

    bool writable() const override;
    std::string unwritable_reason() const override;
    void retry_writes() override;
    std::uint64_t live_data_bytes() const override;

    // ---- for the library's callbacks
    void on_ack(natsMsg* msg, jsPubAck* ack, jsPubAckErr* error);
    void on_connection_change(bool connected, const char* what);
    void on_read_reply(natsMsg* msg);

private:
    struct publish_task {
        std::shared_ptr<pending_append> append;  // a new append
        natsMsg* retry = nullptr;                // or one entry to republish
        std::size_t index = 0;
        bool check_closed = false;  // the retry followed a missing responder
    };
    struct meta_watch;

    // jetstream_store.cc
    void connect();
    std::shared_ptr<js_shard> shard_from_info(const std::string& name, jsStreamInfo* info);
    void follower_loop();
    void wait_idle(js_shard& shard);
    void note_unavailable(const std::string& why);
    void note_writable();
    // shard_stream.cc
    void publisher_loop();
    void publish_append(const std::shared_ptr<pending_append>& append);
    void republish(publish_task& task);
    // Republishes of one entry that found no responder: as many looks as
    // the timeouts' budget lasts.
    int no_responder_rounds() const;
    void entry_done(const std::shared_ptr<pending_append>& append, std::size_t index, std::uint64_t counter,
                    const status& failure);
    void finish(const std::shared_ptr<pending_append>& append);
    // The state of the shard's stream: updates the counters; false when the
    // stream is gone. Sets *closed when it no longer takes the live subject.
    bool load_tip(js_shard& shard, bool* closed = nullptr);
    // Direct gets of counters from..from+count-1 ("the first at or after" for
    // each), in one pipeline, until max_bytes of payload passed; fn sees each message found, in order, and
    // returns false to stop.
    std::size_t fetch(js_shard& shard, std::uint64_t from, std::size_t count, std::size_t max_bytes,
                      const std::function<bool(std::uint64_t seq, std::string_view payload)>& fn);
    // Sends a request without a body to each subject, keeping a pipeline of
    // them in flight, and hands fn each answer in order (stops at a timeout).
    void request_all(const std::vector<std::string>& subjects, const std::function<void(std::size_t, natsMsg*)>& fn);
    // The stream leader's copy of the record at `seq` or the first after it.
    bool leader_get(js_shard& shard, std::uint64_t seq, std::uint64_t* found, std::string* payload);
    // meta_bucket.cc
    void open_bucket();
    status classify(natsStatus s, const char* what) const;
    void stop_watches();  // unsubscribes every watch
    void free_watches();  // after the connection closed
    static void on_meta_change(natsConnection*, natsSubscription*, natsMsg* msg, void* closure);

    jetstream_options options_;
    const kinesd::clock& clock_;
    jetstream_tuning tuning_;
    std::string api_prefix_ = "$JS.API";
    std::uintptr_t registration_ = 0;  // the library's callbacks find this store by it

    natsOptions* nats_options_ = nullptr;
    natsConnection* connection_ = nullptr;
    // The cluster's largest message, and what a record adds to its data:
    // the partition key (up to 256 characters of UTF-8), the record frame
    // and the message id header.
    std::int64_t max_payload_ = 0;
    static constexpr std::int64_t message_overhead = 2048;
    void check_max_payload();
    jsCtx* js_ = nullptr;
    kvStore* kv_ = nullptr;
    std::string bucket_;
    std::string kv_subject_prefix_;  // "$KV.<bucket>."

    // Replies to direct gets: "<read_inbox_><read id>.<request index>".
    std::string read_inbox_;
    natsSubscription* read_sub_ = nullptr;
    std::mutex reads_mutex_;
    std::unordered_map<std::uint64_t, std::shared_ptr<pending_read>> reads_;
    std::atomic<std::uint64_t> next_read_id_{1};

    mutable std::mutex shards_mutex_;
    std::map<std::string, std::shared_ptr<js_shard>> shards_;

    std::mutex queue_mutex_;
    std::condition_variable queue_cv_;
    std::deque<publish_task> queue_;
    bool stopping_ = false;

    // Appends from append() until their completion ran; the condition
    // variable wakes fences and shards waiting for their in-flight entries.
    std::mutex pending_mutex_;
    std::condition_variable pending_cv_;
    std::unordered_map<std::uint64_t, std::shared_ptr<pending_append>> pending_;
    std::atomic<std::size_t> appends_pending_{0};

    std::mutex runner_mutex_;
    completion_runner completion_runner_;
    commit_listener commit_listener_;

    std::atomic<bool> connected_{false};
    std::atomic<bool> publishes_failing_{false};
    std::atomic<bool> retry_requested_{false};
    mutable std::mutex health_mutex_;
    std::string unwritable_why_;

    std::mutex watches_mutex_;
    std::map<std::uint64_t, std::shared_ptr<meta_watch>> watches_;
    std::vector<std::shared_ptr<meta_watch>> stopped_watches_;  // kept until the connection is gone
    std::uint64_t next_watch_id_ = 1;

    std::thread publisher_;
    std::thread follower_;
    std::mutex follower_mutex_;
    std::condition_variable follower_cv_;
};

}  // namespace kinesd::storage::jetstream
