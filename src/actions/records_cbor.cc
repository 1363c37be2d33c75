#include "actions/records_cbor.h"

#include <algorithm>
#include <cstring>

#include "codec/cbor_writer.h"
#include "codec/utf8.h"

namespace kinesd::actions {
namespace {

enum : std::uint8_t { major_unsigned = 0, major_negative = 1, major_bytes = 2, major_text = 3, major_array = 4,
                      major_map = 5 };
constexpr char tag_epoch_time = '\xC1';

// The largest head: initial byte and an 8-byte argument.
constexpr std::size_t max_head = 9;

// write_cbor_head into raw room; returns the end.
char* put_head(char* p, std::uint8_t major, std::uint64_t argument) {
    const auto type_bits = static_cast<unsigned char>(major << 5);
    int bytes;
    if (argument < 24) {
        *p++ = static_cast<char>(type_bits | argument);
        return p;
    } else if (argument <= 0xFF) {
        *p++ = static_cast<char>(type_bits | 24);
        bytes = 1;
    } else if (argument <= 0xFFFF) {
        *p++ = static_cast<char>(type_bits | 25);
        bytes = 2;
    } else if (argument <= 0xFFFFFFFF) {
        *p++ = static_cast<char>(type_bits | 26);
        bytes = 4;
    } else {
        *p++ = static_cast<char>(type_bits | 27);
        bytes = 8;
    }
    for (int i = bytes - 1; i >= 0; --i) p[i] = static_cast<char>((argument >> (8 * (bytes - 1 - i))) & 0xFF);
    return p + bytes;
}

char* put_signed(char* p, std::int64_t v) {
    return v >= 0 ? put_head(p, major_unsigned, static_cast<std::uint64_t>(v))
                  : put_head(p, major_negative, ~static_cast<std::uint64_t>(v));
}

char* put(char* p, std::string_view s) {
    std::memcpy(p, s.data(), s.size());
    return p + s.size();
}

std::string text_of(std::string_view s) {
    std::string out;
    codec::write_cbor_text(s, out);
    return out;
}

// The constant runs of a record map, each key as a CBOR text string.
struct record_keys {
    std::string open_plain = head(major_map, 4) + text_of("ApproximateArrivalTimestamp") + tag_epoch_time;
    std::string open_kms = head(major_map, 5) + text_of("ApproximateArrivalTimestamp") + tag_epoch_time;
    std::string data = text_of("Data");
    std::string kms = text_of("EncryptionType") + text_of("KMS");
    std::string partition_key = text_of("PartitionKey");
    std::string sequence_number = text_of("SequenceNumber");

