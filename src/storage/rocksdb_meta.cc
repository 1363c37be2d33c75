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

std::uint64_t rocksdb_store::revision_of(std::string_view value) {
    // FNV-1a, then a finalising mix so that similar values spread.
    std::uint64_t h = 0xcbf29ce484222325ull;
    for (unsigned char c : value) h = (h ^ c) * 0x100000001b3ull;
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdull;
    h ^= h >> 33;
    return h == 0 ? 1 : h;
}

status rocksdb_store::put_meta(std::string_view key, std::string_view value) {
    rocksdb::Status s;
    {
        std::lock_guard lock(meta_lock(key));
        s = write_meta(key, &value);
    }
    if (!s.ok()) return to_status(s);
    const std::string copy(value);
    notify_watchers(key, &copy);
    return status::success();
}

status rocksdb_store::delete_meta(std::string_view key) {
    rocksdb::Status s;
    {
        std::lock_guard lock(meta_lock(key));
        s = write_meta(key, nullptr);
    }
    if (!s.ok()) return to_status(s);
    notify_watchers(key, nullptr);
    return status::success();
}

status rocksdb_store::get_meta_revision(std::string_view key, std::string* value, std::uint64_t* revision) const {
    std::string found;
    auto s = db_->Get(rocksdb::ReadOptions(), meta_, key, &found);
    if (s.IsNotFound()) {
        *revision = 0;
        if (value) value->clear();
        return status::success();
    }
    if (!s.ok()) return to_status(s);
    *revision = revision_of(found);
    if (value) *value = std::move(found);
    return status::success();
}

status rocksdb_store::put_meta_if(std::string_view key, std::string_view value, std::uint64_t expected,
                                  std::uint64_t* revision) {
    {
        std::lock_guard lock(meta_lock(key));
        std::uint64_t current = 0;
        if (auto s = get_meta_revision(key, nullptr, &current); !s.ok()) return s;
        if (current != expected) return status::conflict("metadata " + std::string(key) + " changed");
        if (auto s = write_meta(key, &value); !s.ok()) return to_status(s);
    }
    if (revision) *revision = revision_of(value);
    const std::string copy(value);
    notify_watchers(key, &copy);
    return status::success();
}

status rocksdb_store::delete_meta_if(std::string_view key, std::uint64_t expected) {
    {
        std::lock_guard lock(meta_lock(key));
        std::uint64_t current = 0;
        if (auto s = get_meta_revision(key, nullptr, &current); !s.ok()) return s;
        if (current != expected) return status::conflict("metadata " + std::string(key) + " changed");
        if (current == 0) return status::success();
        if (auto s = write_meta(key, nullptr); !s.ok()) return to_status(s);
    }
    notify_watchers(key, nullptr);
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
void rocksdb_store::notify_watchers(std::string_view key, const std::string* value) {
    std::vector<std::shared_ptr<meta_watcher>> matching;
    {
        std::lock_guard lock(watch_mutex_);
        if (watches_.empty()) return;
        for (const auto& w : watches_)
            if (key.starts_with(w.prefix)) matching.push_back(w.fn);
    }
    for (const auto& fn : matching) (*fn)(key, value);
}

}  // namespace kinesd::storage
