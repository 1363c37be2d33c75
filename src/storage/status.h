#pragma once
// The outcome of a storage call, the same whatever backend answered it.
// Callers above storage decide from the kind alone: `unavailable` is the
// server's trouble and passes to clients as a retryable 503; `aborted` means
// a reshard closed the target shard (route again); `conflict` means a
// compare-and-swap found another revision.
#include <string>
#include <utility>

namespace kinesd::storage {

class status {
public:
    enum class kind { ok, not_found, aborted, conflict, unavailable, corruption, other };

    status() = default;
    static status success() { return {}; }
    static status not_found(std::string m = {}) { return {kind::not_found, std::move(m)}; }
    static status aborted(std::string m = {}) { return {kind::aborted, std::move(m)}; }
    static status conflict(std::string m = {}) { return {kind::conflict, std::move(m)}; }
    static status unavailable(std::string m) { return {kind::unavailable, std::move(m)}; }
    static status corruption(std::string m) { return {kind::corruption, std::move(m)}; }
    static status other(std::string m) { return {kind::other, std::move(m)}; }

    bool ok() const { return kind_ == kind::ok; }
    bool is_not_found() const { return kind_ == kind::not_found; }
    bool is_aborted() const { return kind_ == kind::aborted; }
    bool is_conflict() const { return kind_ == kind::conflict; }
    bool is_unavailable() const { return kind_ == kind::unavailable; }
    kind code() const { return kind_; }
    const std::string& message() const { return message_; }
    std::string to_string() const;

private:
    status(kind k, std::string m) : kind_(k), message_(std::move(m)) {}
    kind kind_ = kind::ok;
    std::string message_;
};

inline std::string status::to_string() const {
    const char* name = "OK";
    switch (kind_) {
        case kind::ok: return name;
        case kind::not_found: name = "not found"; break;
        case kind::aborted: name = "aborted"; break;
        case kind::conflict: name = "revision conflict"; break;
        case kind::unavailable: name = "unavailable"; break;
        case kind::corruption: name = "corruption"; break;
        case kind::other: name = "error"; break;
    }
    return message_.empty() ? std::string(name) : std::string(name) + ": " + message_;
}

}  // namespace kinesd::storage
