#include "codec/cbor_record_body.h"

#include <algorithm>
#include <functional>
#include <random>
#include <string>

#include <gtest/gtest.h>

#include "codec/codec.h"

namespace kinesd::codec {
namespace {

using json = nlohmann::json;

const body_layout put_records{
    .members = {{"StreamName"}, {"StreamARN"}},
    .records = "Records",
    .record_members = {{"Data", true}, {"PartitionKey"}, {"ExplicitHashKey"}},
};
const body_layout put_record{
    .members = {{"StreamName"}, {"Data", true}, {"PartitionKey"}, {"ExplicitHashKey"}},
};

// A small CBOR writer for building request bodies the way different clients
// might: definite or indefinite containers, whole or chunked strings, tags.
struct cbor {
    std::string out;

    cbor& head(unsigned major, std::uint64_t v) {
        const auto m = static_cast<char>(major << 5);
        if (v < 24) {
            out.push_back(char(m | v));
        } else {
            int bytes = v <= 0xFF ? 1 : v <= 0xFFFF ? 2 : v <= 0xFFFFFFFF ? 4 : 8;
            out.push_back(char(m | (bytes == 1 ? 24 : bytes == 2 ? 25 : bytes == 4 ? 26 : 27)));
            for (int i = bytes - 1; i >= 0; --i) out.push_back(char(v >> (8 * i)));
        }
        return *this;
    }
    // A head with a 4-byte argument whatever its value.
    cbor& long_head(unsigned major, std::uint32_t v) {
        out.push_back(char(major << 5 | 26));
        for (int i = 3; i >= 0; --i) out.push_back(char(v >> (8 * i)));
        return *this;
    }
    cbor& raw(std::string_view s) {
        out.append(s);
        return *this;
    }
    cbor& text(std::string_view s) { return head(3, s.size()).raw(s); }
    cbor& bytes(std::string_view s) { return head(2, s.size()).raw(s); }
    // Indefinite-length string of `major` in chunks of `chunk` bytes.
    cbor& chunked(unsigned major, std::string_view s, std::size_t chunk) {
        out.push_back(char(major << 5 | 31));
        for (std::size_t i = 0; i < s.size(); i += chunk) head(major, std::min(chunk, s.size() - i)).raw(s.substr(i, chunk));
        out.push_back('\xff');
        return *this;
    }
    cbor& map_open() { return raw("\xbf"); }
    cbor& array_open() { return raw("\x9f"); }
    cbor& brk() { return raw("\xff"); }
};

bool read(const body_layout& layout, std::string text, record_body& body) {
    body.text = std::move(text);
    return read_cbor_record_body(layout, body);
}

// Jackson's way, as the Java SDKs send it: every map and array of indefinite length.
std::string jackson_put_records() {
    cbor c;
    c.map_open().text("StreamName").text("s-1").text("Records").array_open();
    c.map_open().text("Data").bytes(std::string("\x00\x01\xff", 3)).text("PartitionKey").text("k1").brk();
    c.map_open().text("PartitionKey").text("k2").text("ExplicitHashKey").text("42").text("Data").bytes("").brk();
    c.brk().brk();
    return c.out;
}

TEST(cbor_record_body, reads_what_jackson_writes) {
    record_body body;
    const std::string text = jackson_put_records();
    ASSERT_TRUE(read(put_records, text, body));
    EXPECT_EQ(body.text, text);
    EXPECT_EQ(body.members[0], "s-1");
    EXPECT_FALSE(body.members[1]);
    ASSERT_EQ(body.records.size(), 2u);
    EXPECT_EQ(body.records[0][0], std::string("\x00\x01\xff", 3));
    EXPECT_EQ(body.records[0][1], "k1");
    EXPECT_FALSE(body.records[0][2]);
    EXPECT_EQ(body.records[1][0], "");
    EXPECT_EQ(body.records[1][2], "42");
    // Data is read where it stands in the body.
    EXPECT_GE(body.records[0][0]->data(), body.text.data());
    EXPECT_LE(body.records[0][0]->data() + 3, body.text.data() + body.text.size());
}

TEST(cbor_record_body, reads_definite_lengths_chunks_and_tags) {
    cbor c;
    c.head(5, 3).text("PartitionKey").chunked(3, "a-long-key", 3).head(6, 1).text("StreamName").text("s");
    c.text("Data").chunked(2, "0123456789", 4);
    record_body body;
    ASSERT_TRUE(read(put_record, c.out, body));
    EXPECT_EQ(body.members[0], "s");
    EXPECT_EQ(body.members[1], "0123456789");
    EXPECT_EQ(body.members[2], "a-long-key");

    cbor list;
    list.head(5, 1).text("Records").head(4, 2);
    list.head(5, 2).text("Data").bytes("x").text("PartitionKey").head(6, 55799).text("p");
    list.head(5, 0);
    ASSERT_TRUE(read(put_records, list.out, body));
    ASSERT_EQ(body.records.size(), 2u);
    EXPECT_EQ(body.records[0][1], "p");
    EXPECT_FALSE(body.records[1][0]);
}

TEST(cbor_record_body, leaves_anything_unusual_to_the_general_path) {
    const auto put = [](auto build) {
        cbor c;
        build(c);
        return c.out;
    };
    const std::string refused[] = {
        put([](cbor& c) { c.head(5, 1).text("StreamName").bytes("s"); }),           // blob where text goes
        put([](cbor& c) { c.head(5, 1).text("Data").text("QQ=="); }),               // base64 text for a blob
        put([](cbor& c) { c.head(5, 1).text("StreamName").raw("\xf6"); }),          // null
        put([](cbor& c) { c.head(5, 1).text("StreamName").head(0, 1); }),           // number
        put([](cbor& c) { c.head(5, 1).text("PartitionKey").text("caf\xc3\xa9"); }),  // non-ASCII
        put([](cbor& c) { c.head(5, 1).text("Other").text("x"); }),                 // unknown member
        put([](cbor& c) { c.head(5, 2).text("StreamName").text("a").text("StreamName").text("b"); }),
        put([](cbor& c) { c.head(5, 1).bytes("StreamName").text("a"); }),           // key not text
        put([](cbor& c) { c.head(5, 1).text("StreamName").text("a").raw(std::string_view("\0", 1)); }),  // trailing byte
        put([](cbor& c) { c.head(5, 2).text("StreamName").text("a"); }),            // truncated
        put([](cbor& c) { c.map_open().text("StreamName").text("a"); }),            // no break
        put([](cbor& c) { c.head(5, 1).text("StreamName").head(6, 1).brk(); }),     // tag before a break
        put([](cbor& c) { c.head(5, 1).text("StreamName").raw("\x7f\x41x\xff"); }),  // byte chunk in text
        put([](cbor& c) { c.head(5, 1).text("StreamName").raw("\x7f\x7f\xff\xff"); }),  // nested chunks
        put([](cbor& c) { c.head(5, 1).text("StreamName").raw("\x7c"); }),          // reserved info
        put([](cbor& c) { c.head(4, 0); }),                                         // not a map
        put([](cbor& c) { c.head(5, 1).text("Records").head(5, 0); }),
        put([](cbor& c) { c.head(5, 1).text("Records").head(4, 1).raw("\xf6"); }),
        put([](cbor& c) { c.head(5, 1).text("Records").head(4, 0xFFFFFFFF); }),     // forged count
        put([](cbor& c) { c.head(5, 2).text("Records").head(4, 0).text("Records").head(4, 0); }),
        put([](cbor& c) { c.map_open().text("StreamName").brk(); }),                // key without value
        std::string(),
    };
    for (const auto& text : refused) {
        record_body body;
        EXPECT_FALSE(read(put_records, text, body)) << json::binary(std::vector<std::uint8_t>(text.begin(), text.end()));
        EXPECT_EQ(body.text, text);
    }
}

// Everything the reader accepts, the general decoder reads the same way: the
// same members, the same strings and the same bytes.
void expect_same_as_general_decoder(const body_layout& layout, const std::string& text, const record_body& body) {
    json value = decode(wire_format::cbor, text);
    const auto same = [&](const json& v, const body_member& m, std::string_view got) {
        if (m.blob) {
            ASSERT_TRUE(v.is_binary());
            EXPECT_EQ(std::string(v.get_binary().begin(), v.get_binary().end()), got);
        } else {
            ASSERT_TRUE(v.is_string());
            EXPECT_EQ(v.get<std::string>(), got);
        }
    };
    std::size_t present = 0;
    for (std::size_t i = 0; i < layout.members.size(); ++i) {
        const std::string name(layout.members[i].name);
        ASSERT_EQ(value.contains(name), bool(body.members[i]));
        if (!body.members[i]) continue;
        ++present;
        same(value[name], layout.members[i], *body.members[i]);
    }
    EXPECT_EQ(value.size(), present + (body.has_records ? 1 : 0));
    if (!body.has_records) return;
    const json& list = value.at(std::string(layout.records));
    ASSERT_TRUE(list.is_array());
    ASSERT_EQ(list.size(), body.records.size());
    for (std::size_t r = 0; r < list.size(); ++r) {
        ASSERT_TRUE(list[r].is_object());
        std::size_t members = 0;
        for (std::size_t i = 0; i < layout.record_members.size(); ++i) {
            const std::string name(layout.record_members[i].name);
            ASSERT_EQ(list[r].contains(name), bool(body.records[r][i]));
            if (!body.records[r][i]) continue;
            ++members;
            same(list[r][name], layout.record_members[i], *body.records[r][i]);
        }
        EXPECT_EQ(list[r].size(), members);
    }
}

// Random bodies in every encoding a client may choose, then mutated bytes.
class body_generator {
public:
    explicit body_generator(std::uint32_t seed) : rng_(seed) {}

