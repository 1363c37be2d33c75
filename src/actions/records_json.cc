#include "actions/records_json.h"

#include <cstring>

#include "codec/json_writer.h"
#include "common/base64.h"

namespace kinesd::actions {

// What a record adds to an answer: its data in base64, its key, and the
// members around them (a 56-digit sequence number, the arrival time, the
// names). Counted instead of the data alone because a 100-byte record
// takes about 330 bytes of text: 64 readers of small records held three
// times the budget.
std::size_t answer_cost(const storage::record_view& r) {
    constexpr std::size_t members = 150;
    return base64::encoded_size(r.data.size()) + r.partition_key.size() + members;
}

bool plain_json_text(std::string_view s) {
    for (const char ch : s) {
        const auto c = static_cast<unsigned char>(ch);
        if (c < 0x20 || c >= 0x80 || c == '"' || c == '\\') return false;
    }
    return true;
}

void records_writer::add(const storage::record_view& r) {
    if (count_ == 0) limit_ = std::min(limit_, max_cost_ / answer_cost(r) + 1);
    if (r.arrival_ms != timestamp_ms_ || timestamp_.empty()) {
        timestamp_.clear();
        codec::write_epoch_seconds(r.arrival_ms, timestamp_);
        timestamp_ms_ = r.arrival_ms;
    }
    const std::string_view sequence = sequence_.next(r.counter, std::uint64_t(r.arrival_ms / 1000));
    std::string_view key = r.partition_key;
    std::size_t key_size = key.size() + 2;
    if (!plain_json_text(key)) {
        escaped_key_.clear();
        codec::write_json_string(key, escaped_key_);
        key = escaped_key_;
        key_size = key.size();
    }

    static constexpr std::string_view open = "{\"ApproximateArrivalTimestamp\":";
    static constexpr std::string_view data = ",\"Data\":\"";
    static constexpr std::string_view kms = "\",\"EncryptionType\":\"KMS";
    static constexpr std::string_view partition_key = "\",\"PartitionKey\":";
    static constexpr std::string_view sequence_number = ",\"SequenceNumber\":\"";
    const std::size_t size = (count_ ? 1 : 0) + open.size() + timestamp_.size() + data.size() +
                             base64::encoded_size(r.data.size()) + (r.encrypted ? kms.size() : 0) +
                             partition_key.size() + key_size + sequence_number.size() + sequence.size() + 2;
    char* p = room(size);
    if (count_) *p++ = ',';
    p = put(p, open);
    p = put(p, timestamp_);
    p = put(p, data);
    p = base64::encode_raw(p, r.data.data(), r.data.size());
    if (r.encrypted) p = put(p, kms);
    p = put(p, partition_key);
    if (key.data() == r.partition_key.data()) {
        *p++ = '"';
        p = put(p, key);
        *p++ = '"';
    } else {
        p = put(p, key);
    }
    p = put(p, sequence_number);
    p = put(p, sequence);
    *p++ = '"';
    *p++ = '}';
    ++count_;
}

}  // namespace kinesd::actions
