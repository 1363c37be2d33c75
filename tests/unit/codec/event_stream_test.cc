#include "codec/event_stream.h"

#include <gtest/gtest.h>
#include <zlib.h>

#include <string>

namespace es = kinesd::codec::event_stream;

namespace {

std::string from_hex(std::string_view hex) {
    std::string out;
    for (std::size_t i = 0; i + 1 < hex.size(); i += 2) out.push_back(char(std::stoi(std::string(hex.substr(i, 2)), nullptr, 16)));
    return out;
}

// Built independently (Python's struct and zlib.crc32) and read back by
// botocore's EventStreamBuffer, which yielded the same headers and payload.
const char* initial_response_hex =
    "0000007200000060ab820d9e0b3a6576656e742d74797065070010696e697469616c2d726573706f6e73650d3a636f6e74656e742d74"
    "7970650700 1a6170706c69636174696f6e2f782d616d7a2d6a736f6e2d312e310d3a6d6573736167652d747970650700056576656e74"
    "7b7dacae6b7d";
const char* exception_hex =
    "0000008d0000006e865ee7150f3a657863657074696f6e2d747970650700165265736f75726365496e55736545786365707469"
    "6f6e0d3a636f6e74656e742d7479706507001a6170706c69636174696f6e2f782d616d7a2d6a736f6e2d312e310d3a6d6573736167"
    "652d74797065070009657863657074696f6e7b226d657373616765223a2278227dcef16312";

std::string clean_hex(const char* hex) {
    std::string s;
    for (const char* p = hex; *p; ++p)
        if (*p != ' ') s.push_back(*p);
    return from_hex(s);
}

}  // namespace

TEST(EventStream, EventMatchesBytesBotocoreReads) {
    std::string out;
    es::append_event(out, "initial-response", "application/x-amz-json-1.1", "{}");
    EXPECT_EQ(out, clean_hex(initial_response_hex));
}

TEST(EventStream, ExceptionMatchesBytesBotocoreReads) {
    std::string out;
    es::append_exception(out, "ResourceInUseException", "application/x-amz-json-1.1", R"({"message":"x"})");
    EXPECT_EQ(out, clean_hex(exception_hex));
}

TEST(EventStream, ReadsBackWhatItWrites) {
    std::string out;
    std::string payload(100000, 'p');
    es::append_event(out, "SubscribeToShardEvent", "application/x-amz-cbor-1.1", payload);
    es::append_event(out, "SubscribeToShardEvent", "application/x-amz-json-1.1", "");
    es::message m;
    std::size_t used = 0;
    ASSERT_EQ(es::read_message(out, m, used), es::read_status::ok);
    EXPECT_EQ(m.payload, payload);
    ASSERT_NE(m.find(":event-type"), nullptr);
    EXPECT_EQ(*m.find(":event-type"), "SubscribeToShardEvent");
    EXPECT_EQ(*m.find(":message-type"), "event");
    EXPECT_EQ(*m.find(":content-type"), "application/x-amz-cbor-1.1");
    std::string_view rest = std::string_view(out).substr(used);
    ASSERT_EQ(es::read_message(rest, m, used), es::read_status::ok);
    EXPECT_EQ(used, rest.size());
    EXPECT_TRUE(m.payload.empty());
}

TEST(EventStream, IncompleteUntilWholeMessage) {
    std::string out;
    es::append_event(out, "initial-response", "application/json", "{}");
    es::message m;
    std::size_t used = 0;
    for (std::size_t n = 0; n < out.size(); ++n)
        EXPECT_EQ(es::read_message(std::string_view(out).substr(0, n), m, used), es::read_status::incomplete) << n;
}

TEST(EventStream, EveryFlippedBitIsCaught) {
    std::string out;
    es::append_event(out, "SubscribeToShardEvent", "application/json", R"({"Records":[]})");
    for (std::size_t byte = 0; byte < out.size(); ++byte) {
        for (int bit = 0; bit < 8; ++bit) {
            std::string bad = out;
            bad[byte] = char(bad[byte] ^ (1 << bit));
            es::message m;
            std::size_t used = 0;
            // A flipped length may make the message look longer than the
            // bytes at hand (incomplete); anything else is refused.
            EXPECT_NE(es::read_message(bad, m, used), es::read_status::ok) << byte << ":" << bit;
        }
    }
}

TEST(EventStream, OtherHeaderTypesAreSkippedByTheirSizes) {
    // A header of each fixed-size type, then a string, as other services
    // send them: the reader must land on the string.
    std::string headers;
    auto add = [&](std::string_view name, std::uint8_t type, std::string_view value) {
        headers.push_back(char(name.size()));
        headers.append(name);
        headers.push_back(char(type));
        headers.append(value);
    };
    add("t", 0, "");
    add("b", 2, std::string(1, '\x01'));
    add("s", 3, std::string(2, '\x01'));
    add("i", 4, std::string(4, '\x01'));
    add("l", 5, std::string(8, '\x01'));
    add("ts", 8, std::string(8, '\x01'));
    add("u", 9, std::string(16, '\x01'));
    add(":event-type", 7, std::string("\x00\x03" "abc", 5));
    std::string msg;
    const std::uint32_t total = std::uint32_t(12 + headers.size() + 4);
    auto put = [&](std::uint32_t v) {
        msg.push_back(char(v >> 24));
        msg.push_back(char(v >> 16));
        msg.push_back(char(v >> 8));
        msg.push_back(char(v));
    };
    auto crc = [&] { return std::uint32_t(::crc32(0, reinterpret_cast<const Bytef*>(msg.data()), uInt(msg.size()))); };
    put(total);
    put(std::uint32_t(headers.size()));
    put(crc());
    msg.append(headers);
    put(crc());
    es::message m;
    std::size_t used = 0;
    ASSERT_EQ(es::read_message(msg, m, used), es::read_status::ok);
    ASSERT_NE(m.find(":event-type"), nullptr);
    EXPECT_EQ(*m.find(":event-type"), "abc");
    EXPECT_EQ(m.headers.size(), 8u);
}
