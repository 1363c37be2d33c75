// The opaque identifiers clients hand back: shard iterators, paging tokens,
// sequence numbers and shard ids. Parsing arbitrary text must never crash,
// and whatever the printers produce must parse back to the same fields.
//
// The first byte picks what the rest of the input is: text for a parser, or
// the raw fields for an encode-then-parse round trip.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>

#include "common/base64.h"
#include "streams/encoding.h"

namespace {

using namespace kinesd::encoding;

constexpr std::string_view secret = "0123456789abcdef0123456789abcdef";
constexpr std::string_view other_secret = "fedcba9876543210fedcba9876543210";

[[noreturn]] void finding(const char* what) {
    std::fprintf(stderr, "FINDING: %s\n", what);
    std::abort();
}

// Reads fixed-width fields from the input, zero-filling past its end.
struct reader {
    const std::uint8_t* p;
    std::size_t n;
    std::uint64_t u64(int bytes = 8) {
        std::uint64_t v = 0;
        for (int i = 0; i < bytes; ++i) {
            v = (v << 8) | (n ? *p : 0);
            if (n) ++p, --n;
        }
        return v;
    }
    std::string_view rest() { return {reinterpret_cast<const char*>(p), n}; }
};

void parse_everything(std::string_view text) {
    if (auto it = parse_shard_iterator(text, secret)) {
        // Only a text we signed can verify; re-signing it must give the same text.
        if (shard_iterator(*it, secret) != text) finding("accepted iterator does not re-encode to itself");
    }
    if (auto t = parse_paging_token(text, secret)) {
        if (paging_token(t->payload, t->issued_ms, secret) != text)
            finding("accepted paging token does not re-encode to itself");
    }
    if (auto seq = parse_sequence_number(text)) {
        if (sequence_number(*seq) != text) finding("accepted sequence number does not re-encode to itself");
    }
    if (auto id = parse_shard_id(text)) {
        // The loose forms resolve to the index whose canonical id parses the same.
        if (parse_shard_id(shard_id(*id)) != id) finding("shard id does not round-trip");
    }
}

void round_trip(reader r) {
    iterator_fields it;
    it.issued_ms = std::int64_t(r.u64());
    it.stream_uid = r.u64();
    it.shard_index = std::uint32_t(r.u64(4));
    it.next_counter = r.u64();
    it.stream_name = std::string(r.rest());
    // An empty name is never issued (stream names are 1-128 characters).
    if (!it.stream_name.empty()) {
        std::string text = shard_iterator(it, secret);
        auto back = parse_shard_iterator(text, secret);
        if (!back) finding("issued iterator does not parse");
        if (back->issued_ms != it.issued_ms || back->stream_uid != it.stream_uid ||
            back->shard_index != it.shard_index || back->next_counter != it.next_counter ||
            back->stream_name != it.stream_name)
            finding("iterator fields change in a round trip");
        if (parse_shard_iterator(text, other_secret)) finding("iterator verifies under another secret");
        // Flipping any one bit of the decoded bytes must break the MAC.
        std::string raw;
        if (!kinesd::base64::decode(text, raw)) finding("iterator is not base64");
        std::size_t bit = std::size_t(it.stream_uid % (raw.size() * 8));
        raw[bit / 8] = char(raw[bit / 8] ^ (1 << (bit % 8)));
        if (parse_shard_iterator(kinesd::base64::encode(raw), secret)) finding("tampered iterator verifies");
    }

    std::string payload(r.rest());
    std::string token = paging_token(payload, it.issued_ms, secret);
    auto t = parse_paging_token(token, secret);
    if (!t || t->payload != payload || t->issued_ms != it.issued_ms) finding("paging token does not round-trip");
    if (parse_paging_token(token, other_secret)) finding("paging token verifies under another secret");

    sequence_fields f;
    // The printed layout keeps 36 bits of each time.
    f.shard_created_s = std::uint64_t(it.issued_ms) & ((1ULL << 36) - 1);
    f.arrival_s = it.next_counter & ((1ULL << 36) - 1);
    f.shard_index = it.shard_index;
    f.counter = it.stream_uid;
    std::string seq = sequence_number(f);
    auto back = parse_sequence_number(seq);
    if (!back) finding("printed sequence number does not parse");
    if (back->shard_created_s != f.shard_created_s || back->arrival_s != f.arrival_s ||
        back->shard_index != f.shard_index || back->counter != f.counter)
        finding("sequence fields change in a round trip");
    // Same shard, larger counter: larger number, as equal-length strings.
    if (f.counter < UINT64_MAX) {
        sequence_fields g = f;
        ++g.counter;
        std::string next = sequence_number(g);
        if (next.size() != seq.size() || !(seq < next)) finding("sequence numbers do not grow with the counter");
    }

    if (parse_shard_id(shard_id(f.shard_index)) != f.shard_index) finding("shard id does not round-trip");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size == 0) return 0;
    if (data[0] & 1)
        round_trip(reader{data + 1, size - 1});
    else
        parse_everything(std::string_view(reinterpret_cast<const char*>(data + 1), size - 1));
    return 0;
}
