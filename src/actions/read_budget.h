#pragma once
// How many answer bytes the GetRecords calls being answered at the same time
// may gather between them, from the read until the answer has been written
// to the connection. Each answer is built whole in memory (about 1.4
// times its data once base64-encoded, three times for 100-byte records), so
// four readers each taking the full 10 MiB held 55 MB of answers at once. A
// call that finds others in progress gets a share of the budget instead, and
// answers with fewer records, as AWS itself may: the client reads the rest
// with the next iterator.
#include <algorithm>
#include <cstddef>
#include <mutex>

namespace kinesd::actions {

class read_budget {
public:
    // total: what concurrent answers share; floor: what a call always gets,
    // so that every reader makes progress however many there are.
    read_budget(std::size_t total, std::size_t floor) : total_(total), floor_(floor) {}

    // The bytes this call may gather, at most `wanted`; give them back with
    // release() once the answer has been written out.
    std::size_t acquire(std::size_t wanted) {
        std::lock_guard lock(mutex_);
        ++active_;
        const std::size_t fair = total_ / active_;
        const std::size_t free = granted_ < total_ ? total_ - granted_ : 0;
        const std::size_t grant = std::min(wanted, std::max(floor_, std::min(fair, free)));
        granted_ += grant;
        return grant;
    }

    void release(std::size_t grant) {
        std::lock_guard lock(mutex_);
        --active_;
        granted_ -= grant;
    }

    // Part of a grant given back early, while the call goes on.
    void give_back(std::size_t bytes) {
        std::lock_guard lock(mutex_);
        granted_ -= bytes;
    }

    // One call's grant, given back when it goes out of scope.
    class grant {
    public:
        grant(read_budget& budget, std::size_t wanted) : budget_(budget), bytes_(budget.acquire(wanted)) {}
        ~grant() { budget_.release(bytes_); }
        grant(const grant&) = delete;
        grant& operator=(const grant&) = delete;
        std::size_t bytes() const { return bytes_; }
        // Keeps only what the answer turned out to need: a call that asked
        // for a full answer and found a few records leaves the rest to
        // the calls that come while its answer is written.
        void shrink_to(std::size_t used) {
            if (used >= bytes_) return;
            budget_.give_back(bytes_ - used);
            bytes_ = used;
        }

    private:
        read_budget& budget_;
        std::size_t bytes_;
    };

private:
    std::mutex mutex_;
    const std::size_t total_;
    const std::size_t floor_;
    std::size_t active_ = 0;
    std::size_t granted_ = 0;
};

}  // namespace kinesd::actions
