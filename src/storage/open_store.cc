#include "storage/open_store.h"

#include <spdlog/spdlog.h>

#include <stdexcept>

#ifdef KINESD_WITH_JETSTREAM
#include "storage/jetstream/jetstream_store.h"
#endif

namespace kinesd::storage {

std::unique_ptr<log_store> open_store(const storage_settings& settings, const kinesd::clock& clock) {
    if (settings.backend == "rocksdb") return std::make_unique<rocksdb_store>(settings.rocksdb, clock);
    if (settings.backend == "nats") {
#ifdef KINESD_WITH_JETSTREAM
        return open_jetstream_store(settings.jetstream, clock);
#else
        throw std::runtime_error("kinesd was built without the NATS JetStream backend");
#endif
    }
    throw std::invalid_argument("unknown storage backend '" + settings.backend + "' (rocksdb or nats)");
}

}  // namespace kinesd::storage
