#include "storage/wal_file_system.h"

#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <mutex>
#include <thread>
#include <vector>

namespace kinesd::storage {

namespace {

using rocksdb::IODebugContext;
using rocksdb::IOOptions;
using rocksdb::IOStatus;

// As RocksDB's own files report them: a full disk is retryable, which lets
// RocksDB resume writing by itself once space is freed.
IOStatus io_error(const std::string& context, int err) {
    if (err == ENOSPC) {
        IOStatus s = IOStatus::NoSpace(context, std::strerror(err));
        s.SetRetryable(true);
        return s;
    }
    return IOStatus::IOError(context, std::strerror(err));
}

bool write_all(int fd, const char* data, std::size_t n, std::uint64_t offset, int& err) {
    while (n > 0) {
        ssize_t done = ::pwrite(fd, data, n, off_t(offset));
        if (done < 0) {
            if (errno == EINTR) continue;
            err = errno;
            return false;
        }
        data += done;
        n -= std::size_t(done);
        offset += std::uint64_t(done);
    }
    return true;
}

// What the log file and the zeroing thread share about one log.
struct wal_log {
    wal_log(int fd, std::string path) : fd(fd), path(std::move(path)) {}
    const int fd;
    const std::string path;
    // [0, zeroed_end) is allocated and its size durable: appends there change
    // no metadata.
    std::atomic<std::uint64_t> zeroed_end{0};
    std::atomic<std::uint64_t> appended{0};

    std::mutex mutex;
    std::condition_variable changed;
    // Guarded by mutex:
    std::uint64_t claimed = 0;  // furthest reach of an append past zeroed_end
    bool zeroing = false;       // zeros are going to [zeroing_from, ...)
    std::uint64_t zeroing_from = 0;
    bool closed = false;
    bool given_up = false;  // zeroing failed once (a full disk): appends only

    // Zeroing thread only:
    std::uint64_t appended_at_last_look = 0;
};

// One thread for every log of a file system: logs come one after another,
// so it rarely has more than one to look after.
class zeroing_thread {
public:
    explicit zeroing_thread(wal_zeroing settings) : settings_(settings), thread_([this] { run(); }) {}
    ~zeroing_thread() {
        {
            std::lock_guard lock(mutex_);
            stopping_ = true;
        }
        wake_.notify_one();
        thread_.join();
    }

    void add(std::shared_ptr<wal_log> log) {
        {
            std::lock_guard lock(mutex_);
            logs_.push_back(std::move(log));
            asleep_.store(false, std::memory_order_relaxed);
        }
        wake_.notify_one();
    }

    // Called by a log's writer on each append; costs a wake-up only when the
    // thread went to sleep on an idle server.
    void note_append() {
        if (!asleep_.load(std::memory_order_relaxed)) return;
        {
            std::lock_guard lock(mutex_);
            asleep_.store(false, std::memory_order_relaxed);
        }
        wake_.notify_one();
    }

private:
    // Often enough that a log growing at the highest rate zeroed for cannot
    // use up half a step between two looks.
    static constexpr auto tick = std::chrono::milliseconds(10);
    static constexpr int idle_ticks_before_sleep = 100;

    void run() {
        std::vector<std::shared_ptr<wal_log>> logs;
        int idle_ticks = 0;
        auto last = std::chrono::steady_clock::now();
        for (;;) {
            {
                std::unique_lock lock(mutex_);
                if (idle_ticks >= idle_ticks_before_sleep) {
                    asleep_.store(true, std::memory_order_relaxed);
                    wake_.wait(lock, [this] { return stopping_ || !asleep_.load(std::memory_order_relaxed); });
                    idle_ticks = 0;
                    last = std::chrono::steady_clock::now();
                } else {
                    wake_.wait_for(lock, tick, [this] { return stopping_; });
                }
                if (stopping_) return;
                logs_.erase(std::remove_if(logs_.begin(), logs_.end(),
                                           [](const std::shared_ptr<wal_log>& l) {
                                               std::lock_guard log_lock(l->mutex);
                                               return l->closed;
                                           }),
                            logs_.end());
                logs = logs_;
            }
            auto now = std::chrono::steady_clock::now();
            double seconds = std::chrono::duration<double>(now - last).count();
            last = now;
            bool any_growth = false;
            for (auto& log : logs) any_growth |= look_after(*log, seconds);
            idle_ticks = any_growth ? 0 : idle_ticks + 1;
        }
    }

