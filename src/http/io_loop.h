#pragma once
// How a network thread runs the io_context. Normally it just runs it; while
// a lone put waits for its group commit, one network thread polls instead of
// sleeping in epoll_wait, so that the reply goes out as soon as the commit
// completes. On virtual machines a thread that sleeps through a disk sync
// takes tens of microseconds to wake, more than the rest of the round trip.
#include <boost/asio/io_context.hpp>

#include <atomic>
#include <chrono>
#include <functional>

namespace kinesd::http {

struct io_spin {
    // Poll at most this long per wait; zero: never poll, always sleep.
    std::chrono::microseconds limit{0};
    // Whether a reply is about to be posted and worth polling for.
    std::function<bool()> awaited;
    // Held by the one thread that polls; the others sleep.
    std::atomic<bool> taken{false};
};

// Runs `ioc` on the calling thread until it is stopped.
void run_io_thread(boost::asio::io_context& ioc, io_spin& spin);

}  // namespace kinesd::http
