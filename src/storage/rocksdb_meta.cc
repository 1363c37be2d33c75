// Metadata of the RocksDB backend: plain and compare-and-swap writes, and the
// watchers that see them. Only this process writes the directory, so a lock
// of the key held across a compare-and-swap's read and write is all the
// isolation it needs, and every change a watcher must see passes through here.
#include "storage/rocksdb_store.h"

namespace kinesd::storage {

status to_status(const rocksdb::Status& s) {
    if (s.ok()) return status::success();
    if (s.IsIOError() || s.IsBusy() || s.IsTryAgain() || s.IsIncomplete()) return status::unavailable(s.ToString());
    if (s.IsAborted()) return status::aborted(s.ToString());
    if (s.IsNotFound()) return status::not_found(s.ToString());
    if (s.IsCorruption()) return status::corruption(s.ToString());
    return status::other(s.ToString());
}

std::uint64_t rocksdb_store::revision_locked(std::string_view key, bool present) const {
    std::lock_guard lock(revisions_mutex_);
    auto it = revisions_.find(std::string(key));
    if (!present) return 0;
    if (it != revisions_.end() && it->second != 0) return it->second;
    const auto r = ++last_revision_;
    revisions_[std::string(key)] = r;
    return r;
}

std::uint64_t rocksdb_store::next_revision_locked(std::string_view key) {
    std::lock_guard lock(revisions_mutex_);
    const auto r = ++last_revision_;
    revisions_[std::string(key)] = r;
    return r;
}

status rocksdb_store::put_meta(std::string_view key, std::string_view value) {
    rocksdb::Status s;
    std::uint64_t revision = 0;
    {
        std::lock_guard lock(meta_lock(key));
        s = write_meta(key, &value);
        if (s.ok()) revision = next_revision_locked(key);
    }
    if (!s.ok()) return to_status(s);
    const std::string copy(value);
    notify_watchers(key, &copy, revision);
    return status::success();
}

status rocksdb_store::delete_meta(std::string_view key) {
    rocksdb::Status s;
    std::uint64_t revision = 0;
    {
        std::lock_guard lock(meta_lock(key));
        s = write_meta(key, nullptr);
        if (s.ok()) revision = next_revision_locked(key);
    }
    if (!s.ok()) return to_status(s);
    notify_watchers(key, nullptr, revision);
    return status::success();
}

status rocksdb_store::get_meta_revision(std::string_view key, std::string* value, std::uint64_t* revision) const {
    std::lock_guard lock(meta_lock(key));
    std::string found;
    auto s = db_->Get(rocksdb::ReadOptions(), meta_, key, &found);
    if (s.IsNotFound()) {
        *revision = 0;
        if (value) value->clear();
        return status::success();
    }
    if (!s.ok()) return to_status(s);
    *revision = revision_locked(key, true);
    if (value) *value = std::move(found);
    return status::success();
}

status rocksdb_store::compare_locked(std::string_view key, std::uint64_t expected, std::uint64_t* current) const {
    std::string found;
    auto s = db_->Get(rocksdb::ReadOptions(), meta_, key, &found);
    if (!s.ok() && !s.IsNotFound()) return to_status(s);
    *current = revision_locked(key, s.ok());
    if (*current != expected) return status::conflict("metadata " + std::string(key) + " changed");
    return status::success();
}

status rocksdb_store::put_meta_if(std::string_view key, std::string_view value, std::uint64_t expected,
                                  std::uint64_t* revision) {
    std::uint64_t next = 0;
    {
        std::lock_guard lock(meta_lock(key));
        std::uint64_t current = 0;
        if (auto c = compare_locked(key, expected, &current); !c.ok()) return c;
        if (auto w = write_meta(key, &value); !w.ok()) return to_status(w);
        next = next_revision_locked(key);
    }
    if (revision) *revision = next;
    const std::string copy(value);
    notify_watchers(key, &copy, next);
    return status::success();
}

status rocksdb_store::delete_meta_if(std::string_view key, std::uint64_t expected) {
    std::uint64_t next = 0;
    {
        std::lock_guard lock(meta_lock(key));
        std::uint64_t current = 0;
        if (auto c = compare_locked(key, expected, &current); !c.ok()) return c;
        if (current == 0) return status::success();
        if (auto w = write_meta(key, nullptr); !w.ok()) return to_status(w);
        next = next_revision_locked(key);
    }
    notify_watchers(key, nullptr, next);
    return status::success();
}

std::uint64_t rocksdb_store::watch_meta(std::string_view prefix, meta_watcher fn) {
    std::lock_guard lock(watch_mutex_);
    const auto id = next_watch_id_++;
    watches_.push_back(meta_watch{id, std::string(prefix), std::make_shared<meta_watcher>(std::move(fn))});
    return id;
}

void rocksdb_store::unwatch_meta(std::uint64_t id) {
    std::lock_guard lock(watch_mutex_);
    std::erase_if(watches_, [id](const meta_watch& w) { return w.id == id; });
}

// Called with no lock of the store held: a watcher may read or write
// metadata itself.
void rocksdb_store::notify_watchers(std::string_view key, const std::string* value, std::uint64_t revision) {
    std::vector<std::shared_ptr<meta_watcher>> matching;
    {
        std::lock_guard lock(watch_mutex_);
        if (watches_.empty()) return;
        for (const auto& w : watches_)
            if (key.starts_with(w.prefix)) matching.push_back(w.fn);
    }
    for (const auto& fn : matching) (*fn)(key, value, revision);
}

}  // namespace kinesd::storage