    // Returns whether the log grew since the last look.
    bool look_after(wal_log& log, double seconds) {
        const std::uint64_t appended = log.appended.load(std::memory_order_acquire);
        const std::uint64_t grown = appended - log.appended_at_last_look;
        log.appended_at_last_look = appended;
        if (settings_.lays_zeros(grown, seconds, appended, log.zeroed_end.load(std::memory_order_acquire)))
            lay_zeros(log);
        return grown > 0;
    }

    void lay_zeros(wal_log& log) {
        std::uint64_t from;
        {
            std::lock_guard lock(log.mutex);
            if (log.closed || log.given_up) return;
            from = std::max(log.zeroed_end.load(std::memory_order_relaxed), log.claimed);
            log.zeroing = true;
            log.zeroing_from = from;
        }
        static const std::vector<char> zeros(256u << 10, '\0');
        int err = 0;
        bool ok = true;
        for (std::uint64_t at = from; ok && at < from + settings_.step; at += zeros.size())
            ok = write_all(log.fd, zeros.data(), std::min<std::uint64_t>(zeros.size(), from + settings_.step - at), at, err);
        // Synced here, the size change and the zeros' blocks are not left to
        // the log's next sync.
        if (ok && ::fdatasync(log.fd) != 0) {
            ok = false;
            err = errno;
        }
        {
            std::lock_guard lock(log.mutex);
            log.zeroing = false;
            if (ok) log.zeroed_end.store(from + settings_.step, std::memory_order_release);
            else log.given_up = true;
        }
        log.changed.notify_all();
        if (!ok) spdlog::debug("WAL {}: zeros ahead of the log stopped: {}", log.path, std::strerror(err));
    }

    const wal_zeroing settings_;
    std::mutex mutex_;
    std::condition_variable wake_;
    std::vector<std::shared_ptr<wal_log>> logs_;
    std::atomic<bool> asleep_{false};
    bool stopping_ = false;
    std::thread thread_;
};

class zeroed_wal_file : public rocksdb::FSWritableFile {
public:
    zeroed_wal_file(std::shared_ptr<wal_log> log, std::shared_ptr<zeroing_thread> zeroer, const rocksdb::FileOptions& o)
        : rocksdb::FSWritableFile(o), log_(std::move(log)), zeroer_(std::move(zeroer)) {}
    ~zeroed_wal_file() override { close(); }

    using rocksdb::FSWritableFile::Append;
    IOStatus Append(const rocksdb::Slice& data, const IOOptions&, IODebugContext*) override {
        const std::uint64_t end = position_ + data.size();
        if (end > log_->zeroed_end.load(std::memory_order_acquire)) {
            // Past the zeros: wait only if they are being laid where this goes.
            std::unique_lock lock(log_->mutex);
            log_->changed.wait(lock, [&] { return !log_->zeroing || end <= log_->zeroing_from; });
            log_->claimed = std::max(log_->claimed, end);
        }
        int err = 0;
        if (!write_all(log_->fd, data.data(), data.size(), position_, err)) return io_error(log_->path, err);
        position_ = end;
        log_->appended.store(end, std::memory_order_release);
        zeroer_->note_append();
        return IOStatus::OK();
    }

