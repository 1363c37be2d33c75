#include "delivery/compression.h"

#include <gtest/gtest.h>
#include <snappy.h>
#include <unistd.h>
#include <zlib.h>
#include <zstd.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <fstream>
#include <random>
#include <string>

using kinesd::delivery::compress;
using kinesd::delivery::compression_format;

namespace {

// Mixed content: compressible text with some random bytes in between, large
// enough to span several 32 KiB snappy blocks.
std::string sample_body(std::size_t size) {
    std::mt19937 rng(42);
    std::string out;
    out.reserve(size);
    int n = 0;
    while (out.size() < size) {
        out += "{\"ticker\":\"AMZN\",\"price\":" + std::to_string(n++) + "}\n";
        for (int i = 0; i < 8; ++i) out += static_cast<char>(rng() & 0xff);
    }
    out.resize(size);
    return out;
}

std::uint32_t le16(const std::string& s, std::size_t at) {
    return static_cast<unsigned char>(s.at(at)) | static_cast<unsigned char>(s.at(at + 1)) << 8;
}
std::uint32_t le32(const std::string& s, std::size_t at) { return le16(s, at) | le16(s, at + 2) << 16; }
std::uint32_t be32(const std::string& s, std::size_t at) {
    return static_cast<std::uint32_t>(static_cast<unsigned char>(s.at(at))) << 24 |
           static_cast<unsigned char>(s.at(at + 1)) << 16 | static_cast<unsigned char>(s.at(at + 2)) << 8 |
           static_cast<unsigned char>(s.at(at + 3));
}

// window_bits 15 + 16 for gzip, -15 for raw deflate.
std::string inflate_all(const std::string& data, int window_bits) {
    z_stream s{};
    EXPECT_EQ(inflateInit2(&s, window_bits), Z_OK);
    std::string out;
    char buffer[65536];
    s.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
    s.avail_in = static_cast<uInt>(data.size());
    int rc = Z_OK;
    while (rc != Z_STREAM_END) {
        s.next_out = reinterpret_cast<Bytef*>(buffer);
        s.avail_out = sizeof buffer;
        rc = inflate(&s, Z_NO_FLUSH);
        if (rc != Z_OK && rc != Z_STREAM_END) {
            ADD_FAILURE() << "inflate failed: " << rc;
            break;
        }
        out.append(buffer, sizeof buffer - s.avail_out);
    }
    EXPECT_EQ(s.avail_in, 0u) << "trailing bytes after the deflate stream";
    inflateEnd(&s);
    return out;
}

struct zip_entry {
    std::string name;
    std::string data;
    std::uint32_t crc = 0;
    std::uint16_t time = 0;
    std::uint16_t date = 0;
};

// Reads the archive the way an unzipper does: from the end record to the
// central directory to the local header.
zip_entry read_single_entry_zip(const std::string& zip) {
    zip_entry entry;
    EXPECT_GE(zip.size(), 22u);
    const std::size_t end = zip.size() - 22;
    EXPECT_EQ(le32(zip, end), 0x06054b50u);
    EXPECT_EQ(le16(zip, end + 8), 1u);
    EXPECT_EQ(le16(zip, end + 10), 1u);
    const std::uint32_t dir_size = le32(zip, end + 12);
    const std::uint32_t dir_offset = le32(zip, end + 16);
    EXPECT_EQ(dir_offset + dir_size, end);

    EXPECT_EQ(le32(zip, dir_offset), 0x02014b50u);
    EXPECT_EQ(le16(zip, dir_offset + 10), 8u);  // deflate
    const std::uint32_t crc = le32(zip, dir_offset + 16);
    const std::uint32_t csize = le32(zip, dir_offset + 20);
    const std::uint32_t usize = le32(zip, dir_offset + 24);
    const std::uint32_t name_len = le16(zip, dir_offset + 28);
    const std::uint32_t local = le32(zip, dir_offset + 42);
    entry.name = zip.substr(dir_offset + 46, name_len);

    EXPECT_EQ(le32(zip, local), 0x04034b50u);
    EXPECT_EQ(le16(zip, local + 8), 8u);
    EXPECT_EQ(le32(zip, local + 14), crc);
    EXPECT_EQ(le32(zip, local + 18), csize);
    EXPECT_EQ(le32(zip, local + 22), usize);
    EXPECT_EQ(zip.substr(local + 30, le16(zip, local + 26)), entry.name);
    entry.time = static_cast<std::uint16_t>(le16(zip, local + 10));
    entry.date = static_cast<std::uint16_t>(le16(zip, local + 12));
    const std::size_t data_at = local + 30 + le16(zip, local + 26) + le16(zip, local + 28);
    EXPECT_EQ(data_at + csize, dir_offset);
    entry.data = inflate_all(zip.substr(data_at, csize), -15);
    EXPECT_EQ(entry.data.size(), usize);
    entry.crc = crc;
    return entry;
}

std::string xerial_decode(const std::string& data) {
    EXPECT_GE(data.size(), 16u);
    EXPECT_EQ(data.substr(0, 8), std::string("\x82SNAPPY\0", 8));
    EXPECT_EQ(be32(data, 8), 1u);
    EXPECT_EQ(be32(data, 12), 1u);
    std::string out;
    std::size_t pos = 16;
    while (pos < data.size()) {
        std::uint32_t n = be32(data, pos);
        std::string block;
        EXPECT_TRUE(snappy::Uncompress(data.data() + pos + 4, n, &block));
        EXPECT_LE(block.size(), kinesd::delivery::snappy_block_size);
        out += block;
        pos += 4 + n;
    }
    EXPECT_EQ(pos, data.size());
    return out;
}

std::string hadoop_decode(const std::string& data) {
    std::string out;
    std::size_t pos = 0;
    while (pos < data.size()) {
        std::uint32_t raw = be32(data, pos);
        std::uint32_t n = be32(data, pos + 4);
        std::string block;
        EXPECT_TRUE(snappy::Uncompress(data.data() + pos + 8, n, &block));
        EXPECT_EQ(block.size(), raw);
        EXPECT_LE(block.size(), kinesd::delivery::snappy_block_size);
        out += block;
        pos += 8 + n;
    }
    EXPECT_EQ(pos, data.size());
    return out;
}

}  // namespace

