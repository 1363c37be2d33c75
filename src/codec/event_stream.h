#pragma once
// AWS event-stream framing (application/vnd.amazon.eventstream), the body of
// a SubscribeToShard answer: the one place that writes and reads its frames.
//
// A message is: total length (u32), headers length (u32), CRC-32 of those
// eight bytes, the headers, the payload, and a CRC-32 of everything before
// it. All integers are big-endian; the CRC is the IEEE one zlib computes. A
// header is a one-byte name length, the name, a one-byte value type and the
// value; the events kinesd sends only need string values (type 7: u16
// length, then UTF-8), and the reader skips every other type correctly.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace kinesd::codec::event_stream {

// Lengths of the fixed parts, and the limits the SDKs' readers enforce
// (botocore refuses headers over 128 KiB and payloads over 24 MiB).
inline constexpr std::size_t prelude_size = 12;
inline constexpr std::size_t trailer_size = 4;
inline constexpr std::size_t max_headers_size = 128 * 1024;
inline constexpr std::size_t max_payload_size = 24 * 1024 * 1024;

struct header {
    std::string_view name;
    std::string_view value;  // a string value (type 7)
};

// Appends one message. Names must be shorter than 256 bytes and values than
// 64 KiB; the payload must fit max_payload_size (the callers' events do).
void append_message(std::string& out, const std::vector<header>& headers, std::string_view payload);

// `:message-type event`, `:event-type <type>`, `:content-type <content_type>`.
void append_event(std::string& out, std::string_view event_type, std::string_view content_type,
                  std::string_view payload);
// `:message-type exception`, `:exception-type <type>`, `:content-type`.
void append_exception(std::string& out, std::string_view exception_type, std::string_view content_type,
                      std::string_view payload);

// ---- reading (tests and tools; the server only writes)
struct message {
    // String-valued headers as text; other types as their raw value bytes.
    std::vector<std::pair<std::string, std::string>> headers;
    std::string payload;
    const std::string* find(std::string_view name) const;
};
enum class read_status { ok, incomplete, corrupt };
// Reads the message at the start of `in`. On ok, `used` is its length.
read_status read_message(std::string_view in, message& out, std::size_t& used);

}  // namespace kinesd::codec::event_stream
