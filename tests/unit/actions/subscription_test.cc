// The SubscribeToShard pump against a real store: commits push events with
// no timer involved, the lifetime ends the stream on the server's clock, and
// a second subscription follows AWS's five-second rule.
#include "actions/subscription.h"

#include <boost/asio/post.hpp>
#include <boost/asio/thread_pool.hpp>
#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <future>
#include <mutex>

#include "actions/service.h"
#include "actions/subscription_hub.h"
#include "codec/event_stream.h"
#include "common/clock.h"
#include "kinesd/api_error.h"
#include "storage/rocksdb_store.h"
#include "streams/commit_notifier.h"
#include "streams/stream_registry.h"

namespace kinesd::actions {
namespace {

namespace fs = std::filesystem;
namespace es = codec::event_stream;
using nlohmann::json;

constexpr std::int64_t lifetime_ms = 300000;

class SubscriptionTest : public ::testing::Test {
protected:
    SubscriptionTest()
        : dir_(fs::temp_directory_path() / ("kinesd-sub-" + std::to_string(::getpid()) + "-" +
                                           std::to_string(counter_++))),
          store_(options(dir_), clock_),
          registry_(store_, clock_, {}),
          service_({}, store_, registry_, clock_, std::string(32, 's')),
          notifier_(store_),
          // A heartbeat far away: whatever arrives here was pushed by a commit.
          hub_(notifier_, pool_.get_executor(), {.heartbeat_ms = 3600000, .lifetime_ms = lifetime_ms}, "123456789012") {
        service_.set_post([this](std::function<void()> work) { boost::asio::post(pool_, std::move(work)); });
        streams::stream_state s;
        s.name = "events";
        s.uid = 42;
        s.created_ms = clock_.now_ms();
        streams::shard_state shard;
        shard.index = 0;
        shard.starting_hash = 0;
        shard.ending_hash = ~uint128(0);
        shard.created_s = std::uint64_t(s.created_ms / 1000);
        s.shards.push_back(shard);
        s.next_shard_index = 1;
        s.consumers.push_back({"reader", s.created_ms, 0});
        stream_ = registry_.create(s, [](const streams::stream_registry&) {});
    }
    ~SubscriptionTest() override {
        hub_.stop_all();
        pool_.join();
        std::error_code ec;
        fs::remove_all(dir_, ec);
    }

    static storage::rocksdb_options options(const fs::path& dir) {
        storage::rocksdb_options o;
        o.path = dir.string();
        o.mode = storage::durability::none;
        return o;
    }

    subscription_target target() const {
        const auto& shard = stream_->shards[0];
        return {stream_->name, stream_->uid, 0, shard.created_s, shard.log, "reader", stream_->created_ms,
                "arn:aws:kinesis:us-east-1:123456789012:stream/events/consumer/reader:1", 1};
    }

    void put(const std::string& data) {
        auto req = std::make_shared<storage::append_request>();
        auto owned = std::make_shared<std::string>(data);
        req->entries.push_back({stream_->shards[0].log.get(), "key", *owned});
        req->owner = owned;
        std::promise<void> done;
        req->done = [&done](const storage::status&) { done.set_value(); };
        store_.append(req);
        done.get_future().wait();
    }

    // Pulls like a connection: whenever woken, until `want` messages or the end.
    struct reader {
        // What the wake callback touches: shared, because a step may still
        // run and wake after the reader is gone (a connection's wake holds
        // a weak reference for the same reason).
        struct signal {
            std::mutex mutex;
            std::condition_variable cv;
            bool woken = false;
        };
        std::shared_ptr<subscription> sub;
        std::shared_ptr<signal> sig = std::make_shared<signal>();
        std::string bytes;
        bool ended = false;

        ~reader() {
            if (sub) sub->cancel();
        }
        void start() {
            sub->start([sig = sig] {
                std::lock_guard lock(sig->mutex);
                sig->woken = true;
                sig->cv.notify_all();
            });
        }
        // The next message, or nullopt at the end or after `timeout`.
        std::optional<es::message> next(std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
            const auto deadline = std::chrono::steady_clock::now() + timeout;
            for (;;) {
                es::message m;
                std::size_t used = 0;
                if (es::read_message(bytes, m, used) == es::read_status::ok) {
                    bytes.erase(0, used);
                    return m;
                }
                if (ended) return std::nullopt;
                if (sub->pull(bytes) == body_stream::pulled::end) ended = true;
                if (es::read_message(bytes, m, used) == es::read_status::ok || ended) continue;
                std::unique_lock lock(sig->mutex);
                if (!sig->cv.wait_until(lock, deadline, [this] { return sig->woken; })) return std::nullopt;
                sig->woken = false;
            }
        }
    };

