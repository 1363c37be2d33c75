// The contract of storage::log_store (storage/log_store.h) for metadata:
// values, compare-and-swap, watches and the sync point, held against every
// backend (log_store_backends.h; instantiated in
// log_store_conformance_test.cc).
#include "log_store_backends.h"

namespace kinesd::storage::conformance {
namespace {

// ---- metadata

TEST_P(log_store_conformance, metadata_put_get_scan_delete) {
    ASSERT_TRUE(store_->put_meta("a/1", "one").ok());
    ASSERT_TRUE(store_->put_meta("a/2", std::string("t\0o", 3)).ok());
    ASSERT_TRUE(store_->put_meta("b/1", "other").ok());
    ASSERT_TRUE(store_->put_meta("a/1", "uno").ok());
    std::string value;
    ASSERT_TRUE(store_->get_meta("a/1", &value));
    EXPECT_EQ(value, "uno");
    EXPECT_FALSE(store_->get_meta("a/3", &value));
    std::vector<std::pair<std::string, std::string>> seen;
    store_->scan_meta("a/", [&](std::string_view k, std::string_view v) { seen.emplace_back(k, v); });
    ASSERT_EQ(seen.size(), 2u);
    EXPECT_EQ(seen[0], std::make_pair(std::string("a/1"), std::string("uno")));
    EXPECT_EQ(seen[1], std::make_pair(std::string("a/2"), std::string("t\0o", 3)));
    ASSERT_TRUE(store_->delete_meta("a/1").ok());
    EXPECT_FALSE(store_->get_meta("a/1", &value));
    seen.clear();
    store_->scan_meta("a/", [&](std::string_view k, std::string_view v) { seen.emplace_back(k, v); });
    EXPECT_EQ(seen.size(), 1u);
}

TEST_P(log_store_conformance, metadata_keys_with_any_characters_round_trip) {
    const std::vector<std::string> keys{"odd/ti~lde", "odd/co:lon", "odd/sp ace", "odd/ünï 日本 🔑",
                                        "odd/dot.s..", "odd/eq=3D", "odd/star*>", "odd/."};
    for (auto& k : keys) ASSERT_TRUE(store_->put_meta(k, "v:" + k).ok()) << k;
    for (auto& k : keys) {
        std::string value;
        EXPECT_TRUE(store_->get_meta(k, &value)) << k;
        EXPECT_EQ(value, "v:" + k);
    }
    std::map<std::string, std::string> seen;
    store_->scan_meta("odd/", [&](std::string_view k, std::string_view v) { seen.emplace(k, v); });
    EXPECT_EQ(seen.size(), keys.size());
    for (auto& k : keys) EXPECT_EQ(seen[k], "v:" + k);
    seen.clear();
    store_->scan_meta("odd/d", [&](std::string_view k, std::string_view v) { seen.emplace(k, v); });
    EXPECT_EQ(seen.size(), 1u);
}

TEST_P(log_store_conformance, compare_and_swap) {
    std::uint64_t first = 0, second = 0, again = 0, revision = 0;
    ASSERT_TRUE(store_->put_meta_if("lease/x", "a", 0, &first).ok());
    EXPECT_NE(first, 0u);
    EXPECT_TRUE(store_->put_meta_if("lease/x", "b", 0, &again).is_conflict());
    std::string value;
    ASSERT_TRUE(store_->get_meta_revision("lease/x", &value, &revision).ok());
    EXPECT_EQ(value, "a");
    EXPECT_EQ(revision, first);
    ASSERT_TRUE(store_->put_meta_if("lease/x", "c", first, &second).ok());
    EXPECT_NE(second, first);
    EXPECT_TRUE(store_->put_meta_if("lease/x", "d", first, &again).is_conflict());
    EXPECT_TRUE(store_->delete_meta_if("lease/x", first).is_conflict());
    ASSERT_TRUE(store_->get_meta("lease/x", &value));
    EXPECT_EQ(value, "c");
    ASSERT_TRUE(store_->delete_meta_if("lease/x", second).ok());
    ASSERT_TRUE(store_->get_meta_revision("lease/x", &value, &revision).ok());
    EXPECT_EQ(revision, 0u);
    // Absent again: exactly one creator wins.
    EXPECT_TRUE(store_->put_meta_if("lease/x", "e", 0, &first).ok());
    EXPECT_TRUE(store_->put_meta_if("lease/x", "f", 0, &again).is_conflict());
    EXPECT_TRUE(store_->put_meta_if("lease/never", "g", 12345, &again).is_conflict());
    if (auto peer = second_front_end()) {
        EXPECT_TRUE(peer->put_meta_if("lease/x", "h", 0, &again).is_conflict());
        EXPECT_TRUE(peer->put_meta_if("lease/x", "h", first, &again).ok());
    }
}

TEST_P(log_store_conformance, watches_see_changes_under_their_prefix) {
    std::mutex m;
    std::condition_variable cv;
    std::vector<std::pair<std::string, std::string>> events;  // value "<deleted>" for a delete
    std::vector<std::uint64_t> revisions;
    auto id = store_->watch_meta("w/", [&](std::string_view key, const std::string* value, std::uint64_t revision) {
        std::lock_guard lock(m);
        events.emplace_back(key, value ? *value : "<deleted>");
        revisions.push_back(revision);
        cv.notify_all();
    });
    ASSERT_TRUE(store_->put_meta("w/ü 1", "one").ok());
    ASSERT_TRUE(store_->put_meta("x/1", "elsewhere").ok());
    ASSERT_TRUE(store_->delete_meta("w/ü 1").ok());
    std::uint64_t revision = 0;
    ASSERT_TRUE(store_->put_meta_if("w/2", "two", 0, &revision).ok());
    ASSERT_TRUE(store_->delete_meta_if("w/2", revision).ok());
    {
        std::unique_lock lock(m);
        ASSERT_TRUE(cv.wait_for(lock, 5s, [&] { return events.size() >= 4; }));
        EXPECT_EQ(events[0], std::make_pair(std::string("w/ü 1"), std::string("one")));
        EXPECT_EQ(events[1], std::make_pair(std::string("w/ü 1"), std::string("<deleted>")));
        EXPECT_EQ(events[2], std::make_pair(std::string("w/2"), std::string("two")));
        EXPECT_EQ(events[3], std::make_pair(std::string("w/2"), std::string("<deleted>")));
        // Each change, deletions included, has a revision above the last;
        // a write's is the one put_meta_if reported.
        for (std::size_t i = 1; i < revisions.size(); ++i) EXPECT_LT(revisions[i - 1], revisions[i]);
        EXPECT_EQ(revisions[2], revision);
    }
    store_->unwatch_meta(id);
    ASSERT_TRUE(store_->put_meta("w/3", "after").ok());
    std::this_thread::sleep_for(200ms);
    std::lock_guard lock(m);
    EXPECT_EQ(events.size(), 4u);
}

// What catching up rests on: a change another front end committed is at or
// below the sync point taken after it, and a watch hands it on by then.
TEST_P(log_store_conformance, a_watch_reaches_the_sync_point_past_changes_made_elsewhere) {
    auto other = second_front_end();
    log_store& writer = other ? *other : *store_;
    std::mutex m;
    std::condition_variable cv;
    std::uint64_t newest = 0;
    std::vector<std::string> keys;
    auto id = store_->watch_meta("", [&](std::string_view key, const std::string*, std::uint64_t revision) {
        std::lock_guard lock(m);
        newest = std::max(newest, revision);
        keys.emplace_back(key);
        cv.notify_all();
    });
    for (int i = 0; i < 20; ++i) {
        const std::string key = "sync/" + std::to_string(i);
        ASSERT_TRUE(writer.put_meta(key, "v").ok());
        const auto point = store_->meta_sync_point();
        std::unique_lock lock(m);
        if (point != 0) {
            ASSERT_TRUE(cv.wait_for(lock, 5s, [&] { return newest >= point; })) << "sync point " << point;
        } else {
            // Watchers run as part of the write: already handed on.
            ASSERT_FALSE(other) << "a shared backend must give a sync point";
        }
        EXPECT_NE(std::find(keys.begin(), keys.end(), key), keys.end()) << key << " not seen by the sync point";
    }
    store_->unwatch_meta(id);
}

}  // namespace
}  // namespace kinesd::storage::conformance
