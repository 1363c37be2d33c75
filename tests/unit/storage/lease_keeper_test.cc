// Two lease keepers with different owners over one store stand for two
// front ends sharing a cluster.
#include "storage/lease_keeper.h"

#include <atomic>
#include <memory>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "common/clock.h"
#include "temp_rocksdb.h"

namespace kinesd::storage {
namespace {

class lease_keeper_test : public ::testing::Test {
protected:
    // Moves both front ends' clock on, as time passing would.
    void advance(std::int64_t ms) { clock_.set_offset_ms(clock_.offset_ms() + ms); }

    kinesd::clock clock_;
    testing_support::temp_rocksdb db_{clock_, "lease"};
    log_store* store_ = &db_.store();
    lease_options options_{.ttl_ms = 10000, .renew_ms = 2000};
};

TEST_F(lease_keeper_test, one_owner_at_a_time_until_it_expires) {
    lease_keeper a(*store_, clock_, "node-a", options_);
    lease_keeper b(*store_, clock_, "node-b", options_);
    EXPECT_TRUE(a.hold("firehose/x"));
    EXPECT_FALSE(b.hold("firehose/x"));
    EXPECT_EQ(a.holder("firehose/x"), "node-a");
    // Renewed by its owner, it never lapses.
    for (int i = 0; i < 10; ++i) {
        advance(3000);
        EXPECT_TRUE(a.hold("firehose/x"));
        EXPECT_FALSE(b.hold("firehose/x"));
    }
    // Its owner gone silent, the other takes it after the expiry.
    advance(9000);
    EXPECT_FALSE(b.hold("firehose/x"));
    advance(2000);
    EXPECT_TRUE(b.hold("firehose/x"));
    EXPECT_EQ(b.holder("firehose/x"), "node-b");
    // The old owner learns it lost the lease.
    EXPECT_FALSE(a.hold("firehose/x"));
}

TEST_F(lease_keeper_test, release_hands_over_at_once) {
    lease_keeper a(*store_, clock_, "node-a", options_);
    lease_keeper b(*store_, clock_, "node-b", options_);
    ASSERT_TRUE(a.hold("esm/1"));
    ASSERT_FALSE(b.hold("esm/1"));
    a.release("esm/1");
    EXPECT_EQ(a.holder("esm/1"), "");
    advance(options_.renew_ms);  // past b's pause between looks at a busy lease
    EXPECT_TRUE(b.hold("esm/1"));
}

TEST_F(lease_keeper_test, a_restarted_owner_takes_its_own_lease_back) {
    {
        lease_keeper a(*store_, clock_, "node-a", options_);
        ASSERT_TRUE(a.hold("firehose/y"));
    }
    lease_keeper again(*store_, clock_, "node-a", options_);
    EXPECT_TRUE(again.hold("firehose/y"));
}

TEST_F(lease_keeper_test, of_many_contenders_exactly_one_wins) {
    std::vector<std::unique_ptr<lease_keeper>> keepers;
    for (int i = 0; i < 8; ++i)
        keepers.push_back(std::make_unique<lease_keeper>(*store_, clock_, "node-" + std::to_string(i), options_));
    for (int round = 0; round < 5; ++round) {
        const std::string name = "contended/" + std::to_string(round);
        std::atomic<int> winners{0};
        std::vector<std::thread> threads;
        for (auto& k : keepers)
            threads.emplace_back([&, k = k.get()] {
                if (k->hold(name)) ++winners;
            });
        for (auto& t : threads) t.join();
        EXPECT_EQ(winners.load(), 1) << name;
    }
}

}  // namespace
}  // namespace kinesd::storage
