#pragma once
// One JSON line per control-plane call, written by a thread of its own: the
// threads that answer requests only append to a queue in memory and never
// wait for the disk. If the disk falls far behind, lines beyond a bound are
// dropped and counted rather than letting memory grow without end.
#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

namespace kinesd::auth {

struct audit_entry {
    std::int64_t time_ms = 0;
    // nullopt when requests are not signed; for a refused call, the key it
    // claimed, if any
    std::optional<std::string> access_key;
    std::string account;  // "" when the call was refused before it had one
    std::string action;    // "CreateStream"
    std::string resource;  // an ARN or a name, "" when the call names none
    std::string result;    // "ok" or the error type
};

class audit_log {
public:
    // `where`: a file path (appended to) or "stdout". Throws
    // std::invalid_argument when the file cannot be opened.
    explicit audit_log(const std::string& where);
    ~audit_log();
    audit_log(const audit_log&) = delete;
    audit_log& operator=(const audit_log&) = delete;

    void record(audit_entry entry);
    // Waits until every line recorded so far is written (shutdown, tests).
    void flush();

    static std::string format(const audit_entry& entry);
    static constexpr std::size_t max_queued = 100000;

private:
    void run();

    std::FILE* out_ = nullptr;
    bool owns_file_ = false;
    std::mutex mutex_;
    std::condition_variable wake_, drained_;
    std::deque<audit_entry> queue_;
    std::uint64_t dropped_ = 0;
    bool writing_ = false;
    bool stop_ = false;
    std::thread writer_;
};

}  // namespace kinesd::auth
