#pragma once
// The one place where kinesd's externally visible identifiers are printed and
// parsed: shard ids, sequence numbers, shard iterators and hash keys. Each has
// a round-trip and ordering test in tests/unit/streams/encoding_test.cc.
// The RocksDB key and value layout lives beside the store, in storage/keys.h.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "common/uint128.h"

namespace kinesd::encoding {

// ---- Shard ids: "shardId-" + 12-digit zero-padded index, as AWS prints them.
std::string shard_id(std::uint32_t index);
// Accepts the canonical form and the loose forms AWS and kinesalite resolve
// ("shardId-1", "shard-1", "1"); nullopt when there is no index to find.
std::optional<std::uint32_t> parse_shard_id(std::string_view text);

// ---- Hash keys: MD5 of the partition key's UTF-8 bytes, big-endian.
uint128 partition_hash(std::string_view partition_key);

// ---- Sequence numbers.
// AWS's 56-digit decimal sequence numbers are a 188-bit value laid out as
// (most significant first): version 2 (4 bits), shard creation time in epoch
// seconds (36), low nibble of the shard index (4), a per-shard counter (64),
// zero (8), record arrival time in epoch seconds (36), shard index (32) and a
// trailing 2 (4). Within a shard only the counter varies in the high bits, so
// numbers grow strictly with the counter, both as big integers and as
// equal-length strings, which is what KCL-style consumers compare.
struct sequence_fields {
    std::uint64_t shard_created_s = 0;
    std::uint32_t shard_index = 0;
    std::uint64_t counter = 0;
    std::uint64_t arrival_s = 0;
};
// The counter of a shard's StartingSequenceNumber; the first record gets 1.
constexpr std::uint64_t starting_counter = 0;
// The counter of a closed shard's EndingSequenceNumber: above any record's.
constexpr std::uint64_t ending_counter = 0x7fffffffffffffffULL;

constexpr std::size_t sequence_number_digits = 56;
std::string sequence_number(const sequence_fields& f);
// The same digits appended to `out`, for answers written as text.
void append_sequence_number(const sequence_fields& f, std::string& out);

// Prints the sequence numbers of one shard's records in order, as
// append_sequence_number does. Consecutive records differ by one in the
// counter field, which starts at bit 80: when the arrival second is unchanged
// the next number is the previous one plus 2^80, a short decimal addition
// where a fresh number costs a 188-bit binary-to-decimal conversion.
class sequence_stepper {
public:
    sequence_stepper(std::uint64_t created_s, std::uint32_t index) : created_s_(created_s), index_(index) {}
    // Valid until the next call.
    std::string_view next(std::uint64_t counter, std::uint64_t arrival_s);

private:
    void add_counter_step();

    std::uint64_t created_s_;
    std::uint32_t index_;
    bool valid_ = false;
    std::uint64_t counter_ = 0;
    std::uint64_t arrival_s_ = 0;
    char digits_[sequence_number_digits];
    std::string scratch_;
};
// nullopt when the text is not a sequence number of this layout.
std::optional<sequence_fields> parse_sequence_number(std::string_view text);

// ---- Shard iterators.
// Opaque to clients: base64 of a version byte, the issue time, the stream's
// incarnation id, the shard index, the next counter to read and the stream
// name, followed by a truncated HMAC-SHA256 under a secret kept in the data
// directory, so iterators survive restarts and a forged or corrupted one is
// refused instead of being trusted.
struct iterator_fields {
    std::int64_t issued_ms = 0;
    std::uint64_t stream_uid = 0;
    std::uint32_t shard_index = 0;
    std::uint64_t next_counter = 0;  // first counter the next read may return
    std::string stream_name;
};
std::string shard_iterator(const iterator_fields& f, std::string_view secret);
std::optional<iterator_fields> parse_shard_iterator(std::string_view text, std::string_view secret);

}  // namespace kinesd::encoding

namespace kinesd::encoding {
// ---- Paging tokens (ListShards / ListStreams NextToken): opaque, signed,
// and carrying their issue time so they can expire after 300 s as AWS's do.
std::string paging_token(std::string_view payload, std::int64_t issued_ms, std::string_view secret);
struct paging_fields {
    std::string payload;
    std::int64_t issued_ms = 0;
};
std::optional<paging_fields> parse_paging_token(std::string_view text, std::string_view secret);
}  // namespace kinesd::encoding