    std::unique_ptr<reader> subscribe(subscription_target t) {
        auto r = std::make_unique<reader>();
        r->sub = std::make_shared<subscription>(service_, hub_, codec::wire_format::json, std::move(t), clock_.now_ms());
        hub_.admit(r->sub, clock_.now_ms());
        r->start();
        return r;
    }

    static json payload(const es::message& m) { return json::parse(m.payload); }

    static inline int counter_ = 0;
    fs::path dir_;
    kinesd::clock clock_;
    storage::rocksdb_store store_;
    streams::stream_registry registry_;
    service service_;
    boost::asio::thread_pool pool_{2};
    streams::commit_notifier notifier_;
    subscription_hub hub_;
    streams::stream_snapshot stream_;
};

TEST_F(SubscriptionTest, InitialResponseThenRecordsPushedByCommits) {
    auto r = subscribe(target());
    auto first = r->next();
    ASSERT_TRUE(first);
    EXPECT_EQ(*first->find(":event-type"), "initial-response");
    auto empty = r->next();
    ASSERT_TRUE(empty);
    EXPECT_EQ(*empty->find(":event-type"), "SubscribeToShardEvent");
    EXPECT_TRUE(payload(*empty)["Records"].empty());
    // Caught up: only the commit can bring the next event (the heartbeat is
    // an hour away).
    put("hello");
    auto pushed = r->next();
    ASSERT_TRUE(pushed);
    auto event = payload(*pushed);
    ASSERT_EQ(event["Records"].size(), 1u);
    EXPECT_EQ(event["Records"][0]["Data"], "aGVsbG8=");
    EXPECT_EQ(event["ContinuationSequenceNumber"], event["Records"][0]["SequenceNumber"]);
    put("again");
    auto second = r->next();
    ASSERT_TRUE(second);
    EXPECT_EQ(payload(*second)["Records"][0]["Data"], "YWdhaW4=");
}

TEST_F(SubscriptionTest, EndsWhenItsLifetimeHasPassedOnTheServerClock) {
    auto r = subscribe(target());
    ASSERT_TRUE(r->next());
    ASSERT_TRUE(r->next());
    clock_.set_offset_ms(lifetime_ms);
    r->sub->kick();
    EXPECT_FALSE(r->next());
    EXPECT_TRUE(r->ended);
}

TEST_F(SubscriptionTest, SecondSubscriptionRefusedWithinFiveSecondsThenTakesOver) {
    auto first = subscribe(target());
    ASSERT_TRUE(first->next());
    auto early = std::make_shared<subscription>(service_, hub_, codec::wire_format::json, target(), clock_.now_ms());
    EXPECT_THROW(hub_.admit(early, clock_.now_ms()), api_error);
    clock_.set_offset_ms(6000);
    auto second = subscribe(target());
    std::optional<es::message> m;
    while ((m = first->next()) && *m->find(":message-type") == "event") {
    }
    ASSERT_TRUE(m);
    EXPECT_EQ(*m->find(":exception-type"), "ResourceInUseException");
    EXPECT_FALSE(first->next());
    EXPECT_EQ(*second->next()->find(":event-type"), "initial-response");
}

TEST_F(SubscriptionTest, StartsAtTheGivenCounterAndResumesWithoutGapOrRepeat) {
    for (int i = 0; i < 5; ++i) put("r" + std::to_string(i));
    auto t = target();
    t.next_counter = 3;
    auto r = subscribe(t);
    ASSERT_TRUE(r->next());
    auto event = payload(*r->next());
    ASSERT_EQ(event["Records"].size(), 3u);
    EXPECT_EQ(event["Records"][0]["Data"], "cjI=");  // "r2"
}

}  // namespace
}  // namespace kinesd::actions
