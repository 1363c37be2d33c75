#pragma once
// The RocksDB layout, in one place.
//
// Column families:
//   "default"              unused (RocksDB requires it)
//   "meta"                 stream metadata, shard counters, server secrets
//   "records"              the records of every shard, one key range per shard
//   "shard-<uid>-<index>"  older data directories: one column family per shard,
//                          still read and written the same way, with an empty
//                          key prefix
//
// Why shards share a column family: RocksDB 7.8 rewrites and re-parses an
// OPTIONS file naming every column family on each create, drop and open, so
// with thousands of shards creating one stream took seconds and opening the
// database tens of seconds. A shard's range in "records" costs nothing to
// create, and the SST partitioner cuts compaction output at shard boundaries,
// so each shard's data still sits in files of its own and appends keep
// moving down the levels without rewrites.
//
// Record keys: the shard's 12-byte prefix (8-byte big-endian stream uid,
// 4-byte big-endian shard index) then the 8-byte big-endian counter of the
// first record of a chunk of consecutive records that were committed
// together. Keys sort in append order within a shard; a record's chunk is the
// last key at or before its counter. Chunks exist because RocksDB's cost is
// per entry: one entry per request and shard instead of one per record is
// what lets a put of 500 records cost about what a put of one does.
//
// Chunk value: byte 0xC1, 8-byte big-endian arrival time in epoch
// milliseconds (shared by the chunk: it was written at once), 4-byte
// big-endian record count, then per record a 2-byte big-endian partition key
// length (its top bit set when the record was written to a KMS-encrypted
// stream: a record keeps the encryption it was written under), a 4-byte
// big-endian data length, the partition key and the data bytes.
//
// Older data directories hold one record per entry: 8-byte big-endian arrival
// time, the 2-byte key length as above, the partition key, then the data.
// Such a value never starts with 0xC1 (arrival times are far below 2^56), so
// the chunk reader reads both.
//
// Meta column family keys:
//   "stream/<name>"        JSON of the stream's metadata (streams/stream_state)
//   "shard/<shard name>"   present while a shard of "records" exists (empty)
//   "counter/<shard name>" 8-byte big-endian last counter handed out in that
//                          shard, then the 8-byte arrival time of its last
//                          record (older directories: the counter alone);
//                          written in the same batch as the records
//   "trim/<shard name>"    8-byte big-endian first counter not trimmed away
//                          (the chunk holding it may keep older records)
//   "secret/iterator"      the HMAC key for shard iterators and paging tokens
//   "firehose/<name>"      JSON of a delivery stream's metadata
//   "firehose-checkpoint/<name>/<shard name>"  delivery progress in one shard log
#include <cstdint>
#include <string>
#include <string_view>

namespace kinesd::storage::keys {

constexpr const char* meta_cf = "meta";
constexpr const char* records_cf = "records";

// A shard's name: its column family's name in older data directories, and
// the name its metadata is kept under.
std::string shard_cf_name(std::uint64_t stream_uid, std::uint32_t shard_index);
bool is_shard_cf_name(std::string_view name);

constexpr std::size_t shard_prefix_size = 12;
constexpr std::size_t max_record_key_size = shard_prefix_size + 8;
// The shard's key prefix in "records"; throws std::invalid_argument for a
// name that shard_cf_name did not make.
std::string shard_prefix(std::string_view shard_name);
// prefix + counter into `out`; returns the key's size.
std::size_t encode_record_key(std::string_view prefix, std::uint64_t counter, char out[max_record_key_size]);
// The counter at the end of a record key (any prefix length).
std::uint64_t record_key_counter(std::string_view key);

// "counter/<shard>" values.
void encode_counter_meta(std::uint64_t counter, std::int64_t last_arrival_ms, char out[16]);
// false when the value is too short; arrival is 0 in older 8-byte values.
bool decode_counter_meta(std::string_view value, std::uint64_t* counter, std::int64_t* last_arrival_ms);

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

// Chunk values (see the layout above), written in pieces so that a gathered
// write leaves keys and data where they are: the chunk's head, then per
// record its head, its key and its data.
constexpr unsigned char chunk_marker = 0xC1;
constexpr std::size_t chunk_head_size = 1 + 8 + 4;
constexpr std::size_t chunk_record_head_size = 2 + 4;
void write_chunk_head(char* out, std::int64_t arrival_ms, std::uint32_t count);
void write_chunk_record_head(char* out, std::size_t partition_key_size, std::size_t data_size, bool encrypted);

// Walks the records of one stored value, chunk or single record.
class chunk_reader {
public:
    // false when the bytes are neither (a foreign or damaged value).
    bool open(std::string_view value);
    std::uint32_t count() const { return count_; }
    std::int64_t arrival_ms() const { return arrival_ms_; }
    // The next record; false at the end or when the value is truncated.
    bool next(record_value& out);

private:
    std::string_view rest_;
    std::uint32_t count_ = 0;
    std::uint32_t taken_ = 0;
    std::int64_t arrival_ms_ = 0;
    bool single_ = false;
};

std::string stream_meta_key(std::string_view stream_name);
constexpr std::string_view stream_meta_prefix = "stream/";
std::string shard_meta_key(std::string_view cf_name);
constexpr std::string_view shard_meta_prefix = "shard/";
std::string counter_meta_key(std::string_view cf_name);
std::string trim_meta_key(std::string_view cf_name);
constexpr std::string_view iterator_secret_key = "secret/iterator";
constexpr std::string_view firehose_meta_prefix = "firehose/";
constexpr std::string_view firehose_checkpoint_prefix = "firehose-checkpoint/";

}  // namespace kinesd::storage::keys
