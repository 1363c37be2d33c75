#include "codec/record_body.h"

#include <random>
#include <set>
#include <string>

#include <gtest/gtest.h>

#include "codec/codec.h"
#include "common/base64.h"

namespace kinesd::codec {
namespace {

using json = nlohmann::json;

const body_layout put_records{
    .members = {{"StreamName"}, {"StreamARN"}},
    .records = "Records",
    .record_members = {{"Data", true}, {"PartitionKey"}, {"ExplicitHashKey"}},
};
const body_layout put_record{
    .members = {{"StreamName"}, {"Data", true}, {"PartitionKey"}},
};
const body_layout single_object{.members = {{"DeliveryStreamName"}}, .record = "Record", .record_members = {{"Data", true}}};

bool read(const body_layout& layout, std::string text, record_body& body) {
    body.text = std::move(text);
    return read_record_body(layout, body);
}

bool accepts(const body_layout& layout, std::string text) {
    record_body body;
    return read(layout, std::move(text), body);
}

TEST(record_body, reads_put_records_members_and_decodes_blobs) {
    record_body body;
    ASSERT_TRUE(read(put_records,
                     R"({"StreamName":"s-1","Records":[{"Data":"aGVsbG8=","PartitionKey":"k1"},)"
                     R"({"PartitionKey":"k2","ExplicitHashKey":"42","Data":""},{"Data":"AAEC/w==","PartitionKey":"k3"}]})",
                     body));
    EXPECT_EQ(body.members[0], "s-1");
    EXPECT_FALSE(body.members[1]);
    ASSERT_TRUE(body.has_records);
    ASSERT_EQ(body.records.size(), 3u);
    EXPECT_EQ(body.records[0][0], "hello");
    EXPECT_EQ(body.records[0][1], "k1");
    EXPECT_FALSE(body.records[0][2]);
    EXPECT_EQ(body.records[1][0], "");
    EXPECT_EQ(body.records[1][1], "k2");
    EXPECT_EQ(body.records[1][2], "42");
    EXPECT_EQ(body.records[2][0], std::string("\x00\x01\x02\xff", 4));
    // Views point into the body, blobs included: they are decoded where
    // their base64 stood.
    for (const auto* v : {&*body.records[0][1], &*body.records[0][0], &*body.records[2][0]}) {
        EXPECT_GE(v->data(), body.text.data());
        EXPECT_LE(v->data() + v->size(), body.text.data() + body.text.size());
    }
}

TEST(record_body, an_accepted_body_can_be_given_back_as_it_came) {
    const std::string text =
        R"({"StreamName":"s","Records":[{"Data":"aGVsbG8=","PartitionKey":"k"},{"Data":"","PartitionKey":"k"},)"
        R"({"Data":"AAEC/w==","PartitionKey":"k"},{"Data":"QUJD","PartitionKey":"k"}]})";
    record_body body;
    ASSERT_TRUE(read(put_records, text, body));
    EXPECT_NE(body.text, text);
    restore_text(put_records, body);
    EXPECT_EQ(body.text, text);

    const std::string single = R"({"Data":"QUI=","StreamName":"s","PartitionKey":"k"})";
    ASSERT_TRUE(read(put_record, single, body));
    restore_text(put_record, body);
    EXPECT_EQ(body.text, single);
}

TEST(record_body, a_body_refused_after_blobs_were_decoded_keeps_its_text) {
    // Two good blobs are decoded before the bad third one (and, in the
    // second body, before an unknown member) makes the reader give up.
    for (const std::string text :
         {R"({"Records":[{"Data":"aGVsbG8=","PartitionKey":"k"},{"Data":"QUJD","PartitionKey":"k"},{"Data":"QUJDRA!=","PartitionKey":"k"}]})",
          R"({"Records":[{"Data":"aGVsbG8=","PartitionKey":"k"},{"Data":"QUJD","PartitionKey":"k"}],"Other":"x"})"}) {
        record_body body;
        ASSERT_FALSE(read(put_records, text, body));
        EXPECT_EQ(body.text, text);
    }
}

TEST(record_body, accepts_json_whitespace_between_tokens) {
    record_body body;
    ASSERT_TRUE(read(put_records, " {\n\t\"Records\" : [ { \"Data\" : \"QQ==\" , \"PartitionKey\" : \"a b\" } ] ,"
                                  "\r\n \"StreamName\" : \"x\" } \n",
                     body));
    EXPECT_EQ(body.members[0], "x");
    EXPECT_EQ(body.records.at(0)[0], "A");
    EXPECT_EQ(body.records.at(0)[1], "a b");
}

TEST(record_body, reads_a_single_record_object) {
    record_body body;
    ASSERT_TRUE(read(single_object, R"({"Record":{"Data":"QUJD"},"DeliveryStreamName":"d"})", body));
    ASSERT_TRUE(body.has_records);
    ASSERT_EQ(body.records.size(), 1u);
    EXPECT_EQ(body.records[0][0], "ABC");
    EXPECT_FALSE(accepts(single_object, R"({"Record":[{"Data":"QUJD"}],"DeliveryStreamName":"d"})"));
    EXPECT_FALSE(accepts(single_object, R"({"Record":null,"DeliveryStreamName":"d"})"));
}

TEST(record_body, empty_object_and_empty_list_are_read_as_such) {
    record_body body;
    ASSERT_TRUE(read(put_records, "{}", body));
    EXPECT_FALSE(body.has_records);
    EXPECT_FALSE(body.members[0]);
    ASSERT_TRUE(read(put_records, R"({"Records":[],"StreamName":"s"})", body));
    EXPECT_TRUE(body.has_records);
    EXPECT_TRUE(body.records.empty());
    ASSERT_TRUE(read(put_records, R"({"Records":[{}]})", body));
    ASSERT_EQ(body.records.size(), 1u);
    EXPECT_FALSE(body.records[0][0]);
}

TEST(record_body, leaves_anything_unusual_to_the_general_path) {
    const char* refused[] = {
        R"({"StreamName":"a\"b","Records":[]})",           // escape
        R"({"StreamName":"a\u0041","Records":[]})",        // unicode escape
        "{\"StreamName\":\"caf\xc3\xa9\",\"Records\":[]}",  // non-ASCII
        "{\"StreamName\":\"a\tb\"}",                        // raw control character
        "{\"StreamName\":\"a\x7f\"}",                       // DEL
        R"({"StreamName":null})",
        R"({"StreamName":1})",
        R"({"StreamName":true})",
        R"({"StreamName":["s"]})",
        R"({"Other":"x"})",                                 // unknown member
        R"({"StreamName":"a","StreamName":"b"})",           // repeated member
        R"({"Records":[],"Records":[]})",
        R"({"Records":[{"Data":"QQ==","Data":"QQ=="}]})",
        R"({"Records":[{"Data":"QQ==","Other":"x"}]})",
        R"({"Records":[null]})",
        R"({"Records":["x"]})",
        R"({"Records":[[]]})",
        R"({"Records":{}})",
        R"({"Records":null})",
        R"({"Records":[{"Data":"QQ="}]})",                 // length not a multiple of 4
        R"({"Records":[{"Data":"QR=="}]})",                // non-zero trailing bits
        R"({"Records":[{"Data":"Q\u0051=="}]})",           // escaped base64
        R"({"Records":[{"Data":"Q\"Q=="}]})",
        R"({"Records":[{"Data":1}]})",
        R"({"StreamName":"s",})",                           // trailing comma
        R"({"Records":[{"Data":"QQ=="},]})",
        R"({"Records":[{"Data":"QQ==",}]})",
        R"({,"StreamName":"s"})",
        R"({"StreamName""s"})",
        R"({"StreamName":"s"} x)",                          // trailing content
        R"({"StreamName":"s"}{})",
        R"({"StreamName":"s")",                             // truncated
        R"({"StreamName":"s)",
        R"({"Records":[{"Data":"QQ==)",
        "\xef\xbb\xbf{}",                                   // byte order mark
        "[]",
        "\"s\"",
        "",
    };
    for (const char* text : refused) EXPECT_FALSE(accepts(put_records, text)) << text;
    EXPECT_FALSE(accepts(put_records, std::string("{\"StreamName\":\"s\"}") + '\0')) << "NUL";
}

