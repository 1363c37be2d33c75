#include "auth/audit_log.h"

#include <ctime>
#include <stdexcept>
#include <vector>

#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

namespace kinesd::auth {

audit_log::audit_log(const std::string& where) {
    if (where == "stdout") {
        out_ = stdout;
    } else {
        out_ = std::fopen(where.c_str(), "a");
        if (!out_) throw std::invalid_argument("cannot open audit log " + where);
        owns_file_ = true;
    }
    writer_ = std::thread([this] { run(); });
}

audit_log::~audit_log() {
    {
        std::lock_guard lock(mutex_);
        stop_ = true;
    }
    wake_.notify_one();
    writer_.join();
    if (owns_file_) std::fclose(out_);
}

std::string audit_log::format(const audit_entry& e) {
    std::time_t seconds = e.time_ms / 1000;
    std::tm parts{};
    gmtime_r(&seconds, &parts);
    char stamp[40];
    std::size_t n = std::strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%S", &parts);
    std::snprintf(stamp + n, sizeof stamp - n, ".%03dZ", static_cast<int>(e.time_ms % 1000));
    nlohmann::ordered_json j;
    j["time"] = stamp;
    j["access_key_id"] = e.access_key ? nlohmann::ordered_json(*e.access_key) : nlohmann::ordered_json(nullptr);
    j["account"] = e.account.empty() ? nlohmann::ordered_json(nullptr) : nlohmann::ordered_json(e.account);
    j["action"] = e.action;
    j["resource"] = e.resource.empty() ? nlohmann::ordered_json(nullptr) : nlohmann::ordered_json(e.resource);
    j["result"] = e.result;
    return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

void audit_log::record(audit_entry entry) {
    {
        std::lock_guard lock(mutex_);
        if (queue_.size() >= max_queued) {
            ++dropped_;
            return;
        }
        queue_.push_back(std::move(entry));
    }
    wake_.notify_one();
}

void audit_log::flush() {
    std::unique_lock lock(mutex_);
    drained_.wait(lock, [&] { return queue_.empty() && !writing_; });
}

void audit_log::run() {
    std::unique_lock lock(mutex_);
    while (true) {
        wake_.wait(lock, [&] { return stop_ || !queue_.empty(); });
        if (queue_.empty() && stop_) break;
        std::deque<audit_entry> batch;
        batch.swap(queue_);
        const auto dropped = dropped_;
        dropped_ = 0;
        writing_ = true;
        lock.unlock();
        std::string text;
        for (const auto& e : batch) {
            text += format(e);
            text += '\n';
        }
        if (dropped) spdlog::warn("audit log fell behind: {} lines dropped", dropped);
        std::fwrite(text.data(), 1, text.size(), out_);
        std::fflush(out_);
        lock.lock();
        writing_ = false;
        if (queue_.empty()) drained_.notify_all();
    }
    drained_.notify_all();
}

}  // namespace kinesd::auth
