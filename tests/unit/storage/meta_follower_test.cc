#include "storage/meta_follower.h"

#include <filesystem>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <unistd.h>

#include "common/clock.h"
#include "storage/rocksdb_store.h"

namespace kinesd::storage {
namespace {

namespace fs = std::filesystem;

struct seen {
    std::string key;
    std::optional<std::string> value;
    std::uint64_t revision;
};

TEST(meta_follower, hands_over_the_changes_under_its_prefixes_in_order) {
    auto dir = fs::temp_directory_path() / ("kinesd-follower-" + std::to_string(::getpid()));
    fs::remove_all(dir);
    kinesd::clock clock;
    {
        rocksdb_options o;
        o.path = dir.string();
        rocksdb_store store(o, clock);
        std::mutex m;
        std::vector<seen> streams, leases;
        meta_follower follower(store);
        follower.follow("stream/", [&](const std::string& k, const std::optional<std::string>& v, std::uint64_t r) {
            std::lock_guard lock(m);
            streams.push_back({k, v, r});
        });
        follower.follow("lease/", [&](const std::string& k, const std::optional<std::string>& v, std::uint64_t r) {
            std::lock_guard lock(m);
            leases.push_back({k, v, r});
        });
        follower.start();
        ASSERT_TRUE(store.put_meta("stream/a", "1").ok());
        ASSERT_TRUE(store.put_meta("other/a", "x").ok());
        ASSERT_TRUE(store.put_meta("stream/a", "2").ok());
        std::uint64_t rev = 0;
        ASSERT_TRUE(store.put_meta_if("lease/l", "mine", 0, &rev).ok());
        ASSERT_TRUE(store.delete_meta("stream/a").ok());
        follower.drain();
        follower.stop();

        ASSERT_EQ(streams.size(), 3u);
        EXPECT_EQ(streams[0].value, std::optional<std::string>("1"));
        EXPECT_EQ(streams[1].value, std::optional<std::string>("2"));
        EXPECT_FALSE(streams[2].value.has_value());
        EXPECT_LT(streams[0].revision, streams[1].revision);
        EXPECT_LT(streams[1].revision, streams[2].revision);
        for (auto& s : streams) EXPECT_EQ(s.key, "stream/a");
        ASSERT_EQ(leases.size(), 1u);
        EXPECT_EQ(leases[0].revision, rev);
    }
    fs::remove_all(dir);
}

}  // namespace
}  // namespace kinesd::storage