TEST(record_body, members_belong_to_their_level) {
    // A top-level member inside a record, or a record member at the top, is unknown there.
    EXPECT_FALSE(accepts(put_records, R"({"Records":[{"StreamName":"s"}]})"));
    EXPECT_FALSE(accepts(put_records, R"({"PartitionKey":"k"})"));
    EXPECT_TRUE(accepts(put_record, R"({"PartitionKey":"k","Data":"QQ==","StreamName":"s"})"));
    EXPECT_FALSE(accepts(put_record, R"({"Records":[]})"));
}

TEST(record_body, a_refused_body_keeps_its_text) {
    record_body body;
    const std::string text = R"({"StreamName":"s","Records":[{"Data":"QQ==","PartitionKey":"k\u00e9"}]})";
    ASSERT_FALSE(read(put_records, text, body));
    EXPECT_EQ(body.text, text);
}

// Everything the reader accepts, the general decoder reads the same way: the
// same members (none repeated), the same strings, and blobs whose base64
// decodes to the same bytes. Checked over random mutations of valid bodies.
void expect_same_as_general_decoder(const body_layout& layout, const std::string& text, const record_body& body) {
    json value = decode(wire_format::json, text);
    std::size_t present = 0;
    for (std::size_t i = 0; i < layout.members.size(); ++i) {
        if (!body.members[i]) {
            EXPECT_FALSE(value.contains(layout.members[i].name)) << text;
            continue;
        }
        ++present;
        const auto& v = value.at(std::string(layout.members[i].name));
        ASSERT_TRUE(v.is_string()) << text;
        std::string expected = v.get<std::string>();
        if (layout.members[i].blob) {
            ASSERT_TRUE(base64::decode(v.get<std::string>(), expected)) << text;
        }
        EXPECT_EQ(expected, *body.members[i]) << text;
    }
    if (!body.has_records) {
        EXPECT_EQ(value.size(), present) << text;
        return;
    }
    EXPECT_EQ(value.size(), present + 1) << text;
    json list = layout.records.empty() ? json::array({value.at(std::string(layout.record))})
                                       : value.at(std::string(layout.records));
    ASSERT_TRUE(list.is_array()) << text;
    ASSERT_EQ(list.size(), body.records.size()) << text;
    for (std::size_t r = 0; r < list.size(); ++r) {
        ASSERT_TRUE(list[r].is_object()) << text;
        std::size_t members = 0;
        for (std::size_t i = 0; i < layout.record_members.size(); ++i) {
            const auto& got = body.records[r][i];
            const std::string name(layout.record_members[i].name);
            ASSERT_EQ(list[r].contains(name), bool(got)) << text;
            if (!got) continue;
            ++members;
            ASSERT_TRUE(list[r][name].is_string()) << text;
            std::string expected = list[r][name].get<std::string>();
            if (layout.record_members[i].blob) {
                ASSERT_TRUE(base64::decode(list[r][name].get<std::string>(), expected)) << text;
            }
            EXPECT_EQ(expected, *got) << text;
        }
        EXPECT_EQ(list[r].size(), members) << text;
    }
}