    IOStatus Flush(const IOOptions&, IODebugContext*) override { return IOStatus::OK(); }
    IOStatus Sync(const IOOptions&, IODebugContext*) override {
        if (::fdatasync(log_->fd) != 0) return io_error(log_->path, errno);
        return IOStatus::OK();
    }
    IOStatus Fsync(const IOOptions&, IODebugContext*) override {
        if (::fsync(log_->fd) != 0) return io_error(log_->path, errno);
        return IOStatus::OK();
    }
    bool IsSyncThreadSafe() const override { return true; }
    std::uint64_t GetFileSize(const IOOptions&, IODebugContext*) override { return position_; }
    // The zeros stand in for preallocation.
    IOStatus Allocate(std::uint64_t, std::uint64_t, const IOOptions&, IODebugContext*) override {
        return IOStatus::OK();
    }
    IOStatus Truncate(std::uint64_t size, const IOOptions&, IODebugContext*) override {
        if (::ftruncate(log_->fd, off_t(size)) != 0) return io_error(log_->path, errno);
        position_ = size;
        return IOStatus::OK();
    }
    IOStatus Close(const IOOptions&, IODebugContext*) override { return close(); }

private:
    IOStatus close() {
        {
            std::unique_lock lock(log_->mutex);
            if (log_->closed) return IOStatus::OK();
            log_->closed = true;
            log_->changed.wait(lock, [&] { return !log_->zeroing; });
        }
        IOStatus status;
        // Zeros past the end are harmless to a reader; cutting them only
        // returns the space.
        if (log_->zeroed_end.load() > position_ && ::ftruncate(log_->fd, off_t(position_)) != 0)
            spdlog::debug("WAL {}: could not cut the zeros after the log: {}", log_->path, std::strerror(errno));
        if (::close(log_->fd) != 0) status = io_error(log_->path, errno);
        return status;
    }

    std::shared_ptr<wal_log> log_;
    std::shared_ptr<zeroing_thread> zeroer_;
    std::uint64_t position_ = 0;
};

class wal_file_system : public rocksdb::FileSystemWrapper {
public:
    explicit wal_file_system(wal_zeroing settings)
        : rocksdb::FileSystemWrapper(rocksdb::FileSystem::Default()),
          zeroer_(std::make_shared<zeroing_thread>(settings)) {}

    const char* Name() const override { return "kinesd-wal"; }

    IOStatus NewWritableFile(const std::string& path, const rocksdb::FileOptions& options,
                             std::unique_ptr<rocksdb::FSWritableFile>* result, IODebugContext* dbg) override {
        if (!is_wal_file_name(path) || options.use_direct_writes || options.use_mmap_writes)
            return target()->NewWritableFile(path, options, result, dbg);
        int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        if (fd < 0) return io_error(path, errno);
        auto log = std::make_shared<wal_log>(fd, path);
        zeroer_->add(log);
        *result = std::make_unique<zeroed_wal_file>(std::move(log), zeroer_, options);
        return IOStatus::OK();
    }

private:
    std::shared_ptr<zeroing_thread> zeroer_;
};

}  // namespace

bool wal_zeroing::lays_zeros(std::uint64_t grown, double seconds, std::uint64_t appended,
                             std::uint64_t zeroed_end) const {
    if (double(grown) > double(max_bytes_per_second) * std::max(seconds, 0.001)) return false;
    return zeroed_end <= appended + step / 2;
}

bool is_wal_file_name(const std::string& path) {
    auto slash = path.rfind('/');
    std::string_view name(path);
    if (slash != std::string::npos) name.remove_prefix(slash + 1);
    constexpr std::string_view suffix = ".log";
    if (name.size() <= suffix.size() || name.substr(name.size() - suffix.size()) != suffix) return false;
    name.remove_suffix(suffix.size());
    return std::all_of(name.begin(), name.end(), [](char c) { return c >= '0' && c <= '9'; });
}

std::shared_ptr<rocksdb::FileSystem> make_wal_file_system(wal_zeroing settings) {
    if (settings.step == 0) return rocksdb::FileSystem::Default();
    return std::make_shared<wal_file_system>(settings);
}

}  // namespace kinesd::storage