    std::string put_records_body() {
        cbor c;
        std::vector<std::pair<std::string, std::function<void(cbor&)>>> members;
        members.emplace_back("StreamName", [this](cbor& c) { string(c, 3, "stream-" + word()); });
        if (chance(4)) members.emplace_back("StreamARN", [this](cbor& c) { string(c, 3, "arn:" + word()); });
        if (chance(10)) members.emplace_back("Other", [this](cbor& c) { string(c, 3, word()); });
        members.emplace_back("Records", [this](cbor& c) {
            const std::size_t n = rng_() % 4;
            const bool indefinite = chance(2);
            indefinite ? c.array_open() : c.head(4, n);
            for (std::size_t i = 0; i < n; ++i) record(c);
            if (indefinite) c.brk();
        });
        map(c, members);
        return c.out;
    }

    std::string mutate(std::string text) {
        static const std::string alphabet = std::string("\xbf\xff\x9f\x5f\x7f\xc1\xf6\x40\x41\x60\x61\xa0\xa1\x80\x81"
                                                        "\x18\x19\x1b\x7c\xc3\x44\x64\xd9\x00", 24) + "DataK";
        const int edits = 1 + int(rng_() % 3);
        for (int e = 0; e < edits && !text.empty(); ++e) {
            const std::size_t at = rng_() % text.size();
            const char c = alphabet[rng_() % alphabet.size()];
            switch (rng_() % 4) {
                case 0: text[at] = c; break;
                case 1: text.insert(text.begin() + long(at), c); break;
                case 2: text[at] = char(rng_()); break;
                default: text.erase(at, 1 + rng_() % 3);
            }
        }
        return text;
    }

private:
    bool chance(unsigned one_in) { return rng_() % one_in == 0; }