TEST(record_body, whatever_it_accepts_the_general_decoder_reads_alike) {
    const std::string seeds[] = {
        R"({"StreamName":"s","Records":[{"Data":"aGVsbG8=","PartitionKey":"k1"},{"PartitionKey":"k","Data":"QUI=","ExplicitHashKey":"7"}]})",
        R"( { "Records" : [ { "Data" : "" , "PartitionKey" : "p" } ] , "StreamARN" : "arn" } )",
    };
    const std::string alphabet = "\"\\,:{}[] \t\nnul0=QA/+\x80\xc3\xa9\x01";
    std::mt19937 rng(20240229);
    int accepted = 0, refused = 0;
    for (int round = 0; round < 20000; ++round) {
        std::string text = seeds[round % 2];
        int edits = 1 + int(rng() % 3);
        for (int e = 0; e < edits && !text.empty(); ++e) {
            std::size_t at = rng() % text.size();
            char c = alphabet[rng() % alphabet.size()];
            switch (rng() % 3) {
                case 0: text[at] = c; break;
                case 1: text.insert(text.begin() + long(at), c); break;
                default: text.erase(at, 1 + rng() % 4);
            }
        }
        record_body body;
        if (!read(put_records, text, body)) {
            ++refused;
            EXPECT_EQ(body.text, text);
            continue;
        }
        ++accepted;
        expect_same_as_general_decoder(put_records, text, body);
        restore_text(put_records, body);
        EXPECT_EQ(body.text, text);
        if (HasFailure()) return;
    }
    // Both outcomes were exercised, or the test proves nothing.
    EXPECT_GT(accepted, 200);
    EXPECT_GT(refused, 200);
}

