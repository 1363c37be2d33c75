#pragma once
// The RocksDB layout, in one place.
//
// Column families:
//   "default"              unused (RocksDB requires it)
//   "meta"                 stream metadata, shard counters, server secrets
//   "shard-<uid>-<index>"  one per shard: the shard's records, append-only
//
// Shard column family: key = 8-byte big-endian counter (so keys sort in
// append order and a seek finds a position directly); value = 8-byte
// big-endian arrival time in epoch milliseconds, 2-byte big-endian partition
// key length (its top bit set when the record was written to a KMS-encrypted
// stream: a record keeps the encryption it was written under), the partition
// key, then the data bytes.
//
// Meta column family keys:
//   "stream/<name>"        JSON of the stream's metadata (streams/stream_state)
//   "counter/<cf name>"    8-byte big-endian last counter handed out in that shard
//   "secret/iterator"      the HMAC key for shard iterators and paging tokens
//   "firehose/<name>"      JSON of a delivery stream's metadata
//   "firehose-checkpoint/<name>/<cf name>"  delivery progress in one shard log
#include <cstdint>
#include <string>
#include <string_view>

namespace kinesd::storage::keys {

constexpr const char* meta_cf = "meta";

std::string shard_cf_name(std::uint64_t stream_uid, std::uint32_t shard_index);
bool is_shard_cf_name(std::string_view name);

// 8-byte big-endian counter, written into a caller-provided buffer so the hot
// path allocates nothing.
void encode_counter(std::uint64_t counter, char out[8]);
std::string counter_key(std::uint64_t counter);
std::uint64_t decode_counter(std::string_view key);

struct record_value {
    std::int64_t arrival_ms = 0;
    bool encrypted = false;
    std::string_view partition_key;
    std::string_view data;
};
std::size_t record_value_size(std::size_t partition_key_size, std::size_t data_size);
void encode_record_value(std::string& out, std::int64_t arrival_ms, std::string_view partition_key,
                         std::string_view data, bool encrypted = false);
// false when the bytes are too short to be a record value (a foreign database).
bool decode_record_value(std::string_view bytes, record_value& out);

std::string stream_meta_key(std::string_view stream_name);
constexpr std::string_view stream_meta_prefix = "stream/";
std::string counter_meta_key(std::string_view cf_name);
constexpr std::string_view iterator_secret_key = "secret/iterator";
constexpr std::string_view firehose_meta_prefix = "firehose/";
constexpr std::string_view firehose_checkpoint_prefix = "firehose-checkpoint/";

}  // namespace kinesd::storage::keys
