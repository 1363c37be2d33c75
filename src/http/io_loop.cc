#include "http/io_loop.h"

#include "common/cpu_relax.h"

namespace kinesd::http {

void run_io_thread(boost::asio::io_context& ioc, io_spin& spin) {
    if (spin.limit.count() <= 0 || !spin.awaited) {
        ioc.run();
        return;
    }
    for (;;) {
        if (spin.awaited() && !spin.taken.exchange(true, std::memory_order_acquire)) {
            // poll() runs whatever is ready, the awaited completion and any
            // other connection's handlers alike: the polling thread keeps
            // serving while it waits.
            const auto until = std::chrono::steady_clock::now() + spin.limit;
            while (spin.awaited() && !ioc.stopped() && std::chrono::steady_clock::now() < until)
                if (ioc.poll() == 0) cpu_relax();
            spin.taken.store(false, std::memory_order_release);
        }
        if (ioc.run_one() == 0) return;  // stopped, or out of work
    }
}

}  // namespace kinesd::http