TEST(record_body, single_object_agrees_with_general_decoder) {
    for (const char* text : {R"({"Record":{"Data":"QUJD"},"DeliveryStreamName":"d"})", R"({"Record":{}})",
                             R"({"DeliveryStreamName":"d"})"}) {
        record_body body;
        ASSERT_TRUE(read(single_object, text, body)) << text;
        expect_same_as_general_decoder(single_object, text, body);
    }
}

TEST(base64_decode_to, matches_decode_and_reports_failure_without_a_message) {
    std::mt19937 rng(7);
    for (int n = 0; n < 64; ++n) {
        std::string bytes;
        for (int i = 0; i < n; ++i) bytes.push_back(char(rng()));
        std::string text = base64::encode(bytes);
        std::string out(base64::decoded_size_bound(text.size()), '\0');
        ASSERT_EQ(base64::decode_to(text, out.data()), bytes.size());
        out.resize(bytes.size());
        EXPECT_EQ(out, bytes);
    }
    char out[16];
    for (const char* bad : {"QQ=", "QR==", "QUJ=", "Q!==", "====", "QQ=A", "A===", "QUJD\n"})
        EXPECT_EQ(base64::decode_to(bad, out), base64::npos) << bad;
    std::string ignored;
    for (const char* bad : {"QQ=", "QR==", "QUJ=", "Q!=="}) EXPECT_FALSE(base64::decode(bad, ignored)) << bad;
}

TEST(base64_in_place, decodes_and_encodes_back_over_the_same_bytes) {
    std::mt19937 rng(11);
    for (int n = 0; n < 80; ++n) {
        std::string bytes;
        for (int i = 0; i < n; ++i) bytes.push_back(char(rng()));
        const std::string text = base64::encode(bytes);
        std::string buffer = text;
        ASSERT_EQ(base64::decode_in_place(buffer.data(), buffer.size()), bytes.size());
        EXPECT_EQ(buffer.substr(0, bytes.size()), bytes);
        base64::encode_in_place(buffer.data(), bytes.size());
        EXPECT_EQ(buffer, text);
    }
}

TEST(base64_in_place, a_failed_decode_leaves_the_text_as_it_was) {
    // Bad characters late in the text, after whole quads were decoded, and
    // a bad padded quad at the end.
    for (const std::string bad : {"aGVsbG8gd29ybGQh!GVsbG8=", "aGVsbG8gd29ybGQhaG!sbG8=", "aGVsbG8gd29ybGQhaGVsbG9=",
                                  "aGVsbG8gd29ybGQhaGVsbA=x", "aGVs=G8gd29y", "aGVsbG8"}) {
        std::string buffer = bad;
        EXPECT_EQ(base64::decode_in_place(buffer.data(), buffer.size()), base64::npos) << bad;
        EXPECT_EQ(buffer, bad);
    }
}

TEST(base64_decode_to, decodes_in_place) {
    std::string bytes = "in place, longer than one quad";
    std::string text = base64::encode(bytes);
    std::size_t n = base64::decode_to(text, text.data());
    ASSERT_EQ(n, bytes.size());
    EXPECT_EQ(text.substr(0, n), bytes);
}

}  // namespace
}  // namespace kinesd::codec
