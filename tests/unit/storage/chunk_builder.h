#pragma once
// Builds a chunk value whole, with the piece writers the storage writer
// gathers from, for tests that read chunks or seed a database with them.
#include <cstdint>
#include <string>
#include <vector>

#include "storage/keys.h"

namespace kinesd::storage::test_support {

struct chunk_record {
    std::string partition_key;
    std::string data;
    bool encrypted = false;
};

inline std::string build_chunk(std::int64_t arrival_ms, const std::vector<chunk_record>& records) {
    std::string out(keys::chunk_head_size, '\0');
    keys::write_chunk_head(out.data(), arrival_ms, std::uint32_t(records.size()));
    for (const auto& r : records) {
        char head[keys::chunk_record_head_size];
        keys::write_chunk_record_head(head, r.partition_key.size(), r.data.size(), r.encrypted);
        out.append(head, sizeof head);
        out += r.partition_key;
        out += r.data;
    }
    return out;
}

}  // namespace kinesd::storage::test_support
