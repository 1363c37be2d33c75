#pragma once
// The one place the stored layout of a record in a shard stream is written
// and read. A JetStream message's payload is the whole frame; it carries no
// headers of ours but Nats-Msg-Id (set by the publisher), so a partition key
// (any UTF-8) never meets the header syntax.
//
// Frame: byte 0 is the format marker 0xD0 with flags in its low four bits
// (bit 0: the record was written to a KMS-encrypted stream); then the arrival
// time in epoch milliseconds as 8 bytes big-endian; then the partition key's
// length as a varint (LEB128), the key, and the data up to the end.
//
// Why the arrival time travels in the frame rather than being the stored
// message's timestamp: the sequence number PutRecords prints carries the
// arrival second, and GetRecords must print the same one. The PubAck names
// the sequence but no time, and fetching every stored message back to learn
// its timestamp would double the traffic of a put. The publisher stamps the
// time (its clock, never below the shard's last arrival) before publishing;
// a republish after a timeout sends the same bytes, so whichever copy is
// stored, the time is the one the put answered with.
#include <cstdint>
#include <string>
#include <string_view>

namespace kinesd::storage::jetstream {

struct record_frame {
    std::int64_t arrival_ms = 0;
    bool encrypted = false;
    std::string_view partition_key;
    std::string_view data;
};

constexpr unsigned char frame_marker = 0xD0;
constexpr unsigned char frame_marker_mask = 0xF0;
constexpr unsigned char frame_flag_encrypted = 0x01;

// Appends the frame of one record to `out`.
void encode_record_frame(std::string& out, std::int64_t arrival_ms, std::string_view partition_key,
                         std::string_view data, bool encrypted);
std::size_t record_frame_size(std::size_t partition_key_size, std::size_t data_size);
// false when the bytes are not a frame (a foreign message on the subject, or
// a truncated one); `out` then views nothing.
bool decode_record_frame(std::string_view bytes, record_frame& out);

}  // namespace kinesd::storage::jetstream
