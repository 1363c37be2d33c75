#pragma once
// RocksDB's write-ahead log, written over zeros laid down ahead of it.
//
// A synced append that grows a file also changes its size, and on ext4 or
// XFS fdatasync then commits the file system's journal: a second device
// write and cache flush on every sync. Writing over blocks that already hold
// data changes no metadata, so the sync only writes the data (0.09 against
// 0.14 ms on our virtual disk). A background thread keeps `step` bytes of
// zeros written and synced ahead of each log's end; the log's appends land
// on them.
//
// A crash leaves zeros after the last record. RocksDB's log reader takes a
// zero header for the padding of a preallocated file and skips to the next
// block, so the tail reads as the end of the log, as a short file would. On
// close the file is cut back to what was appended.
//
// Under a heavy write rate the syncs are shared by many records and the
// zeros would double what reaches the disk: the thread then stays out of
// the way and the log grows by plain appends.
#include <rocksdb/file_system.h>

#include <cstddef>
#include <cstdint>
#include <memory>

namespace kinesd::storage {

struct wal_zeroing {
    std::size_t step = 2u << 20;  // zeros laid down at a time; 0: off
    // A log that took more than this since the last check is left to grow by
    // appends.
    std::size_t max_bytes_per_second = 32u << 20;

    // Whether a log that grew by `grown` bytes over the last `seconds`, now
    // `appended` long with zeros up to `zeroed_end`, gets another step.
    bool lays_zeros(std::uint64_t grown, double seconds, std::uint64_t appended, std::uint64_t zeroed_end) const;
};

// The default file system, except for RocksDB's WAL files ("<number>.log").
std::shared_ptr<rocksdb::FileSystem> make_wal_file_system(wal_zeroing settings);

// Whether `path` names a RocksDB WAL file.
bool is_wal_file_name(const std::string& path);

}  // namespace kinesd::storage