TEST(compression, names_extensions_and_encodings) {
    using kinesd::delivery::content_encoding;
    using kinesd::delivery::file_extension;
    using kinesd::delivery::parse_compression_format;
    for (const char* name : {"UNCOMPRESSED", "GZIP", "ZIP", "Snappy", "HADOOP_SNAPPY", "ZSTD"}) {
        auto f = parse_compression_format(name);
        ASSERT_TRUE(f.has_value()) << name;
        EXPECT_EQ(kinesd::delivery::to_string(*f), name);
    }
    EXPECT_FALSE(parse_compression_format("SNAPPY").has_value());
    EXPECT_FALSE(parse_compression_format("gzip").has_value());
    EXPECT_FALSE(parse_compression_format("").has_value());

    EXPECT_EQ(file_extension(compression_format::uncompressed), "");
    EXPECT_EQ(file_extension(compression_format::gzip), ".gz");
    EXPECT_EQ(file_extension(compression_format::zip), ".zip");
    EXPECT_EQ(file_extension(compression_format::snappy), ".snappy");
    EXPECT_EQ(file_extension(compression_format::hadoop_snappy), ".snappy");
    EXPECT_EQ(content_encoding(compression_format::uncompressed), "");
    EXPECT_EQ(content_encoding(compression_format::gzip), "gzip");
    EXPECT_EQ(content_encoding(compression_format::zip), "zip");
    EXPECT_EQ(content_encoding(compression_format::snappy), "snappy-java");
    EXPECT_EQ(content_encoding(compression_format::hadoop_snappy), "hadoop-snappy");
    EXPECT_EQ(file_extension(compression_format::zstd), ".zst");
    EXPECT_EQ(content_encoding(compression_format::zstd), "zstd");
}

TEST(compression, zstd_round_trip) {
    for (std::size_t size : {std::size_t{0}, std::size_t{1}, std::size_t{300000}}) {
        std::string body = sample_body(size);
        std::string z = compress(compression_format::zstd, body);
        ASSERT_GE(z.size(), 4u);
        EXPECT_EQ(z.substr(0, 4), std::string("\x28\xb5\x2f\xfd", 4));  // frame magic
        // The content size is in the frame header, so one-shot decoders work.
        ASSERT_EQ(ZSTD_getFrameContentSize(z.data(), z.size()), size);
        std::string back(size, '\0');
        EXPECT_EQ(ZSTD_decompress(back.data(), back.size(), z.data(), z.size()), size);
        EXPECT_EQ(back, body);
    }
}

TEST(compression, uncompressed_is_the_body) {
    std::string body = sample_body(1000);
    EXPECT_EQ(compress(compression_format::uncompressed, body), body);
}