    std::string word() {
        std::string w;
        for (std::size_t i = 0, n = 1 + rng_() % 30; i < n; ++i) w.push_back(char('a' + rng_() % 26));
        return w;
    }

    void string(cbor& c, unsigned major, const std::string& s) {
        if (chance(8)) c.head(6, chance(2) ? 1 : 24);
        if (chance(4))
            c.chunked(major, s, 1 + rng_() % 8);
        else if (chance(8))
            c.long_head(major, s.size()).raw(s);  // not the shortest form: still well-formed
        else
            c.head(major, s.size()).raw(s);
    }

    void map(cbor& c, std::vector<std::pair<std::string, std::function<void(cbor&)>>>& members) {
        std::shuffle(members.begin(), members.end(), rng_);
        if (chance(10) && !members.empty()) members.push_back(members.front());  // a repeated member
        const bool indefinite = chance(2);
        indefinite ? c.map_open() : c.head(5, members.size());
        for (auto& [name, value] : members) {
            string(c, 3, name);
            value(c);
        }
        if (indefinite) c.brk();
    }

    void record(cbor& c) {
        std::vector<std::pair<std::string, std::function<void(cbor&)>>> members;
        members.emplace_back("Data", [this](cbor& c) {
            std::string data;
            for (std::size_t i = 0, n = rng_() % 40; i < n; ++i) data.push_back(char(rng_()));
            string(c, chance(20) ? 3 : 2, data);
        });
        members.emplace_back("PartitionKey", [this](cbor& c) { string(c, 3, chance(20) ? "k\xc3\xa9" : word()); });
        if (chance(3)) members.emplace_back("ExplicitHashKey", [this](cbor& c) { string(c, 3, std::to_string(rng_())); });
        if (chance(12)) members.pop_back();
        map(c, members);
    }

    std::mt19937 rng_;
};

TEST(cbor_record_body, whatever_it_accepts_the_general_decoder_reads_alike) {
    body_generator gen(20261204);
    int accepted = 0, refused = 0, mutated_accepted = 0;
    for (int round = 0; round < 30000; ++round) {
        std::string text = gen.put_records_body();
        const bool mutated = round % 2 == 1;
        if (mutated) text = gen.mutate(std::move(text));
        record_body body;
        if (!read(put_records, text, body)) {
            ++refused;
            EXPECT_EQ(body.text, text);
            continue;
        }
        ++accepted;
        mutated_accepted += mutated;
        EXPECT_EQ(body.text, text);
        SCOPED_TRACE(json::binary(std::vector<std::uint8_t>(text.begin(), text.end())).dump());
        expect_same_as_general_decoder(put_records, text, body);
        if (HasFailure()) return;
    }
    // Every outcome was exercised, or the test proves nothing.
    EXPECT_GT(accepted, 2000);
    EXPECT_GT(mutated_accepted, 200);
    EXPECT_GT(refused, 2000);
}

}  // namespace
}  // namespace kinesd::codec
