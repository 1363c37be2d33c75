#include "common/random.h"

#include <gtest/gtest.h>

#include <regex>
#include <set>
#include <string>
#include <thread>
#include <vector>

namespace kinesd {
namespace {

TEST(RandomTest, IdUuidsAreVersionFourTextAndDoNotRepeat) {
    const std::regex v4("^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$");
    std::set<std::string> seen;
    for (int i = 0; i < 10000; ++i) {
        auto id = id_uuid();
        ASSERT_TRUE(std::regex_match(id, v4)) << id;
        ASSERT_TRUE(seen.insert(id).second) << "repeated " << id;
    }
}

TEST(RandomTest, IdBytesHaveTheLengthAskedAndDifferBetweenThreads) {
    for (std::size_t n : {0u, 1u, 7u, 8u, 9u, 54u}) EXPECT_EQ(id_bytes(n).size(), n);
    // Each thread seeds its own generator: two threads must not share a stream.
    std::vector<std::string> first(2);
    std::thread a([&] { first[0] = id_bytes(32); });
    std::thread b([&] { first[1] = id_bytes(32); });
    a.join();
    b.join();
    EXPECT_NE(first[0], first[1]);
    EXPECT_NE(first[0], id_bytes(32));
}

}  // namespace
}  // namespace kinesd