TEST(compression, gzip_round_trip) {
    for (std::size_t size : {std::size_t{0}, std::size_t{1}, std::size_t{300000}}) {
        std::string body = sample_body(size);
        std::string gz = compress(compression_format::gzip, body);
        ASSERT_GE(gz.size(), 18u);
        EXPECT_EQ(static_cast<unsigned char>(gz[0]), 0x1f);
        EXPECT_EQ(static_cast<unsigned char>(gz[1]), 0x8b);
        EXPECT_EQ(inflate_all(gz, 15 + 16), body) << size;
        if (size > 1000) {
            EXPECT_LT(gz.size(), body.size());
        }
    }
}

TEST(compression, zip_holds_one_deflated_entry) {
    using namespace std::chrono;
    std::string body = sample_body(200000);
    kinesd::delivery::zip_entry_options options;
    options.name = "3f8e1c2a-7d4b-4e55-9a61-0c2b8d9e7f10";
    options.modified = sys_days{year{2018} / 8 / 27} + hours{10} + minutes{30} + seconds{7};
    std::string zip = compress(compression_format::zip, body, options);

    zip_entry entry = read_single_entry_zip(zip);
    EXPECT_EQ(entry.name, options.name);
    EXPECT_EQ(entry.data, body);
    EXPECT_EQ(entry.crc, crc32(0, reinterpret_cast<const Bytef*>(body.data()), static_cast<uInt>(body.size())));
    EXPECT_EQ(entry.time, (10 << 11) | (30 << 5) | 3);
    EXPECT_EQ(entry.date, ((2018 - 1980) << 9) | (8 << 5) | 27);

    zip_entry empty = read_single_entry_zip(compress(compression_format::zip, ""));
    EXPECT_EQ(empty.data, "");
    EXPECT_EQ(empty.name, "data");
}

TEST(compression, zip_opens_with_unzip) {
    if (access("/usr/bin/unzip", X_OK) != 0) GTEST_SKIP() << "unzip is not installed";
    std::string body = sample_body(100000);
    kinesd::delivery::zip_entry_options options;
    options.name = "entry-name";
    std::string zip = compress(compression_format::zip, body, options);
    char path[] = "/tmp/kinesd_zip_XXXXXX";
    int fd = mkstemp(path);
    ASSERT_GE(fd, 0);
    ASSERT_EQ(write(fd, zip.data(), zip.size()), static_cast<ssize_t>(zip.size()));
    close(fd);

    std::string command = std::string("/usr/bin/unzip -p ") + path + " entry-name 2>/dev/null";
    FILE* pipe = popen(command.c_str(), "r");
    ASSERT_NE(pipe, nullptr);
    std::string out;
    char buffer[65536];
    std::size_t n;
    while ((n = fread(buffer, 1, sizeof buffer, pipe)) > 0) out.append(buffer, n);
    int status = pclose(pipe);
    std::string test = std::string("/usr/bin/unzip -tq ") + path + " >/dev/null 2>&1";
    int test_status = std::system(test.c_str());
    unlink(path);
    EXPECT_EQ(status, 0);
    EXPECT_EQ(test_status, 0);
    EXPECT_EQ(out, body);
}

TEST(compression, snappy_java_stream_format) {
    for (std::size_t size : {std::size_t{0}, std::size_t{10}, std::size_t{32 * 1024}, std::size_t{100000}}) {
        std::string body = sample_body(size);
        std::string data = compress(compression_format::snappy, body);
        EXPECT_EQ(xerial_decode(data), body) << size;
    }
    // Exactly ceil(size / 32 KiB) blocks.
    std::string data = compress(compression_format::snappy, sample_body(100000));
    int blocks = 0;
    for (std::size_t pos = 16; pos < data.size(); pos += 4 + be32(data, pos)) ++blocks;
    EXPECT_EQ(blocks, 4);
}

TEST(compression, hadoop_snappy_block_format) {
    for (std::size_t size : {std::size_t{0}, std::size_t{10}, std::size_t{65536}, std::size_t{100001}}) {
        std::string body = sample_body(size);
        std::string data = compress(compression_format::hadoop_snappy, body);
        EXPECT_EQ(hadoop_decode(data), body) << size;
        if (size == 0) {
            EXPECT_TRUE(data.empty());
        }
    }
    std::string data = compress(compression_format::hadoop_snappy, sample_body(100001));
    EXPECT_EQ(be32(data, 0), 32768u);  // first block's uncompressed length
}
