// The network threads' run loop: polling while a put is awaited must run
// everything posted, from any thread, and end as io_context::run() would.
#include "http/io_loop.h"

#include <gtest/gtest.h>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/post.hpp>

#include <atomic>
#include <chrono>
#include <future>
#include <thread>
#include <vector>

namespace kinesd::http {
namespace {

using namespace std::chrono_literals;

// Runs `threads` network threads; the future is ready once all have returned.
std::future<void> run_threads(boost::asio::io_context& ioc, io_spin& spin, int threads) {
    return std::async(std::launch::async, [&ioc, &spin, threads] {
        std::vector<std::thread> pool;
        for (int i = 0; i < threads; ++i) pool.emplace_back([&] { run_io_thread(ioc, spin); });
        for (auto& t : pool) t.join();
    });
}

TEST(io_loop, threads_that_poll_run_what_other_threads_post_and_end_when_stopped) {
    boost::asio::io_context ioc;
    auto guard = boost::asio::make_work_guard(ioc);
    io_spin spin;
    spin.limit = 20ms;
    std::atomic<int> polls{0};
    // Always awaited: one thread polls all along, one sleeps in run_one().
    spin.awaited = [&] {
        ++polls;
        return true;
    };
    auto done = run_threads(ioc, spin, 2);
    std::atomic<int> ran{0};
    std::thread poster([&] {
        for (int i = 0; i < 2000; ++i) boost::asio::post(ioc, [&] { ++ran; });
    });
    poster.join();
    const auto deadline = std::chrono::steady_clock::now() + 10s;
    while (ran.load() < 2000 && std::chrono::steady_clock::now() < deadline) std::this_thread::sleep_for(1ms);
    EXPECT_EQ(ran.load(), 2000);
    EXPECT_GT(polls.load(), 0);
    ioc.stop();
    ASSERT_EQ(done.wait_for(10s), std::future_status::ready) << "a polling thread did not see the stop";
    EXPECT_FALSE(spin.taken.load());
}

TEST(io_loop, threads_return_when_the_work_runs_out_as_run_does) {
    for (auto limit : {0us, 500us}) {
        boost::asio::io_context ioc;
        io_spin spin;
        spin.limit = limit;
        spin.awaited = [] { return true; };
        std::atomic<int> ran{0};
        for (int i = 0; i < 100; ++i) boost::asio::post(ioc, [&] { ++ran; });
        auto done = run_threads(ioc, spin, 2);
        ASSERT_EQ(done.wait_for(10s), std::future_status::ready) << "limit " << limit.count() << " us";
        EXPECT_EQ(ran.load(), 100);
    }
}

// The poll ends when nothing is awaited any more: a handler that ends the
// wait is followed by a sleep, not by polling out the whole limit.
TEST(io_loop, polling_stops_once_nothing_is_awaited) {
    boost::asio::io_context ioc;
    auto guard = boost::asio::make_work_guard(ioc);
    io_spin spin;
    spin.limit = 60s;  // longer than the test may take
    std::atomic<bool> awaited{true};
    spin.awaited = [&] { return awaited.load(); };
    auto done = run_threads(ioc, spin, 1);
    std::this_thread::sleep_for(5ms);
    boost::asio::post(ioc, [&] { awaited = false; });
    const auto deadline = std::chrono::steady_clock::now() + 10s;
    while (spin.taken.load() && std::chrono::steady_clock::now() < deadline) std::this_thread::sleep_for(1ms);
    EXPECT_FALSE(spin.taken.load()) << "still polling with nothing awaited";
    ioc.stop();
    ASSERT_EQ(done.wait_for(10s), std::future_status::ready);
}

}  // namespace
}  // namespace kinesd::http
