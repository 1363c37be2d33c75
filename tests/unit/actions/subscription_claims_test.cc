// Two front ends' claims on one store: the five-second rule and takeovers
// of SubscribeToShard hold across them.
#include "actions/subscription_claims.h"

#include <memory>
#include <string>

#include <gtest/gtest.h>

#include "common/clock.h"
#include "temp_rocksdb.h"

namespace kinesd::actions {
namespace {

class subscription_claims_test : public ::testing::Test {
protected:
    std::string holder(const std::string& key) {
        std::string value;
        return store_->get_meta(key, &value) ? std::string(subscription_claims::id_of(value)) : "";
    }

    kinesd::clock clock_;
    testing_support::temp_rocksdb db_{clock_, "claims"};
    storage::log_store* store_ = &db_.store();
    std::unique_ptr<subscription_claims> a_ = std::make_unique<subscription_claims>(*store_, "node-a");
    std::unique_ptr<subscription_claims> b_ = std::make_unique<subscription_claims>(*store_, "node-b");
    const std::string key_ = subscription_claims::key(7, 0, "consumer-1");
};

TEST_F(subscription_claims_test, ids_are_unique_and_name_their_front_end) {
    const auto one = a_->next_id(), two = a_->next_id(), other = b_->next_id();
    EXPECT_NE(one, two);
    EXPECT_EQ(one.rfind("node-a", 0), 0u);
    EXPECT_EQ(other.rfind("node-b", 0), 0u);
    EXPECT_EQ(subscription_claims::id_of(one + " 123"), one);
}

TEST_F(subscription_claims_test, a_second_claim_within_the_window_is_refused_and_takes_over_after_it) {
    const auto first = a_->next_id();
    ASSERT_TRUE(a_->claim(key_, first, 10'000, 5000));
    const auto early = b_->next_id();
    EXPECT_FALSE(b_->claim(key_, early, 14'999, 5000));
    EXPECT_EQ(holder(key_), first);
    const auto later = b_->next_id();
    EXPECT_TRUE(b_->claim(key_, later, 15'000, 5000));
    EXPECT_EQ(holder(key_), later);
}

TEST_F(subscription_claims_test, other_shards_and_consumers_are_claims_of_their_own) {
    ASSERT_TRUE(a_->claim(key_, a_->next_id(), 10'000, 5000));
    EXPECT_TRUE(b_->claim(subscription_claims::key(7, 1, "consumer-1"), b_->next_id(), 10'001, 5000));
    EXPECT_TRUE(b_->claim(subscription_claims::key(7, 0, "consumer-2"), b_->next_id(), 10'001, 5000));
    EXPECT_TRUE(b_->claim(subscription_claims::key(8, 0, "consumer-1"), b_->next_id(), 10'001, 5000));
}

TEST_F(subscription_claims_test, only_the_holder_releases_and_a_released_claim_is_free_at_once) {
    const auto first = a_->next_id();
    ASSERT_TRUE(a_->claim(key_, first, 10'000, 5000));
    const auto second = b_->next_id();
    ASSERT_TRUE(b_->claim(key_, second, 16'000, 5000));
    a_->release(key_, first);  // taken over meanwhile: not the holder any more
    EXPECT_EQ(holder(key_), second);
    b_->release(key_, second);
    EXPECT_EQ(holder(key_), "");
    EXPECT_TRUE(a_->claim(key_, a_->next_id(), 16'001, 5000));
}

}  // namespace
}  // namespace kinesd::actions
