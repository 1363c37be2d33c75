#include "codec/codec.h"

#include <cmath>
#include <cstdint>
#include <cstring>
#include <initializer_list>
#include <limits>
#include <random>
#include <string>

#include <gtest/gtest.h>

#include "common/base64.h"

namespace kinesd::codec {
namespace {

using json = nlohmann::json;

std::string bytes(std::initializer_list<int> values) {
    std::string out;
    for (int v : values) out.push_back(static_cast<char>(v));
    return out;
}

std::string hex(std::string_view s) {
    static const char* digits = "0123456789abcdef";
    std::string out;
    for (unsigned char c : s) {
        if (!out.empty()) out.push_back(' ');
        out.push_back(digits[c >> 4]);
        out.push_back(digits[c & 15]);
    }
    return out;
}

json binary(std::string_view s) { return json::binary(std::vector<std::uint8_t>(s.begin(), s.end())); }

// Asserts that decoding fails with a bare SerializationException.
void expect_serialization_error(wire_format f, std::string_view body) {
    try {
        const json value = decode(f, body);
        ADD_FAILURE() << "decoded to " << value.dump() << " from " << hex(body.substr(0, 64));
    } catch (const api_error& e) {
        EXPECT_EQ(e.status(), 400);
        EXPECT_EQ(e.type(), "SerializationException");
        EXPECT_FALSE(e.has_message());
    }
}

std::string nested_json(std::size_t depth) {
    return "{\"a\":" + std::string(depth - 1, '[') + std::string(depth - 1, ']') + "}";
}

// A map holding an array nested `depth - 1` deep: `depth` containers in all.
std::string nested_cbor(std::size_t depth) {
    std::string out = bytes({0xA1, 0x61, 'a'});
    out += std::string(depth - 1, '\x81');
    out.back() = '\x80';
    return out;
}

// ---- content types -------------------------------------------------------

TEST(CodecContentType, RecognisesBothWireFormats) {
    EXPECT_EQ(format_from_content_type("application/x-amz-json-1.1"), wire_format::json);
    EXPECT_EQ(format_from_content_type("application/x-amz-cbor-1.1"), wire_format::cbor);
    EXPECT_EQ(format_from_content_type("Application/X-Amz-JSON-1.1"), wire_format::json);
    EXPECT_EQ(format_from_content_type("APPLICATION/X-AMZ-CBOR-1.1"), wire_format::cbor);
    EXPECT_EQ(format_from_content_type("application/x-amz-json-1.1; charset=utf-8"), wire_format::json);
    EXPECT_EQ(format_from_content_type("application/x-amz-cbor-1.1;foo=bar"), wire_format::cbor);
    EXPECT_EQ(format_from_content_type(" application/x-amz-json-1.1 ;charset=UTF-8"), wire_format::json);
}

TEST(CodecContentType, RejectsOtherTypes) {
    for (const char* type : {"", "application/json", "application/x-amz-json-1.0", "application/cbor",
                             "application/x-amz-json-1.11", "application/x-amz-json-1", "text/plain",
                             "application/x-amz-json-1.1x", ";application/x-amz-json-1.1"}) {
        EXPECT_EQ(format_from_content_type(type), std::nullopt) << type;
    }
}

TEST(CodecContentType, ReplyTypeIsBare) {
    EXPECT_STREQ(content_type(wire_format::json), "application/x-amz-json-1.1");
    EXPECT_STREQ(content_type(wire_format::cbor), "application/x-amz-cbor-1.1");
}

// ---- is_timestamp_key ----------------------------------------------------

TEST(CodecTimestampKeys, KnownKeys) {
    for (const char* key : {"ApproximateArrivalTimestamp", "StreamCreationTimestamp", "ConsumerCreationTimestamp",
                            "CreateTimestamp", "LastUpdateTimestamp", "DeliveryStartTimestamp", "StartedAt",
                            "EndedAt", "EarliestAllowedEndAt", "Timestamp"}) {
        EXPECT_TRUE(is_timestamp_key(key)) << key;
    }
}

TEST(CodecTimestampKeys, NearMisses) {
    for (const char* key : {"", "timestamp", "Timestamps", "TimeStamp", "StreamName", "Data", "EndedAT",
                            "ApproximateArrivalTimestamP", "StartedAtX", "SequenceNumber", "MillisBehindLatest"}) {
        EXPECT_FALSE(is_timestamp_key(key)) << key;
    }
}

// ---- JSON decode ---------------------------------------------------------

TEST(CodecJsonDecode, ParsesObjects) {
    const json v = decode(wire_format::json, R"({"StreamName":"abc","ShardCount":2,"Tags":{"k":"v"},"X":null})");
    EXPECT_EQ(v["StreamName"], "abc");
    EXPECT_EQ(v["ShardCount"], 2);
    EXPECT_EQ(v["Tags"]["k"], "v");
    ASSERT_TRUE(v.contains("X")) << "null members are kept for the validation layer";
    EXPECT_TRUE(v["X"].is_null());
    EXPECT_TRUE(decode(wire_format::json, " {}\n").empty());
}

TEST(CodecJsonDecode, RejectsMalformedBodies) {
    for (const char* body : {"", " ", "[]", "[{}]", "\"s\"", "1", "null", "true", "{", "}", "{\"a\":}",
                             "{\"a\":1,}", "{}x", "{} {}", "{'a':1}", "{\"a\":01}", "{\"a\":\"\x01\"}",
                             "{/*c*/}", "\xEF\xBB"}) {
        expect_serialization_error(wire_format::json, body);
    }
    expect_serialization_error(wire_format::json, std::string("{\"a\":\"\xFF\"}"));
    expect_serialization_error(wire_format::json, std::string("{\"a\":1}\0", 8));
    // Out of double range: refused rather than turned into infinity.
    expect_serialization_error(wire_format::json, "{\"a\":1e400}");
    // nlohmann stops reading at a NUL; whatever follows must not slip through.
    expect_serialization_error(wire_format::json, std::string("{}\0garbage", 10));
    expect_serialization_error(wire_format::json, std::string("{\"a\":\"x\0\"}", 10));
}

TEST(CodecJsonDecode, CapsNesting) {
    EXPECT_NO_THROW(decode(wire_format::json, nested_json(max_nesting_depth)));
    expect_serialization_error(wire_format::json, nested_json(max_nesting_depth + 1));
    expect_serialization_error(wire_format::json, std::string(1'000'000, '['));
    expect_serialization_error(wire_format::json, "{\"a\":" + std::string(200'000, '{'));
}

TEST(CodecJsonDecode, BracketsInsideStringsDoNotCount) {
    const std::string deep_text(500, '[');
    const json v = decode(wire_format::json, "{\"a\":\"" + deep_text + "\\\"{{{\",\"b\":[[1]]}");
    EXPECT_EQ(v["a"], deep_text + "\"{{{");
    EXPECT_EQ(v["b"][0][0], 1);
}

// ---- CBOR decode ---------------------------------------------------------

TEST(CodecCborDecode, JacksonIndefiniteLengthMap) {
    const std::string body = bytes({0xBF, 0x6A, 'S', 't', 'r', 'e', 'a', 'm', 'N', 'a', 'm', 'e', 0x63, 'a', 'b', 'c', 0xFF});
    const json v = decode(wire_format::cbor, body);
    EXPECT_EQ(v, json({{"StreamName", "abc"}}));
}

TEST(CodecCborDecode, IndefiniteArraysAndStrings) {
    // {"Records": [_ {"Data": h'0102', "PartitionKey": (_ "p", "k")}]}
    const std::string body = bytes({0xBF, 0x67, 'R', 'e', 'c', 'o', 'r', 'd', 's', 0x9F, 0xBF, 0x64, 'D', 'a', 't',
                                    'a', 0x42, 0x01, 0x02, 0x6C, 'P', 'a', 'r', 't', 'i', 't', 'i', 'o', 'n', 'K',
                                    'e', 'y', 0x7F, 0x61, 'p', 0x61, 'k', 0xFF, 0xFF, 0xFF, 0xFF});
    const json v = decode(wire_format::cbor, body);
    ASSERT_TRUE(v["Records"].is_array());
    ASSERT_EQ(v["Records"].size(), 1u);
    EXPECT_EQ(v["Records"][0]["Data"], binary("\x01\x02"));
    EXPECT_EQ(v["Records"][0]["PartitionKey"], "pk");
}

TEST(CodecCborDecode, ByteStringsBecomeBinary) {
    const json v = decode(wire_format::cbor, bytes({0xA1, 0x64, 'D', 'a', 't', 'a', 0x43, 0x00, 0xFF, 0x7F}));
    ASSERT_TRUE(v["Data"].is_binary());
    EXPECT_EQ(v["Data"], binary(std::string("\x00\xFF\x7F", 3)));
}

TEST(CodecCborDecode, Tag1TimestampKeepsMilliseconds) {
    // What the Java SDKs send for GetShardIterator's Timestamp: c1 1b <int64 ms>.
    const std::string body = bytes({0xA1, 0x69, 'T', 'i', 'm', 'e', 's', 't', 'a', 'm', 'p', 0xC1, 0x1B, 0x00,
                                    0x00, 0x01, 0x4F, 0x8F, 0x21, 0xF2, 0xB3});
    const json v = decode(wire_format::cbor, body);
    EXPECT_EQ(v["Timestamp"], 1441215410867);
}

TEST(CodecCborDecode, OtherTagsAreDropped) {
    // Self-describe tag 55799 before the map, tag 0 on a string, tag 23 (one
    // byte, 0xd7) on a byte string, two stacked tags on an integer.
    const std::string body = bytes({0xD9, 0xD9, 0xF7, 0xA3, 0x61, 'a', 0xC0, 0x61, 'x', 0x61, 'b', 0xD7, 0x41, 0x05,
                                    0x61, 'c', 0xC1, 0xC6, 0x18, 0x2A});
    const json v = decode(wire_format::cbor, body);
    EXPECT_EQ(v["a"], "x");
    EXPECT_EQ(v["b"], binary("\x05"));
    EXPECT_EQ(v["c"], 42);

    // Tags inside indefinite containers, on an indefinite string and on a container.
    const std::string nested = bytes({0xBF, 0x61, 'L', 0x9F, 0xC1, 0x01, 0xD8, 0x20, 0x7F, 0x61, 'a', 0x61, 'b', 0xFF,
                                      0xC1, 0xC1, 0x80, 0xFF, 0xFF});
    EXPECT_EQ(decode(wire_format::cbor, nested), json::parse(R"({"L":[1,"ab",[]]})"));
}

TEST(CodecCborDecode, ScalarTypes) {
    // {"i": -500, "u": 2^32, "h": 1.5 (half), "d": 1.1, "t": true, "n": null}
    const std::string body = bytes({0xA6, 0x61, 'i', 0x39, 0x01, 0xF3, 0x61, 'u', 0x1B, 0, 0, 0, 1, 0, 0, 0, 0,
                                    0x61, 'h', 0xF9, 0x3E, 0x00, 0x61, 'd', 0xFB, 0x3F, 0xF1, 0x99, 0x99, 0x99,
                                    0x99, 0x99, 0x9A, 0x61, 't', 0xF5, 0x61, 'n', 0xF6});
    const json v = decode(wire_format::cbor, body);
    EXPECT_EQ(v["i"], -500);
    EXPECT_EQ(v["u"], 4294967296u);
    EXPECT_EQ(v["h"], 1.5);
    EXPECT_EQ(v["d"], 1.1);
    EXPECT_EQ(v["t"], true);
    EXPECT_TRUE(v["n"].is_null());
}

TEST(CodecCborDecode, EveryTruncationFails) {
    const std::string body = bytes({0xBF, 0x6A, 'S', 't', 'r', 'e', 'a', 'm', 'N', 'a', 'm', 'e', 0x63, 'a', 'b',
                                    'c', 0x64, 'D', 'a', 't', 'a', 0x42, 0x01, 0x02, 0x69, 'T', 'i', 'm', 'e', 's',
                                    't', 'a', 'm', 'p', 0xC1, 0x1B, 0, 0, 1, 0x4F, 0x8F, 0x21, 0xF2, 0xB3, 0xFF});
    ASSERT_NO_THROW(decode(wire_format::cbor, body));
    for (std::size_t len = 0; len < body.size(); ++len)
        expect_serialization_error(wire_format::cbor, body.substr(0, len));
}

TEST(CodecCborDecode, RejectsMalformedBodies) {
    const std::string cases[] = {
        bytes({0xFF}),                                   // break outside a container
        bytes({0xA1, 0x61, 'a', 0xFF}),                  // break where a value belongs (definite map)
        bytes({0xBF, 0x61, 'a', 0xFF}),                  // key without value
        bytes({0xA0, 0x00}),                             // trailing bytes
        bytes({0xA0, 0xA0}),                             // two top-level items
        bytes({0x80}),                                   // top-level array
        bytes({0x9F, 0xFF}),                             // top-level indefinite array
        bytes({0x61, 'a'}),                              // top-level string
        bytes({0x01}),                                   // top-level integer
        bytes({0xF6}),                                   // top-level null
        bytes({0xA1, 0x1C}),                             // reserved additional info 28
        bytes({0xA1, 0x61, 'a', 0x3F}),                  // indefinite negative integer
        bytes({0xA1, 0x61, 'a', 0xDF, 0x01}),            // indefinite tag
        bytes({0xA1, 0x01, 0x02}),                       // integer key
        bytes({0xA1, 0x41, 'a', 0x02}),                  // byte-string key
        bytes({0xA1, 0x61, 'a', 0x7F, 0x41, 'x', 0xFF}), // byte chunk in a text string
        bytes({0xA1, 0x61, 'a', 0x7F, 0x7F, 0xFF, 0xFF}),// nested indefinite chunk
        bytes({0xA1, 0x61, 'a', 0xC1}),                  // tag with nothing after it
        bytes({0xBF, 0x61, 'a', 0xC1, 0xFF}),            // tag followed by break
        bytes({0xA1, 0x61, 'a', 0x9B, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF}), // absurd array length
        bytes({0xBB, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF}),                  // absurd map length
        bytes({0xA1, 0x61, 'a', 0x5B, 0x7F, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF}), // absurd string length
        bytes({0xA1, 0x61, 'a', 0xF7}),                  // undefined
        bytes({0x7B, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF}),
        std::string("{\"a\":1}"),                        // JSON sent as CBOR
    };
    for (const auto& body : cases) expect_serialization_error(wire_format::cbor, body);
}

TEST(CodecCborDecode, RandomGarbageNeverEscapesAsAnotherError) {
    std::mt19937 rng(7);
    for (int round = 0; round < 20000; ++round) {
        std::string body(1 + rng() % 24, '\0');
        for (auto& c : body) c = static_cast<char>(rng() & 0xFF);
        body[0] = static_cast<char>(0xA0 | (rng() % 3));  // mostly start like a map to get past the first byte
        try {
            decode(wire_format::cbor, body);
        } catch (const api_error& e) {
            ASSERT_EQ(e.type(), "SerializationException");
        }
    }
}

TEST(CodecCborDecode, CapsNesting) {
    EXPECT_NO_THROW(decode(wire_format::cbor, nested_cbor(max_nesting_depth)));
    expect_serialization_error(wire_format::cbor, nested_cbor(max_nesting_depth + 1));
    expect_serialization_error(wire_format::cbor, bytes({0xA1, 0x61, 'a'}) + std::string(1'000'000, '\x9F'));
    expect_serialization_error(wire_format::cbor, bytes({0xA1, 0x61, 'a'}) + std::string(1'000'000, '\x81') + "\x80");
}

TEST(CodecCborDecode, LongTagChainsDoNotRecurse) {
    // from_cbor recurses once per tag; the tags are cut out before it runs.
    std::string body = bytes({0xA1, 0x61, 'a'}) + std::string(200'000, '\xC6') + bytes({0x05});
    EXPECT_EQ(decode(wire_format::cbor, body)["a"], 5);
}

// ---- JSON encode ---------------------------------------------------------

TEST(CodecJsonEncode, WritesStructure) {
    const json v = {{"b", json::array({1, -2, true, false, nullptr, "s"})}, {"a", json::object()}, {"c", json::array()}};
    EXPECT_EQ(encode(wire_format::json, v), R"({"a":{},"b":[1,-2,true,false,null,"s"],"c":[]})");
    EXPECT_EQ(encode(wire_format::json, json::object()), "{}");
    EXPECT_EQ(encode(wire_format::json, json(std::numeric_limits<std::uint64_t>::max())), "18446744073709551615");
    EXPECT_EQ(encode(wire_format::json, json(std::numeric_limits<std::int64_t>::min())), "-9223372036854775808");
}

TEST(CodecJsonEncode, BinaryBecomesBase64) {
    const json v = {{"Data", binary("foobar")}, {"Empty", binary("")}, {"List", json::array({binary("f")})}};
    EXPECT_EQ(encode(wire_format::json, v), R"({"Data":"Zm9vYmFy","Empty":"","List":["Zg=="]})");
}

TEST(CodecJsonEncode, TimestampsBecomeEpochSeconds) {
    const auto ts = [](const json& value) { return encode(wire_format::json, {{"ApproximateArrivalTimestamp", value}}); };
    EXPECT_EQ(ts(1441215410867), R"({"ApproximateArrivalTimestamp":1441215410.867})");
    EXPECT_EQ(ts(1441215410000), R"({"ApproximateArrivalTimestamp":1441215410})");
    EXPECT_EQ(ts(1441215410800), R"({"ApproximateArrivalTimestamp":1441215410.8})");
    EXPECT_EQ(ts(1441215410860), R"({"ApproximateArrivalTimestamp":1441215410.86})");
    EXPECT_EQ(ts(1441215410005), R"({"ApproximateArrivalTimestamp":1441215410.005})");
    EXPECT_EQ(ts(std::uint64_t{1441215410050}), R"({"ApproximateArrivalTimestamp":1441215410.05})");
    EXPECT_EQ(ts(0), R"({"ApproximateArrivalTimestamp":0})");
    EXPECT_EQ(ts(999), R"({"ApproximateArrivalTimestamp":0.999})");
    EXPECT_EQ(ts(-1500), R"({"ApproximateArrivalTimestamp":-1.5})");
    EXPECT_EQ(ts(-1), R"({"ApproximateArrivalTimestamp":-0.001})");
    EXPECT_EQ(ts(std::numeric_limits<std::int64_t>::min()),
              R"({"ApproximateArrivalTimestamp":-9223372036854775.808})");
    // Only integers are converted; anything else under the key is left alone.
    EXPECT_EQ(ts("x"), R"({"ApproximateArrivalTimestamp":"x"})");
    EXPECT_EQ(ts(1.5), R"({"ApproximateArrivalTimestamp":1.5})");
}

TEST(CodecJsonEncode, TimestampKeysAnywhereButNotOtherKeys) {
    const json v = {{"StreamDescriptionSummary", {{"StreamCreationTimestamp", 1600000000123}, {"ShardCount", 1600000000123}}},
                    {"Records", json::array({{{"ApproximateArrivalTimestamp", 1600000000001}, {"Other", 5}}})}};
    EXPECT_EQ(encode(wire_format::json, v),
              R"({"Records":[{"ApproximateArrivalTimestamp":1600000000.001,"Other":5}],)"
              R"("StreamDescriptionSummary":{"ShardCount":1600000000123,"StreamCreationTimestamp":1600000000.123}})");
}

TEST(CodecJsonEncode, EscapesStrings) {
    const auto str = [](std::string_view s) { return encode(wire_format::json, json(std::string(s))); };
    EXPECT_EQ(str("plain"), R"("plain")");
    EXPECT_EQ(str("q\"b\\s/"), R"("q\"b\\s/")");
    EXPECT_EQ(str("\b\f\n\r\t"), R"("\b\f\n\r\t")");
    EXPECT_EQ(str(std::string("\x00\x01\x1f\x7f", 4)), "\"\\u0000\\u0001\\u001f\x7f\"");
    EXPECT_EQ(str("caf\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80"), "\"caf\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80\"");
    // Keys are escaped the same way.
    EXPECT_EQ(encode(wire_format::json, {{"k\"\n", 1}}), "{\"k\\\"\\n\":1}");
}

TEST(CodecJsonEncode, ReplacesIllFormedUtf8) {
    const auto str = [](std::string_view s) { return encode(wire_format::json, json(std::string(s))); };
    const std::string fffd = "\xEF\xBF\xBD";
    EXPECT_EQ(str("a\xFF" "b"), "\"a" + fffd + "b\"");
    EXPECT_EQ(str("\xC0\x80"), "\"" + fffd + fffd + "\"");          // overlong NUL
    EXPECT_EQ(str("\xED\xA0\x80"), "\"" + fffd + fffd + fffd + "\""); // UTF-16 surrogate
    EXPECT_EQ(str("x\xE2\x82"), "\"x" + fffd + fffd + "\"");          // truncated at the end
    EXPECT_EQ(str("\xF4\x90\x80\x80"), "\"" + fffd + fffd + fffd + fffd + "\"");  // above U+10FFFF
    EXPECT_EQ(str("\x80"), "\"" + fffd + "\"");                       // lone continuation byte
    // Whatever the input, the output must parse as JSON.
    std::mt19937 rng(3);
    for (int round = 0; round < 2000; ++round) {
        std::string s(rng() % 16, '\0');
        for (auto& c : s) c = static_cast<char>(rng() & 0xFF);
        const std::string out = encode(wire_format::json, {{"m", s}});
        ASSERT_TRUE(json::accept(out)) << hex(s);
    }
}

TEST(CodecJsonEncode, DoublesRoundTrip) {
    EXPECT_EQ(encode(wire_format::json, json(3.0)), "3.0");
    EXPECT_EQ(encode(wire_format::json, json(0.1)), "0.1");
    EXPECT_EQ(encode(wire_format::json, json(-2.5)), "-2.5");
    EXPECT_EQ(encode(wire_format::json, json(std::nan(""))), "null");
    EXPECT_EQ(encode(wire_format::json, json(std::numeric_limits<double>::infinity())), "null");
    std::mt19937_64 rng(11);
    for (int round = 0; round < 10000; ++round) {
        double d;
        const std::uint64_t bits = rng();
        std::memcpy(&d, &bits, sizeof d);
        if (!std::isfinite(d)) continue;
        const json back = json::parse(encode(wire_format::json, json(d)));
        ASSERT_TRUE(back.is_number_float()) << d;
        ASSERT_EQ(back.get<double>(), d);
    }
}

TEST(CodecJsonEncode, RoundTripsThroughDecode) {
    const json v = json::parse(R"({"StreamName":"s","Shards":[{"ShardId":"shardId-000000000000",
        "HashKeyRange":{"StartingHashKey":"0","EndingHashKey":"340282366920938463463374607431768211455"},
        "Weird":"\u0001\u00e9\ud83d\ude00"}],"Neg":-7,"F":0.25,"B":false,"N":null})");
    EXPECT_EQ(decode(wire_format::json, encode(wire_format::json, v)), v);
}

TEST(CodecJsonEncode, EncodeToAppends) {
    std::string out = "x";
    encode_to(wire_format::json, {{"a", 1}}, out);
    EXPECT_EQ(out, "x{\"a\":1}");
}

TEST(CodecJsonEncode, LargeGetRecordsResponse) {
    json records = json::array();
    for (int i = 0; i < 10000; ++i) {
        records.push_back({{"Data", binary(std::string(20, static_cast<char>(i)))},
                           {"PartitionKey", "pk-" + std::to_string(i)},
                           {"SequenceNumber", "4959033827149025660855969253836157109592157598913658" + std::to_string(8898 + i)},
                           {"ApproximateArrivalTimestamp", 1700000000000 + i}});
    }
    const json response = {{"Records", records}, {"MillisBehindLatest", 0}, {"NextShardIterator", "AAAA"}};
    const std::string out = encode(wire_format::json, response);
    const json back = json::parse(out);
    ASSERT_EQ(back["Records"].size(), 10000u);
    EXPECT_EQ(back["Records"][9999]["ApproximateArrivalTimestamp"].get<double>(), 1700000009.999);
    std::string data;
    ASSERT_TRUE(base64::decode(back["Records"][9999]["Data"].get<std::string>(), data));
    EXPECT_EQ(data, std::string(20, static_cast<char>(9999)));
}

// ---- CBOR encode ---------------------------------------------------------

std::string cbor(const json& v) { return hex(encode(wire_format::cbor, v)); }

TEST(CodecCborEncode, IntegersUseTheShortestHead) {
    // Values from RFC 8949 appendix A.
    EXPECT_EQ(cbor(0), "00");
    EXPECT_EQ(cbor(23), "17");
    EXPECT_EQ(cbor(24), "18 18");
    EXPECT_EQ(cbor(100), "18 64");
    EXPECT_EQ(cbor(1000), "19 03 e8");
    EXPECT_EQ(cbor(1000000), "1a 00 0f 42 40");
    EXPECT_EQ(cbor(1000000000000), "1b 00 00 00 e8 d4 a5 10 00");
    EXPECT_EQ(cbor(std::numeric_limits<std::uint64_t>::max()), "1b ff ff ff ff ff ff ff ff");
    EXPECT_EQ(cbor(-1), "20");
    EXPECT_EQ(cbor(-10), "29");
    EXPECT_EQ(cbor(-100), "38 63");
    EXPECT_EQ(cbor(-1000), "39 03 e7");
    EXPECT_EQ(cbor(std::numeric_limits<std::int64_t>::min()), "3b 7f ff ff ff ff ff ff ff");
}

TEST(CodecCborEncode, OtherScalars) {
    EXPECT_EQ(cbor(true), "f5");
    EXPECT_EQ(cbor(false), "f4");
    EXPECT_EQ(cbor(nullptr), "f6");
    EXPECT_EQ(cbor(1.1), "fb 3f f1 99 99 99 99 99 9a");
    // Always float64, even where float32 would be exact.
    EXPECT_EQ(cbor(1.5), "fb 3f f8 00 00 00 00 00 00");
    EXPECT_EQ(cbor(100000.0), "fb 40 f8 6a 00 00 00 00 00");
    EXPECT_EQ(cbor(3.4028234663852886e+38), "fb 47 ef ff ff e0 00 00 00");
    EXPECT_EQ(cbor(1.0e+300), "fb 7e 37 e4 3c 88 00 75 9c");
    EXPECT_EQ(cbor(""), "60");
    EXPECT_EQ(cbor("IETF"), "64 49 45 54 46");
    EXPECT_EQ(cbor(binary("\x01\x02\x03\x04")), "44 01 02 03 04");
    EXPECT_EQ(cbor(std::string(24, 'a')).substr(0, 6), "78 18 ");
    EXPECT_EQ(cbor(binary(std::string(256, 'a'))).substr(0, 9), "59 01 00 ");
}

TEST(CodecCborEncode, ContainersAreDefiniteLength) {
    EXPECT_EQ(cbor(json::array()), "80");
    EXPECT_EQ(cbor(json::array({1, 2, 3})), "83 01 02 03");
    EXPECT_EQ(cbor(json::object()), "a0");
    EXPECT_EQ(cbor({{"a", 1}, {"b", json::array({2, 3})}}), "a2 61 61 01 61 62 82 02 03");
    json many = json::array();
    for (int i = 0; i < 25; ++i) many.push_back(i);
    EXPECT_EQ(cbor(many).substr(0, 6), "98 19 ");
}

TEST(CodecCborEncode, TimestampsAreTag1Milliseconds) {
    // c1 (tag 1) then the integer of milliseconds, as the Java SDKs expect.
    EXPECT_EQ(cbor({{"ApproximateArrivalTimestamp", 1441215410867}}),
              "a1 78 1b " + hex("ApproximateArrivalTimestamp") + " c1 1b 00 00 01 4f 8f 21 f2 b3");
    EXPECT_EQ(cbor({{"Timestamp", std::uint64_t{1441215410867}}}),
              "a1 69 " + hex("Timestamp") + " c1 1b 00 00 01 4f 8f 21 f2 b3");
    EXPECT_EQ(cbor({{"EndedAt", 1000}}), "a1 67 " + hex("EndedAt") + " c1 19 03 e8");
    EXPECT_EQ(cbor({{"EndedAt", -1}}), "a1 67 " + hex("EndedAt") + " c1 20");
    // Not a timestamp key, or not an integer: no tag.
    EXPECT_EQ(cbor({{"Other", 1000}}), "a1 65 " + hex("Other") + " 19 03 e8");
    EXPECT_EQ(cbor({{"EndedAt", "x"}}), "a1 67 " + hex("EndedAt") + " 61 78");
}

TEST(CodecCborEncode, RepairsIllFormedText) {
    EXPECT_EQ(cbor("a\xFF"), "64 61 ef bf bd");
}

TEST(CodecCborEncode, RoundTripsThroughDecode) {
    json v = {{"StreamName", "s\u00e9"},
              {"Records", json::array({{{"Data", binary(std::string("\x00\x01\xFF", 3))}, {"PartitionKey", "k"}},
                                       {{"Data", binary("")}, {"PartitionKey", std::string(300, 'p')}}})},
              {"Limit", 10000},
              {"Neg", -123456789012},
              {"Big", std::numeric_limits<std::uint64_t>::max()},
              {"F", 0.1},
              {"T", true},
              {"N", nullptr},
              {"ApproximateArrivalTimestamp", 1441215410867}};
    EXPECT_EQ(decode(wire_format::cbor, encode(wire_format::cbor, v)), v);
}

// ---- errors --------------------------------------------------------------

TEST(CodecEncodeError, JsonBodies) {
    EXPECT_EQ(encode_error(wire_format::json, api_error::resource_not_found("Stream x under account 000000000000 not found.")),
              R"({"__type":"ResourceNotFoundException","message":"Stream x under account 000000000000 not found."})");
    EXPECT_EQ(encode_error(wire_format::json, api_error::serialization()), R"({"__type":"SerializationException"})");
    EXPECT_EQ(encode_error(wire_format::json, api_error::serialization("class java.lang.Boolean can not be converted to an String", true)),
              R"({"__type":"SerializationException","Message":"class java.lang.Boolean can not be converted to an String"})");
    EXPECT_EQ(encode_error(wire_format::json, api_error::validation("Value 'a\"b\\' at 'streamName'")),
              R"({"__type":"ValidationException","message":"Value 'a\"b\\' at 'streamName'"})");
}

TEST(CodecEncodeError, CborBodies) {
    EXPECT_EQ(hex(encode_error(wire_format::cbor, api_error::serialization())),
              "a1 66 " + hex("__type") + " 76 " + hex("SerializationException"));
    EXPECT_EQ(hex(encode_error(wire_format::cbor, api_error::invalid_argument("bad"))),
              "a2 66 " + hex("__type") + " 78 18 " + hex("InvalidArgumentException") + " 67 " + hex("message") +
                  " 63 " + hex("bad"));
    const json back = decode(wire_format::cbor, encode_error(wire_format::cbor, api_error::serialization("m", true)));
    EXPECT_EQ(back, json({{"__type", "SerializationException"}, {"Message", "m"}}));
}

}  // namespace
}  // namespace kinesd::codec
