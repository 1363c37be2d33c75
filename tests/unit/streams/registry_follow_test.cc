// Two stream registries over one store, each following the metadata through
// its own meta_follower, stand for two front ends sharing a cluster.
#include <chrono>
#include <filesystem>
#include <memory>
#include <stdexcept>
#include <thread>

#include <gtest/gtest.h>
#include <unistd.h>

#include "common/clock.h"
#include "storage/keys.h"
#include "storage/meta_follower.h"
#include "storage/rocksdb_store.h"
#include "streams/stream_registry.h"

namespace kinesd::streams {
namespace {

namespace fs = std::filesystem;

stream_state two_shards(const std::string& name, std::uint64_t uid) {
    stream_state s;
    s.name = name;
    s.uid = uid;
    auto ranges = even_hash_ranges(2);
    for (std::uint32_t i = 0; i < 2; ++i) {
        shard_state shard;
        shard.index = i;
        shard.starting_hash = ranges[i].first;
        shard.ending_hash = ranges[i].second;
        shard.created_s = 1;
        s.shards.push_back(shard);
    }
    s.next_shard_index = 2;
    return s;
}

class registry_follow_test : public ::testing::Test {
protected:
    void SetUp() override {
        dir_ = fs::temp_directory_path() / ("kinesd-follow-" + std::to_string(::getpid()) + "-" +
                                            ::testing::UnitTest::GetInstance()->current_test_info()->name());
        fs::remove_all(dir_);
        storage::rocksdb_options o;
        o.path = dir_.string();
        store_ = std::make_unique<storage::rocksdb_store>(o, clock_);
        a_ = std::make_unique<stream_registry>(*store_, clock_, registry_options{});
        b_ = std::make_unique<stream_registry>(*store_, clock_, registry_options{});
        a_->load();
        b_->load();
        for (auto* r : {a_.get(), b_.get()}) {
            auto f = std::make_unique<storage::meta_follower>(*store_);
            f->follow(std::string(storage::keys::stream_meta_prefix),
                      [r](const std::string& k, const std::optional<std::string>& v, std::uint64_t rev) {
                          r->apply_stored(k, v ? &*v : nullptr, rev);
                      });
            f->start();
            followers_.push_back(std::move(f));
        }
    }
    void TearDown() override {
        followers_.clear();
        a_.reset();
        b_.reset();
        store_.reset();
        fs::remove_all(dir_);
    }
    void settle() {
        for (auto& f : followers_) f->drain();
    }

    fs::path dir_;
    kinesd::clock clock_;
    std::unique_ptr<storage::rocksdb_store> store_;
    std::unique_ptr<stream_registry> a_, b_;
    std::vector<std::unique_ptr<storage::meta_follower>> followers_;
};

TEST_F(registry_follow_test, a_stream_created_updated_and_removed_through_one_is_seen_by_the_other) {
    a_->create(two_shards("orders", 11), [](const stream_registry&) {});
    settle();
    auto seen = b_->find("orders");
    ASSERT_TRUE(seen);
    EXPECT_EQ(seen->uid, 11u);
    ASSERT_EQ(seen->shards.size(), 2u);
    // Both front ends append to the same shard logs.
    EXPECT_EQ(seen->shards[0].log.get(), a_->find("orders")->shards[0].log.get());

    a_->update("orders", [](stream_state& s) {
        s.shards[0].closed_ms = 5;
        shard_state child = s.shards[0];
        child.index = s.next_shard_index++;
        child.parent = 0;
        child.closed_ms.reset();
        child.log.reset();
        s.shards.push_back(child);
        s.retention_hours = 48;
    });
    settle();
    seen = b_->find("orders");
    ASSERT_EQ(seen->shards.size(), 3u);
    EXPECT_FALSE(seen->shards[0].open());
    EXPECT_TRUE(seen->shards[0].log->closed.load());
    EXPECT_TRUE(seen->shards[2].log);
    EXPECT_EQ(seen->retention_hours, 48);
    // A's own change came back to it too and changed nothing.
    EXPECT_EQ(a_->find("orders")->shards.size(), 3u);

    a_->remove("orders");
    settle();
    EXPECT_FALSE(b_->find("orders"));
}

TEST_F(registry_follow_test, of_two_creators_of_one_name_exactly_one_wins) {
    a_->create(two_shards("dup", 21), [](const stream_registry&) {});
    // B has not heard of it yet when it creates the same name.
    EXPECT_THROW(b_->create(two_shards("dup", 22),
                            [](const stream_registry& r) {
                                if (r.contains_unlocked("dup")) throw std::runtime_error("taken");
                            }),
                 std::runtime_error);
    settle();
    EXPECT_EQ(b_->find("dup")->uid, 21u);
    EXPECT_EQ(a_->find("dup")->uid, 21u);
}

TEST_F(registry_follow_test, an_update_from_a_stale_snapshot_is_made_again_on_the_fresh_one) {
    a_->create(two_shards("s", 31), [](const stream_registry&) {});
    settle();
    // Both change the stream before either hears of the other's change.
    for (auto& f : followers_) f->stop();
    a_->update("s", [](stream_state& s) { s.tags["from"] = "a"; });
    b_->update("s", [](stream_state& s) { s.retention_hours = 72; });
    auto fresh = b_->reload("s");
    ASSERT_TRUE(fresh);
    EXPECT_EQ(fresh->retention_hours, 72);
    EXPECT_EQ(fresh->tags.at("from"), "a");
    EXPECT_EQ(a_->reload("s")->retention_hours, 72);
}

}  // namespace
}  // namespace kinesd::streams
