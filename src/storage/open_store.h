#pragma once
// Opens the storage backend the settings name: "rocksdb" (the default, in
// the data directory) or "nats" (a JetStream cluster shared by several
// front ends). Everything else sees only storage::log_store.
#include <memory>
#include <string>

#include "storage/jetstream_options.h"
#include "storage/log_store.h"
#include "storage/rocksdb_store.h"

namespace kinesd {
class clock;
}

namespace kinesd::storage {

struct storage_settings {
    std::string backend = "rocksdb";  // rocksdb | nats
    rocksdb_options rocksdb;
    jetstream_options jetstream;
};

// Throws std::runtime_error when the backend cannot be opened (or, for
// "nats", was not built in) and std::invalid_argument for an unknown name.
std::unique_ptr<log_store> open_store(const storage_settings& settings, const kinesd::clock& clock);

}  // namespace kinesd::storage
