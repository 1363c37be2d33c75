#pragma once
// CBOR answers of the record actions, written directly instead of through a
// value and the general encoder, byte for byte what that encoder writes for
// the same answer (maps of definite length, members sorted by name, blobs as
// byte strings, timestamps as tag 1 + integer epoch milliseconds).
//
// cbor_records_writer appends the elements of a Records array from stored
// records; anything that returns records in CBOR (GetRecords, event
// payloads) builds its array with it.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "storage/log_store.h"
#include "streams/encoding.h"

namespace kinesd::actions {

// Appends one map per record: {ApproximateArrivalTimestamp, Data,
// EncryptionType (KMS records only), PartitionKey, SequenceNumber}. The
// caller writes the array head once the count is known (write_cbor_head(4,
// count())), or uses append_cbor_records.
class cbor_records_writer {
public:
    // Records of the shard created at `shard_created_s` with index
    // `shard_index`, whose sequence numbers the writer prints. Room for
    // about `expected_records` records like the first is made at once.
    cbor_records_writer(std::string& out, std::uint64_t shard_created_s, std::uint32_t shard_index,
                        std::size_t expected_records = 1);

    void add(const storage::record_view& r);
    std::size_t count() const { return count_; }
    // Drops the room made but not written; call before reading `out`.
    void finish() { out_.resize(used_); }

private:
    char* room(std::size_t n);

    std::string& out_;
    std::size_t used_;
    std::size_t count_ = 0;
    std::size_t expected_;
    encoding::sequence_stepper sequence_;
    std::string repaired_key_;
};

// A whole Records array: its head, then every record.
void append_cbor_records(std::span<const storage::record_view> records, std::uint64_t shard_created_s,
                         std::uint32_t shard_index, std::string& out);

// GetRecords' answer around the `count` record maps in `records` (from a
// cbor_records_writer): ChildShards when given, else NextShardIterator.
std::string get_records_cbor(const std::optional<nlohmann::json>& children, std::int64_t millis_behind,
                             const std::string& next_iterator, std::string records, std::size_t count);

// PutRecord's answer.
std::string put_record_cbor(std::string_view encryption_type, std::string_view sequence, std::string_view shard_id);

// PutRecords' answer: the head, then `entries` results, each either a
// success or a failure.
void put_records_cbor_head(std::string_view encryption_type, std::size_t failed, std::size_t entries,
                           std::string& out);
void put_records_cbor_success(std::string_view sequence, std::string_view shard_id, std::string& out);
void put_records_cbor_failure(std::string_view error_code, std::string_view message, std::string& out);

}  // namespace kinesd::actions
