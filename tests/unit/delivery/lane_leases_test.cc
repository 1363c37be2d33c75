// Two front ends (a lease keeper and lane_leases each, different owners)
// over one store share the lanes of a delivery stream.
#include "delivery/lane_leases.h"

#include <algorithm>
#include <memory>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "common/clock.h"
#include "storage/lease_keeper.h"
#include "temp_rocksdb.h"

namespace kinesd::delivery {
namespace {

const std::vector<std::string> four = {"shardId-000000000000", "shardId-000000000001", "shardId-000000000002",
                                       "shardId-000000000003"};

std::size_t count(const std::vector<bool>& v) { return static_cast<std::size_t>(std::count(v.begin(), v.end(), true)); }

class lane_leases_test : public ::testing::Test {
protected:
    void advance(std::int64_t ms) { clock_.set_offset_ms(clock_.offset_ms() + ms); }

    kinesd::clock clock_;
    testing_support::temp_rocksdb db_{clock_, "lanes"};
    storage::lease_options lease_options_{.ttl_ms = 10000, .renew_ms = 2000};
    lane_lease_options options_{.look_ms = 500, .grace_ms = 3000};
    std::unique_ptr<storage::lease_keeper> keeper_a_ =
        std::make_unique<storage::lease_keeper>(db_.store(), clock_, "node-a", lease_options_);
    std::unique_ptr<storage::lease_keeper> keeper_b_ =
        std::make_unique<storage::lease_keeper>(db_.store(), clock_, "node-b", lease_options_);
    std::unique_ptr<lane_leases> a_ = std::make_unique<lane_leases>(*keeper_a_, clock_, "firehose/s/1", options_);
    std::unique_ptr<lane_leases> b_ = std::make_unique<lane_leases>(*keeper_b_, clock_, "firehose/s/1", options_);
};

TEST_F(lane_leases_test, leases_are_per_lane_and_named_after_the_shard) {
    auto got = a_->claim(four);
    EXPECT_EQ("node-a", keeper_a_->holder("firehose/s/1/shardId-000000000000"));
    EXPECT_EQ("", keeper_a_->holder("firehose/s/1"));
    EXPECT_EQ(2u, count(got));
    EXPECT_EQ(2u, a_->held());
}

TEST_F(lane_leases_test, a_direct_put_log_has_the_stream_lease) {
    EXPECT_EQ(std::vector<bool>{true}, a_->claim({""}));
    EXPECT_EQ("node-a", keeper_a_->holder("firehose/s/1"));
    EXPECT_EQ(std::vector<bool>{false}, b_->claim({""}));
}

TEST_F(lane_leases_test, two_front_ends_split_the_lanes) {
    auto got_a = a_->claim(four);
    auto got_b = b_->claim(four);
    EXPECT_EQ(2u, count(got_a));
    EXPECT_EQ(2u, count(got_b));
    for (std::size_t i = 0; i < four.size(); ++i) EXPECT_NE(got_a[i], got_b[i]) << four[i];
    // Held by a live owner, beyond the share: never taken, however long.
    for (int i = 0; i < 20; ++i) {
        advance(1000);
        EXPECT_EQ(got_a, a_->claim(four));
        EXPECT_EQ(got_b, b_->claim(four));
    }
}

TEST_F(lane_leases_test, a_lone_front_end_takes_free_lanes_beyond_its_share_after_the_grace) {
    EXPECT_EQ(2u, count(a_->claim(four)));
    advance(1000);
    EXPECT_EQ(2u, count(a_->claim(four)));  // seen free, not for long enough
    advance(2500);
    EXPECT_EQ(4u, count(a_->claim(four)));
}

TEST_F(lane_leases_test, a_dead_front_ends_lanes_are_taken_once_their_leases_expire) {
    a_->claim(four);
    auto got_b = b_->claim(four);
    // b dies: a renews its own and waits out b's leases and the grace.
    std::int64_t waited = 0;
    for (; waited < 30000 && count(a_->claim(four)) < 4; waited += 500) advance(500);
    EXPECT_EQ(4u, a_->held());
    EXPECT_GE(waited, lease_options_.ttl_ms);
    for (std::size_t i = 0; i < four.size(); ++i) EXPECT_EQ("node-a", keeper_a_->holder("firehose/s/1/" + four[i]));
    // b back: it gets nothing while a renews.
    EXPECT_EQ(0u, count(b_->claim(four)));
    (void)got_b;
}

TEST_F(lane_leases_test, alone_on_its_store_it_takes_every_lane_at_once) {
    lane_leases alone(*keeper_a_, clock_, "firehose/s/2", {.shared = false});
    EXPECT_EQ(4u, count(alone.claim(four)));
}

TEST_F(lane_leases_test, release_all_hands_the_lanes_over_at_once) {
    a_->claim(four);
    a_->release_all();
    EXPECT_EQ(0u, a_->held());
    EXPECT_EQ("", keeper_a_->holder("firehose/s/1/shardId-000000000000"));
    EXPECT_EQ(2u, count(b_->claim(four)));
}

TEST_F(lane_leases_test, lanes_no_longer_listed_are_given_up) {
    EXPECT_EQ(1u, count(a_->claim({four[0]})));
    a_->claim({four[1]});
    EXPECT_EQ("", keeper_a_->holder("firehose/s/1/" + four[0]));
    EXPECT_EQ("node-a", keeper_a_->holder("firehose/s/1/" + four[1]));
}

}  // namespace
}  // namespace kinesd::delivery
