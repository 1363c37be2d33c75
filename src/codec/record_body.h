#pragma once
// A single-pass reader for the request bodies of the record-writing actions
// (PutRecords, PutRecord, Firehose PutRecordBatch and PutRecord), which is
// where a busy server spends its CPU: no DOM, no per-member allocation, every
// blob decoded where it stands in the body, so a request holds its records
// once, not as text and again as bytes.
//
// It reads only a strict subset of JSON that every parser reads the same way:
// the members the layout names, each at most once, whose values are strings
// of printable ASCII without escapes (blobs: valid padded base64), objects
// and arrays where the layout has them, and whitespace. Anything else
// (escapes, non-ASCII, null, numbers, unknown or repeated members, bad base64)
// makes it return false without judging the body: the caller then runs the
// general decoder and validation, which accept or word the error exactly as
// they always did. So nothing is ever refused here.
#include <array>
#include <cstddef>
#include <deque>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace kinesd::codec {

inline constexpr std::size_t max_body_members = 6;
inline constexpr std::size_t max_record_members = 3;

struct body_member {
    std::string_view name;
    bool blob = false;  // base64 text on the wire; read as its decoded bytes
};

// Which members a body may hold. Either `records` names a list of objects
// ("Records") or `record` names one object ("Record"), or neither.
struct body_layout {
    std::vector<body_member> members;  // at most max_body_members
    std::string_view records;
    std::string_view record;
    std::vector<body_member> record_members;  // at most max_record_members
};

using record_values = std::array<std::optional<std::string_view>, max_record_members>;

struct record_body {
    // The request body; every value below points into it. Blobs are decoded
    // over their own base64, so after a successful read the text is no
    // longer the body that came in (restore_text gives it back).
    std::string text;
    // Values by position in the layout; nullopt when the member is absent.
    std::array<std::optional<std::string_view>, max_body_members> members;
    bool has_records = false;  // the list (or the single object) was present
    std::vector<record_values> records;
    // Strings a CBOR body sent in chunks (indefinite length), joined; their
    // values point here instead of into text. A deque, so none moves.
    std::deque<std::string> joined;
};

// Reads body.text. False means "not sure": body.text is left as it was and
// the other fields are unspecified.
bool read_record_body(const body_layout& layout, record_body& body);

// Puts the base64 of every blob back, so body.text is the body as it came
// in, for a caller that hands an accepted body to the general decoder after
// all. The values are unspecified afterwards.
void restore_text(const body_layout& layout, record_body& body);

}  // namespace kinesd::codec
