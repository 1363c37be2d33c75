#include "actions/read_budget.h"

#include <gtest/gtest.h>

namespace kinesd::actions {
namespace {

constexpr std::size_t MiB = 1u << 20;

TEST(ReadBudgetTest, ALoneReaderGetsWhatItAsksUpToTheTotal) {
    read_budget budget(16 * MiB, 1 * MiB);
    {
        read_budget::grant g(budget, 10 * MiB);
        EXPECT_EQ(g.bytes(), 10 * MiB);
    }
    read_budget::grant big(budget, 40 * MiB);
    EXPECT_EQ(big.bytes(), 16 * MiB);
}

TEST(ReadBudgetTest, ConcurrentReadersShareTheTotalAndNeverGetLessThanTheFloor) {
    read_budget budget(16 * MiB, 1 * MiB);
    read_budget::grant a(budget, 10 * MiB);
    read_budget::grant b(budget, 10 * MiB);
    read_budget::grant c(budget, 10 * MiB);
    read_budget::grant d(budget, 10 * MiB);
    EXPECT_EQ(a.bytes(), 10 * MiB);
    EXPECT_EQ(b.bytes(), 6 * MiB);  // what is left, below its fair half
    EXPECT_EQ(c.bytes(), 1 * MiB);  // nothing left: the floor
    EXPECT_EQ(d.bytes(), 1 * MiB);
    EXPECT_LE(a.bytes() + b.bytes() + c.bytes() + d.bytes(), 16 * MiB + 2 * MiB);
}

TEST(ReadBudgetTest, AGrantShrunkToWhatItUsedLeavesTheRestToOthers) {
    read_budget budget(16 * MiB, 1 * MiB);
    read_budget::grant a(budget, 14 * MiB);
    a.shrink_to(3 * MiB);
    EXPECT_EQ(a.bytes(), 3 * MiB);
    a.shrink_to(5 * MiB);  // never grows back
    EXPECT_EQ(a.bytes(), 3 * MiB);
    read_budget::grant b(budget, 14 * MiB);
    EXPECT_EQ(b.bytes(), 8 * MiB);  // its fair half, which is free
    {
        read_budget::grant c(budget, 14 * MiB);
        EXPECT_EQ(c.bytes(), 5 * MiB);  // what is left
    }
    read_budget::grant d(budget, 14 * MiB);
    EXPECT_EQ(d.bytes(), 5 * MiB);  // c gave back all it had
}

TEST(ReadBudgetTest, AReaderArrivingAmongOthersGetsAFairShareOnceTheyFinish) {
    read_budget budget(16 * MiB, 1 * MiB);
    read_budget::grant a(budget, 10 * MiB);
    {
        read_budget::grant b(budget, 10 * MiB);
        read_budget::grant c(budget, 10 * MiB);
        read_budget::grant d(budget, 10 * MiB);
    }
    // b, c and d are done: 6 MiB are free, and the fair share of two is 8.
    read_budget::grant e(budget, 10 * MiB);
    EXPECT_EQ(e.bytes(), 6 * MiB);
}

TEST(ReadBudgetTest, ReleasedGrantsReturnEverything) {
    read_budget budget(16 * MiB, 1 * MiB);
    for (int i = 0; i < 100; ++i) {
        read_budget::grant a(budget, 10 * MiB);
        read_budget::grant b(budget, 3 * MiB);
        EXPECT_EQ(b.bytes(), 3 * MiB);
    }
    read_budget::grant last(budget, 16 * MiB);
    EXPECT_EQ(last.bytes(), 16 * MiB);
}

}  // namespace
}  // namespace kinesd::actions