    static std::string head(std::uint8_t major, std::uint64_t argument) {
        std::string out;
        codec::write_cbor_head(major, argument, out);
        return out;
    }
};

const record_keys& keys() {
    static const record_keys k;
    return k;
}

}  // namespace

cbor_records_writer::cbor_records_writer(std::string& out, std::uint64_t shard_created_s, std::uint32_t shard_index,
                                         std::size_t expected_records)
    : out_(out), used_(out.size()), expected_(std::max<std::size_t>(expected_records, 1)),
      sequence_(shard_created_s, shard_index) {}

char* cbor_records_writer::room(std::size_t n) {
    if (used_ + n > out_.size()) {
        // As the JSON writer: the first record sizes the buffer for the
        // batch, with a quarter more for keys of varying length, and it
        // then grows in steps (each resize only touches what it adds).
        constexpr std::size_t max_estimate = 16u << 20;
        constexpr std::size_t step = 256u << 10;
        if (count_ == 0) out_.reserve(used_ + std::min(n * expected_ / 4 * 5, max_estimate) + 4096);
        out_.resize(std::max(used_ + n, std::min(out_.capacity(), used_ + std::max(n, step))));
    }
    char* p = out_.data() + used_;
    used_ += n;
    return p;
}

void cbor_records_writer::add(const storage::record_view& r) {
    const record_keys& k = keys();
    std::string_view key = r.partition_key;
    if (codec::utf8_valid_prefix(key) != key.size()) {
        // What write_cbor_text writes: the repaired text and its length.
        repaired_key_.clear();
        codec::append_utf8_replacing_invalid(key, repaired_key_);
        key = repaired_key_;
    }
    const std::string_view sequence = sequence_.next(r.counter, std::uint64_t(r.arrival_ms / 1000));
    const std::string& open = r.encrypted ? k.open_kms : k.open_plain;
    const std::size_t size = open.size() + max_head + k.data.size() + max_head + r.data.size() +
                             (r.encrypted ? k.kms.size() : 0) + k.partition_key.size() + max_head + key.size() +
                             k.sequence_number.size() + max_head + sequence.size();
    char* const start = room(size);
    char* p = put(start, open);
    p = put_signed(p, r.arrival_ms);
    p = put(p, k.data);
    p = put_head(p, major_bytes, r.data.size());
    p = put(p, r.data);
    if (r.encrypted) p = put(p, k.kms);
    p = put(p, k.partition_key);
    p = put_head(p, major_text, key.size());
    p = put(p, key);
    p = put(p, k.sequence_number);
    p = put_head(p, major_text, sequence.size());
    p = put(p, sequence);
    used_ -= size - std::size_t(p - start);
    ++count_;
}

void append_cbor_records(std::span<const storage::record_view> records, std::uint64_t shard_created_s,
                         std::uint32_t shard_index, std::string& out) {
    codec::write_cbor_head(major_array, records.size(), out);
    cbor_records_writer writer(out, shard_created_s, shard_index, records.size());
    for (const auto& r : records) writer.add(r);
    writer.finish();
}

std::string get_records_cbor(const std::optional<nlohmann::json>& children, std::int64_t millis_behind,
                             const std::string& next_iterator, std::string records, std::size_t count) {
    std::string head;
    head.reserve(64 + next_iterator.size());
    codec::write_cbor_head(major_map, 3, head);
    if (children) {
        codec::write_cbor_text("ChildShards", head);
        codec::write_cbor(*children, head);
    }
    codec::write_cbor_text("MillisBehindLatest", head);
    char number[max_head];
    head.append(number, std::size_t(put_signed(number, millis_behind) - number));
    if (!children) {
        codec::write_cbor_text("NextShardIterator", head);
        codec::write_cbor_text(next_iterator, head);
    }
    codec::write_cbor_text("Records", head);
    codec::write_cbor_head(major_array, count, head);
    records.insert(0, head);
    return records;
}

std::string put_record_cbor(std::string_view encryption_type, std::string_view sequence, std::string_view shard_id) {
    std::string out;
    out.reserve(128);
    codec::write_cbor_head(major_map, 3, out);
    codec::write_cbor_text("EncryptionType", out);
    codec::write_cbor_text(encryption_type, out);
    codec::write_cbor_text("SequenceNumber", out);
    codec::write_cbor_text(sequence, out);
    codec::write_cbor_text("ShardId", out);
    codec::write_cbor_text(shard_id, out);
    return out;
}

void put_records_cbor_head(std::string_view encryption_type, std::size_t failed, std::size_t entries,
                           std::string& out) {
    codec::write_cbor_head(major_map, 3, out);
    codec::write_cbor_text("EncryptionType", out);
    codec::write_cbor_text(encryption_type, out);
    codec::write_cbor_text("FailedRecordCount", out);
    codec::write_cbor_head(major_unsigned, failed, out);
    codec::write_cbor_text("Records", out);
    codec::write_cbor_head(major_array, entries, out);
}

void put_records_cbor_success(std::string_view sequence, std::string_view shard_id, std::string& out) {
    static const std::string open = [] {
        std::string s;
        codec::write_cbor_head(major_map, 2, s);
        codec::write_cbor_text("SequenceNumber", s);
        return s;
    }();
    static const std::string shard_key = text_of("ShardId");
    out.append(open);
    codec::write_cbor_text(sequence, out);
    out.append(shard_key);
    codec::write_cbor_text(shard_id, out);
}

void put_records_cbor_failure(std::string_view error_code, std::string_view message, std::string& out) {
    codec::write_cbor_head(major_map, 2, out);
    codec::write_cbor_text("ErrorCode", out);
    codec::write_cbor_text(error_code, out);
    codec::write_cbor_text("ErrorMessage", out);
    codec::write_cbor_text(message, out);
}

}  // namespace kinesd::actions
