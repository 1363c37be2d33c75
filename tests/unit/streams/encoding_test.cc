#include "streams/encoding.h"

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <random>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "common/base64.h"

namespace kinesd::encoding {
namespace {

// ---- independent helpers

uint128 from_hex(std::string_view hex) {
    uint128 v = 0;
    for (char c : hex) {
        int d = c <= '9' ? c - '0' : c - 'a' + 10;
        v = (v << 4) | uint128(d);
    }
    return v;
}

// Hex digits to decimal with digit-string arithmetic only.
std::string hex_to_decimal(std::string_view hex) {
    std::string digits = "0";
    for (char c : hex) {
        int carry = c <= '9' ? c - '0' : c - 'a' + 10;
        for (auto it = digits.rbegin(); it != digits.rend(); ++it) {
            int d = (*it - '0') * 16 + carry;
            *it = char('0' + d % 10);
            carry = d / 10;
        }
        while (carry) {
            digits.insert(digits.begin(), char('0' + carry % 10));
            carry /= 10;
        }
    }
    auto first = digits.find_first_not_of('0');
    return first == std::string::npos ? "0" : digits.substr(first);
}

std::string hex_field(std::uint64_t v, int nibbles) {
    std::string out(std::size_t(nibbles), '0');
    for (int i = nibbles - 1; i >= 0; --i) {
        out[std::size_t(i)] = "0123456789abcdef"[v & 0xf];
        v >>= 4;
    }
    return out;
}

// The documented 47-nibble layout, spelled out field by field.
std::string layout_hex(int version, std::uint64_t created_s, std::uint32_t index, std::uint64_t counter,
                       int unknown_byte, std::uint64_t arrival_s, int trailer, int index_nibble = -1) {
    return hex_field(std::uint64_t(version), 1) + hex_field(created_s, 9) +
           hex_field(index_nibble < 0 ? index & 0xf : std::uint64_t(index_nibble), 1) + hex_field(counter, 16) +
           hex_field(std::uint64_t(unknown_byte), 2) + hex_field(arrival_s, 9) + hex_field(index, 8) +
           hex_field(std::uint64_t(trailer), 1);
}

bool big_less(const std::string& a, const std::string& b) {
    return a.size() != b.size() ? a.size() < b.size() : a < b;
}

std::int64_t epoch_seconds(int y, unsigned m, unsigned d, int hh, int mm, int ss) {
    using namespace std::chrono;
    auto midnight = sys_days(year(y) / month(m) / day(d));
    return duration_cast<seconds>(midnight.time_since_epoch()).count() + hh * 3600 + mm * 60 + ss;
}

// ---- shard ids

TEST(ShardId, PrintsTwelveZeroPaddedDigits) {
    EXPECT_EQ(shard_id(0), "shardId-000000000000");
    EXPECT_EQ(shard_id(1), "shardId-000000000001");
    EXPECT_EQ(shard_id(123456), "shardId-000000123456");
    EXPECT_EQ(shard_id(4294967295u), "shardId-004294967295");
}

TEST(ShardId, ParsesCanonicalAndLooseForms) {
    for (std::uint32_t index : {0u, 1u, 9u, 10u, 499u, 1000000u, 4294967295u}) {
        auto parsed = parse_shard_id(shard_id(index));
        ASSERT_TRUE(parsed.has_value()) << index;
        EXPECT_EQ(*parsed, index);
    }
    EXPECT_EQ(parse_shard_id("shardId-1"), std::optional<std::uint32_t>(1));
    EXPECT_EQ(parse_shard_id("shard-1"), std::optional<std::uint32_t>(1));
    EXPECT_EQ(parse_shard_id("1"), std::optional<std::uint32_t>(1));
    EXPECT_EQ(parse_shard_id("0"), std::optional<std::uint32_t>(0));
    EXPECT_EQ(parse_shard_id("shardId-000000000042"), std::optional<std::uint32_t>(42));
}

TEST(ShardId, RejectsTextWithoutAnIndex) {
    EXPECT_FALSE(parse_shard_id("").has_value());
    EXPECT_FALSE(parse_shard_id("shardId-").has_value());
    EXPECT_FALSE(parse_shard_id("shardId-abc").has_value());
    EXPECT_FALSE(parse_shard_id("shardId-1x").has_value());
    EXPECT_FALSE(parse_shard_id("shardId-4294967296").has_value());  // above uint32
    EXPECT_FALSE(parse_shard_id("shardId-0000000000001").has_value());  // 13 digits
}

// ---- partition hash

TEST(PartitionHash, IsBigEndianMd5) {
    // RFC 1321 test suite digests.
    EXPECT_TRUE(partition_hash("") == from_hex("d41d8cd98f00b204e9800998ecf8427e"));
    EXPECT_TRUE(partition_hash("a") == from_hex("0cc175b9c0f1b6a831c399e269772661"));
    EXPECT_TRUE(partition_hash("abc") == from_hex("900150983cd24fb0d6963f7d28e17f72"));
    EXPECT_TRUE(partition_hash("message digest") == from_hex("f96b697d7cb7938d525a2f31aaf161d0"));
    EXPECT_EQ(to_decimal(partition_hash("")), "281949768489412648962353822266799178366");
}

TEST(PartitionHash, HashesUtf8Bytes) {
    // MD5 of the two bytes C3 A9 ("é" in UTF-8).
    EXPECT_TRUE(partition_hash("\xc3\xa9") == from_hex("66ddcd97cfdeabb2f6fb8a999b4bc76f"));
}

// ---- sequence numbers

TEST(SequenceNumber, MatchesTheDocumentedBitLayout) {
    const sequence_fields cases[] = {
        {1572297165, 1, 0, 1572297165},
        {1700000000, 0, 1, 1700000123},
        {1700000000, 17, 123456789, 1700000999},
        {0, 0, 0, 0},
        {(1ULL << 36) - 1, 4294967295u, ~0ULL, (1ULL << 36) - 1},
    };
    for (const auto& f : cases) {
        std::string expected = hex_to_decimal(layout_hex(2, f.shard_created_s, f.shard_index, f.counter, 0, f.arrival_s, 2));
        EXPECT_EQ(sequence_number(f), expected) << "counter " << f.counter;
    }
}

TEST(SequenceNumber, AlwaysFiftySixDigits) {
    std::mt19937_64 rng(9);
    for (int i = 0; i < 2000; ++i) {
        sequence_fields f{rng() & ((1ULL << 36) - 1), std::uint32_t(rng()), rng(), rng() & ((1ULL << 36) - 1)};
        if (i % 4 == 0) f.counter = rng() % 1000;
        std::string s = sequence_number(f);
        ASSERT_EQ(s.size(), 56u) << s;
        ASSERT_NE(s[0], '0');
        ASSERT_EQ(s.find_first_not_of("0123456789"), std::string::npos) << s;
    }
    EXPECT_EQ(sequence_number({}).size(), 56u);
}

TEST(SequenceNumber, RoundTripsEveryField) {
    std::mt19937_64 rng(31);
    std::vector<sequence_fields> cases = {
        {0, 0, 0, 0},
        {1572297165, 1, 0, 1572297165},
        {(1ULL << 36) - 1, 4294967295u, ~0ULL, (1ULL << 36) - 1},
        {1700000000, 15, ending_counter, 1700000000},
        {1700000000, 16, starting_counter, 1700000000},
    };
    for (int i = 0; i < 1000; ++i)
        cases.push_back({rng() & ((1ULL << 36) - 1), std::uint32_t(rng()), rng(), rng() & ((1ULL << 36) - 1)});
    for (const auto& f : cases) {
        std::string s = sequence_number(f);
        auto parsed = parse_sequence_number(s);
        ASSERT_TRUE(parsed.has_value()) << s;
        EXPECT_EQ(parsed->shard_created_s, f.shard_created_s) << s;
        EXPECT_EQ(parsed->shard_index, f.shard_index) << s;
        EXPECT_EQ(parsed->counter, f.counter) << s;
        EXPECT_EQ(parsed->arrival_s, f.arrival_s) << s;
    }
}

TEST(SequenceNumber, GrowsStrictlyWithTheCounter) {
    std::vector<std::uint64_t> counters = {starting_counter, 1, 2, 9, 10, 99, 100, 255, 256, 65535, 65536,
                                           0xffffffffULL, 0x100000000ULL, 1ULL << 62, ending_counter};
    std::mt19937_64 rng(5);
    for (int i = 0; i < 200; ++i) counters.push_back(rng() >> 1);
    std::sort(counters.begin(), counters.end());
    counters.erase(std::unique(counters.begin(), counters.end()), counters.end());
    // Arrival times grow along with the counter, as they do in a shard.
    const std::uint64_t created = 1600000000;
    std::string previous;
    for (std::size_t i = 0; i < counters.size(); ++i) {
        std::string s = sequence_number({created, 3, counters[i], created + i});
        if (!previous.empty()) {
            EXPECT_TRUE(big_less(previous, s)) << previous << " !< " << s;
            EXPECT_LT(previous, s);
        }
        previous = s;
    }
}

TEST(SequenceNumber, StartingAndEndingBoundEveryRecord) {
    const std::uint64_t created = 1600000000;
    std::string start = sequence_number({created, 7, starting_counter, created});
    std::string end = sequence_number({created, 7, ending_counter, created + 86400});
    for (std::uint64_t counter : {std::uint64_t(1), std::uint64_t(2), std::uint64_t(1000), ending_counter - 1}) {
        // Arrival times sit below the counter, so a record that arrived
        // after the ending number's time still sorts below it.
        std::string s = sequence_number({created, 7, counter, created + 999999});
        EXPECT_LT(start, s);
        EXPECT_LT(s, end);
    }
}

TEST(SequenceNumber, DecodesTheAwsSample) {
    const std::string sample = "49600871682979337187563555549332609155523708941634633746";
    const auto expected_time = std::uint64_t(epoch_seconds(2019, 10, 28, 21, 12, 45));
    ASSERT_EQ(expected_time, 1572297165u);
    auto parsed = parse_sequence_number(sample);
    ASSERT_TRUE(parsed.has_value());
    EXPECT_EQ(parsed->shard_index, 1u);
    EXPECT_EQ(parsed->counter, 0u);
    EXPECT_EQ(parsed->shard_created_s, expected_time);
    EXPECT_EQ(parsed->arrival_s, expected_time);
    EXPECT_EQ(sequence_number(*parsed), sample);
}

TEST(SequenceNumber, RejectsMalformedText) {
    const std::string good = sequence_number({1600000000, 5, 42, 1600000001});
    ASSERT_TRUE(parse_sequence_number(good).has_value());

    EXPECT_FALSE(parse_sequence_number("").has_value());
    EXPECT_FALSE(parse_sequence_number("0").has_value());
    EXPECT_FALSE(parse_sequence_number(good.substr(0, 55)).has_value());
    EXPECT_FALSE(parse_sequence_number(good + "0").has_value());
    std::string leading_zero = "0" + good.substr(1);
    EXPECT_FALSE(parse_sequence_number(leading_zero).has_value());
    for (std::size_t pos : {std::size_t(0), std::size_t(20), std::size_t(55)}) {
        for (char bad : {'a', ' ', '-', '.'}) {
            std::string s = good;
            s[pos] = bad;
            EXPECT_FALSE(parse_sequence_number(s).has_value()) << s;
        }
    }
    EXPECT_FALSE(parse_sequence_number(std::string(56, '9')).has_value());
}

TEST(SequenceNumber, RejectsWrongLayoutMarkers) {
    auto text = [](int version, int unknown_byte, int trailer, int index_nibble) {
        return hex_to_decimal(layout_hex(version, 1600000000, 5, 42, unknown_byte, 1600000001, trailer, index_nibble));
    };
    ASSERT_TRUE(parse_sequence_number(text(2, 0, 2, 5)).has_value());
    std::string version3 = text(3, 0, 2, 5);
    ASSERT_EQ(version3.size(), 56u);
    EXPECT_FALSE(parse_sequence_number(version3).has_value()) << "version nibble 3";
    EXPECT_FALSE(parse_sequence_number(text(2, 0, 3, 5)).has_value()) << "trailing nibble 3";
    EXPECT_FALSE(parse_sequence_number(text(2, 0, 0, 5)).has_value()) << "trailing nibble 0";
    EXPECT_FALSE(parse_sequence_number(text(2, 1, 2, 5)).has_value()) << "unknown byte not zero";
    EXPECT_FALSE(parse_sequence_number(text(2, 0, 2, 6)).has_value()) << "index nibble disagrees";
}

// ---- shard iterators

const std::string secret = "0123456789abcdef0123456789abcdef";

iterator_fields sample_iterator(std::string name = std::string(128, 'n')) {
    iterator_fields f;
    f.issued_ms = 1700000000123;
    f.stream_uid = 0x0123456789abcdefULL;
    f.shard_index = 77;
    f.next_counter = 0xfedcba9876543210ULL;
    f.stream_name = std::move(name);
    return f;
}

void expect_same(const iterator_fields& a, const iterator_fields& b) {
    EXPECT_EQ(a.issued_ms, b.issued_ms);
    EXPECT_EQ(a.stream_uid, b.stream_uid);
    EXPECT_EQ(a.shard_index, b.shard_index);
    EXPECT_EQ(a.next_counter, b.next_counter);
    EXPECT_EQ(a.stream_name, b.stream_name);
}

TEST(ShardIterator, RoundTrips) {
    std::vector<iterator_fields> cases = {sample_iterator(), sample_iterator("s"),
                                          sample_iterator("my-stream_1.x")};
    iterator_fields zeros;
    zeros.stream_name = "z";
    cases.push_back(zeros);
    iterator_fields maxed = sample_iterator();
    maxed.stream_uid = ~0ULL;
    maxed.shard_index = ~0u;
    maxed.next_counter = ~0ULL;
    maxed.issued_ms = INT64_MAX;
    cases.push_back(maxed);
    for (const auto& f : cases) {
        std::string it = shard_iterator(f, secret);
        auto parsed = parse_shard_iterator(it, secret);
        ASSERT_TRUE(parsed.has_value()) << it;
        expect_same(*parsed, f);
    }
}

TEST(ShardIterator, FitsInFiveHundredTwelveCharacters) {
    std::string it = shard_iterator(sample_iterator(std::string(128, 'x')), secret);
    EXPECT_LE(it.size(), 512u);
    EXPECT_GE(it.size(), 1u);
}

TEST(ShardIterator, RejectsAnyTamperedByte) {
    std::string it = shard_iterator(sample_iterator("stream"), secret);
    std::string raw;
    ASSERT_TRUE(base64::decode(it, raw));
    for (std::size_t i = 0; i < raw.size(); ++i) {
        for (unsigned char flip : {0x01, 0x80}) {
            std::string changed = raw;
            changed[i] = char(static_cast<unsigned char>(changed[i]) ^ flip);
            EXPECT_FALSE(parse_shard_iterator(base64::encode(changed), secret).has_value())
                << "byte " << i << " flipped by " << int(flip);
        }
    }
    // Truncated or extended payloads.
    EXPECT_FALSE(parse_shard_iterator(base64::encode(raw.substr(0, raw.size() - 1)), secret).has_value());
    EXPECT_FALSE(parse_shard_iterator(base64::encode(raw + "x"), secret).has_value());
    EXPECT_FALSE(parse_shard_iterator(base64::encode(raw.substr(1)), secret).has_value());
}

TEST(ShardIterator, RejectsAnotherSecret) {
    std::string it = shard_iterator(sample_iterator(), secret);
    EXPECT_FALSE(parse_shard_iterator(it, "another secret").has_value());
    EXPECT_FALSE(parse_shard_iterator(it, "").has_value());
    std::string almost = secret;
    almost.back() = 'g';
    EXPECT_FALSE(parse_shard_iterator(it, almost).has_value());
}

TEST(ShardIterator, RejectsGarbage) {
    EXPECT_FALSE(parse_shard_iterator("", secret).has_value());
    EXPECT_FALSE(parse_shard_iterator("!!!!", secret).has_value());
    EXPECT_FALSE(parse_shard_iterator("not base64 at all", secret).has_value());
    EXPECT_FALSE(parse_shard_iterator("AAAA", secret).has_value());
    EXPECT_FALSE(parse_shard_iterator(base64::encode(std::string(200, '\x01')), secret).has_value());
    std::string it = shard_iterator(sample_iterator(), secret);
    EXPECT_FALSE(parse_shard_iterator(it.substr(0, it.size() - 4), secret).has_value());
    EXPECT_FALSE(parse_shard_iterator(it + "=", secret).has_value());
}

// ---- paging tokens

TEST(PagingToken, RoundTrips) {
    for (std::string payload : {std::string(), std::string("shardId-000000000007"), std::string("a\0b\xff", 4),
                                std::string(300, 'p')}) {
        for (std::int64_t issued : {std::int64_t(0), std::int64_t(1700000000123), INT64_MAX}) {
            std::string token = paging_token(payload, issued, secret);
            auto parsed = parse_paging_token(token, secret);
            ASSERT_TRUE(parsed.has_value()) << token;
            EXPECT_EQ(parsed->payload, payload);
            EXPECT_EQ(parsed->issued_ms, issued);
        }
    }
}

TEST(PagingToken, RejectsTamperingSecretsAndGarbage) {
    std::string token = paging_token("stream-7", 1700000000000, secret);
    std::string raw;
    ASSERT_TRUE(base64::decode(token, raw));
    for (std::size_t i = 0; i < raw.size(); ++i) {
        std::string changed = raw;
        changed[i] = char(static_cast<unsigned char>(changed[i]) ^ 0x04);
        EXPECT_FALSE(parse_paging_token(base64::encode(changed), secret).has_value()) << "byte " << i;
    }
    EXPECT_FALSE(parse_paging_token(token, "other").has_value());
    EXPECT_FALSE(parse_paging_token("", secret).has_value());
    EXPECT_FALSE(parse_paging_token("%%%%", secret).has_value());
    EXPECT_FALSE(parse_paging_token("AAAA", secret).has_value());
}

TEST(PagingToken, IsNotInterchangeableWithAnIterator) {
    std::string it = shard_iterator(sample_iterator("stream"), secret);
    EXPECT_FALSE(parse_paging_token(it, secret).has_value());
    std::string token = paging_token(std::string(40, 'q'), 1700000000000, secret);
    EXPECT_FALSE(parse_shard_iterator(token, secret).has_value());
}

TEST(SequenceStepper, PrintsWhatTheFullEncoderPrints) {
    // Runs of consecutive counters (the decimal-addition path), jumps, a new
    // arrival second, and counters whose step carries through many digits.
    const std::uint64_t starts[] = {1, 999, 123456789, (1ull << 32) - 3, UINT64_MAX - 40};
    for (const std::uint32_t index : {0u, 7u, 1000u}) {
        sequence_stepper stepper(1700000000, index);
        std::uint64_t arrival = 1700000100;
        for (const std::uint64_t start : starts) {
            for (std::uint64_t c = start; c < start + 30 && c >= start; ++c) {
                if (c % 11 == 0) ++arrival;
                std::string expected;
                append_sequence_number({1700000000, index, c, arrival}, expected);
                ASSERT_EQ(stepper.next(c, arrival), expected) << "counter " << c << " shard " << index;
            }
        }
    }
}


}  // namespace
}  // namespace kinesd::encoding
