#include "codec/kpl_aggregate.h"

#include <gtest/gtest.h>
#include <openssl/evp.h>

#include <string>

namespace kinesd::codec {
namespace {

std::string md5_of(std::string_view in) {
    unsigned char d[EVP_MAX_MD_SIZE];
    unsigned int n = 0;
    EVP_Digest(in.data(), in.size(), d, &n, EVP_md5(), nullptr);
    return std::string(reinterpret_cast<char*>(d), n);
}

// Frames a hand-written protobuf as an aggregate with a correct MD5.
std::string frame(const std::string& message) { return std::string(kpl_magic) + message + md5_of(message); }

TEST(KplAggregate, RoundTripKeepsKeysAndOrder) {
    std::string agg = kpl_aggregate({{"pk-a", std::nullopt, "one"},
                                     {"pk-b", std::string_view("340282366920938463463374607431768211455"), "two"},
                                     {"pk-a", std::nullopt, ""}});
    std::vector<kpl_user_record> out;
    ASSERT_TRUE(kpl_deaggregate(agg, out));
    ASSERT_EQ(out.size(), 3u);
    EXPECT_EQ(out[0].partition_key, "pk-a");
    EXPECT_EQ(out[0].data, "one");
    EXPECT_FALSE(out[0].explicit_hash_key);
    EXPECT_EQ(out[1].partition_key, "pk-b");
    ASSERT_TRUE(out[1].explicit_hash_key);
    EXPECT_EQ(*out[1].explicit_hash_key, "340282366920938463463374607431768211455");
    EXPECT_EQ(out[1].data, "two");
    EXPECT_EQ(out[2].data, "");  // an empty user record is still a record
}

TEST(KplAggregate, PlainRecordIsNotAnAggregate) {
    std::vector<kpl_user_record> out;
    EXPECT_FALSE(kpl_deaggregate("{\"a\":1}", out));
    EXPECT_FALSE(kpl_deaggregate("", out));
    EXPECT_FALSE(kpl_deaggregate(kpl_magic, out));
    EXPECT_TRUE(out.empty());
}

TEST(KplAggregate, CorruptMd5PassesThrough) {
    std::string agg = kpl_aggregate({{"k", std::nullopt, "data"}});
    agg.back() ^= 0x01;
    std::vector<kpl_user_record> out;
    EXPECT_FALSE(kpl_deaggregate(agg, out));
    EXPECT_TRUE(out.empty());
}

TEST(KplAggregate, TruncatedProtobufPassesThrough) {
    std::string agg = kpl_aggregate({{"k", std::nullopt, "some data"}});
    std::string message = agg.substr(4, agg.size() - 20);
    // Cut inside the record's data but re-sign it, so only the protobuf is wrong.
    std::vector<kpl_user_record> out;
    EXPECT_FALSE(kpl_deaggregate(frame(message.substr(0, message.size() - 3)), out));
    // A varint cut short.
    EXPECT_FALSE(kpl_deaggregate(frame(std::string("\x1a\x80", 2)), out));
}

TEST(KplAggregate, UnknownFieldsAndTagsAreSkipped) {
    // table: "k"; field 9 (varint), field 10 (fixed64) at top level; the
    // record carries a tag (field 4) and an unknown field 7.
    std::string record = std::string("\x08\x00", 2) + "\x1a\x02hi" + std::string("\x22\x05\x0a\x01t\x12\x00", 7) + "\x38\x05";
    std::string message = std::string("\x0a\x01k") + "\x48\x01" + "\x51" + std::string(8, '\0') + "\x1a" +
                          char(record.size()) + record;
    std::vector<kpl_user_record> out;
    const std::string framed = frame(message);  // the results view into it
    ASSERT_TRUE(kpl_deaggregate(framed, out));
    ASSERT_EQ(out.size(), 1u);
    EXPECT_EQ(out[0].partition_key, "k");
    EXPECT_EQ(out[0].data, "hi");
}

TEST(KplAggregate, EmptyAggregateOrBadIndexPassesThrough) {
    std::vector<kpl_user_record> out;
    EXPECT_FALSE(kpl_deaggregate(frame(""), out));          // no records
    EXPECT_FALSE(kpl_deaggregate(frame("\x0a\x01k"), out));  // a key table only
    // partition_key_index 1 with a one-entry table.
    std::string record = "\x08\x01\x1a\x01x";
    EXPECT_FALSE(kpl_deaggregate(frame(std::string("\x0a\x01k\x1a\x05") + record), out));
    // explicit_hash_key_index without a hash key table.
    record = std::string("\x08\x00\x10\x00\x1a\x01x", 7);
    EXPECT_FALSE(kpl_deaggregate(frame(std::string("\x0a\x01k\x1a\x07") + record), out));
    // A record without the required partition_key_index.
    EXPECT_FALSE(kpl_deaggregate(frame(std::string("\x0a\x01k\x1a\x03\x1a\x01x")), out));
}

TEST(KplAggregate, RecordWithoutDataIsAnEmptyUserRecord) {
    std::vector<kpl_user_record> out;
    const std::string framed = frame(std::string("\x0a\x01k\x1a\x02\x08\x00", 7));
    ASSERT_TRUE(kpl_deaggregate(framed, out));
    ASSERT_EQ(out.size(), 1u);
    EXPECT_EQ(out[0].data, "");
}

}  // namespace
}  // namespace kinesd::codec
