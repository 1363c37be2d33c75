#include "delivery/compression.h"

#include <snappy.h>
#include <zlib.h>
#include <zstd.h>

#include <algorithm>
#include <cstdint>
#include <ctime>
#include <limits>
#include <stdexcept>

namespace kinesd::delivery {

namespace {

void put_le16(std::string& out, std::uint32_t v) {
    out += static_cast<char>(v & 0xff);
    out += static_cast<char>((v >> 8) & 0xff);
}

void put_le32(std::string& out, std::uint32_t v) {
    put_le16(out, v & 0xffff);
    put_le16(out, v >> 16);
}

void put_be32(std::string& out, std::uint32_t v) {
    out += static_cast<char>((v >> 24) & 0xff);
    out += static_cast<char>((v >> 16) & 0xff);
    out += static_cast<char>((v >> 8) & 0xff);
    out += static_cast<char>(v & 0xff);
}

// Runs zlib deflate over the whole input. window_bits picks the wrapper:
// 15 + 16 for gzip, -15 for the raw stream a ZIP entry holds.
std::string deflate_all(std::string_view input, int window_bits) {
    z_stream stream{};
    if (deflateInit2(&stream, Z_DEFAULT_COMPRESSION, Z_DEFLATED, window_bits, 8, Z_DEFAULT_STRATEGY) != Z_OK) {
        throw std::runtime_error("deflateInit2 failed");
    }
    std::string out;
    out.resize(deflateBound(&stream, static_cast<uLong>(input.size())) + 64);

    // zlib counts in uInt, so feed and drain at most 1 GiB at a time.
    constexpr std::size_t step = std::size_t{1} << 30;
    std::size_t consumed = 0;
    std::size_t produced = 0;
    int rc = Z_OK;
    while (rc != Z_STREAM_END) {
        if (stream.avail_in == 0 && consumed < input.size()) {
            std::size_t n = std::min(step, input.size() - consumed);
            stream.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(input.data() + consumed));
            stream.avail_in = static_cast<uInt>(n);
            consumed += n;
        }
        if (produced == out.size()) out.resize(out.size() * 2);
        std::size_t room = std::min(step, out.size() - produced);
        stream.next_out = reinterpret_cast<Bytef*>(out.data() + produced);
        stream.avail_out = static_cast<uInt>(room);
        int flush = consumed == input.size() ? Z_FINISH : Z_NO_FLUSH;
        rc = deflate(&stream, flush);
        produced += room - stream.avail_out;
        if (rc != Z_OK && rc != Z_STREAM_END && rc != Z_BUF_ERROR) {
            deflateEnd(&stream);
            throw std::runtime_error("deflate failed");
        }
    }
    deflateEnd(&stream);
    out.resize(produced);
    return out;
}

std::uint32_t crc32_of(std::string_view input) {
    uLong crc = crc32(0L, Z_NULL, 0);
    constexpr std::size_t step = std::size_t{1} << 30;
    for (std::size_t pos = 0; pos < input.size(); pos += step) {
        std::size_t n = std::min(step, input.size() - pos);
        crc = crc32(crc, reinterpret_cast<const Bytef*>(input.data() + pos), static_cast<uInt>(n));
    }
    return static_cast<std::uint32_t>(crc);
}

struct dos_time {
    std::uint16_t time;
    std::uint16_t date;
};

// MS-DOS timestamps start in 1980 and count seconds in twos.
dos_time to_dos_time(std::chrono::system_clock::time_point when) {
    std::time_t seconds = std::chrono::system_clock::to_time_t(when);
    std::tm t{};
    gmtime_r(&seconds, &t);
    if (t.tm_year < 80) return {0, static_cast<std::uint16_t>((1 << 5) | 1)};
    if (t.tm_year > 80 + 127) t.tm_year = 80 + 127;
    return {static_cast<std::uint16_t>((t.tm_hour << 11) | (t.tm_min << 5) | (t.tm_sec / 2)),
            static_cast<std::uint16_t>(((t.tm_year - 80) << 9) | ((t.tm_mon + 1) << 5) | t.tm_mday)};
}

std::string zip_archive(std::string_view body, const zip_entry_options& options) {
    constexpr std::uint64_t max32 = std::numeric_limits<std::uint32_t>::max();
    if (body.size() >= max32) throw std::length_error("ZIP body too large (no Zip64 support)");
    if (options.name.size() > 0xffff) throw std::length_error("ZIP entry name too long");
    std::string data = deflate_all(body, -15);
    if (data.size() >= max32) throw std::length_error("ZIP entry too large (no Zip64 support)");

    const std::uint32_t crc = crc32_of(body);
    const dos_time stamp = to_dos_time(options.modified);
    constexpr std::uint16_t version = 20;  // 2.0: deflate
    constexpr std::uint16_t method_deflate = 8;
    const std::uint16_t name_size = static_cast<std::uint16_t>(options.name.size());
    // Bit 11 says the name is UTF-8; set it only when the name needs it.
    const bool ascii = std::all_of(options.name.begin(), options.name.end(),
                                   [](char c) { return static_cast<unsigned char>(c) < 0x80; });
    const std::uint16_t flags = ascii ? 0 : 0x0800;

    std::string out;
    out.reserve(30 + name_size + data.size() + 46 + name_size + 22);
    put_le32(out, 0x04034b50);  // local file header
    put_le16(out, version);
    put_le16(out, flags);
    put_le16(out, method_deflate);
    put_le16(out, stamp.time);
    put_le16(out, stamp.date);
    put_le32(out, crc);
    put_le32(out, static_cast<std::uint32_t>(data.size()));
    put_le32(out, static_cast<std::uint32_t>(body.size()));
    put_le16(out, name_size);
    put_le16(out, 0);  // extra field length
    out += options.name;
    out += data;

    const std::uint64_t directory_offset = out.size();
    if (directory_offset >= max32) throw std::length_error("ZIP archive too large (no Zip64 support)");
    put_le32(out, 0x02014b50);  // central directory header
    put_le16(out, version);     // made by
    put_le16(out, version);     // needed to extract
    put_le16(out, flags);
    put_le16(out, method_deflate);
    put_le16(out, stamp.time);
    put_le16(out, stamp.date);
    put_le32(out, crc);
    put_le32(out, static_cast<std::uint32_t>(data.size()));
    put_le32(out, static_cast<std::uint32_t>(body.size()));
    put_le16(out, name_size);
    put_le16(out, 0);  // extra field length
    put_le16(out, 0);  // comment length
    put_le16(out, 0);  // disk number start
    put_le16(out, 0);  // internal attributes
    put_le32(out, 0);  // external attributes
    put_le32(out, 0);  // offset of the local header
    out += options.name;
    const std::uint64_t directory_size = out.size() - directory_offset;

    put_le32(out, 0x06054b50);  // end of central directory
    put_le16(out, 0);           // this disk
    put_le16(out, 0);           // disk with the directory
    put_le16(out, 1);           // entries on this disk
    put_le16(out, 1);           // entries in total
    put_le32(out, static_cast<std::uint32_t>(directory_size));
    put_le32(out, static_cast<std::uint32_t>(directory_offset));
    put_le16(out, 0);  // comment length
    return out;
}

// Compresses `body` block by block; hadoop selects Hadoop's block framing,
// otherwise snappy-java's stream format.
std::string snappy_blocks(std::string_view body, bool hadoop) {
    std::string out;
    out.reserve(16 + snappy::MaxCompressedLength(body.size()) + 8 * (body.size() / snappy_block_size + 1));
    if (!hadoop) {
        static constexpr char magic[8] = {'\x82', 'S', 'N', 'A', 'P', 'P', 'Y', '\0'};
        out.append(magic, sizeof magic);
        put_be32(out, 1);  // format version
        put_be32(out, 1);  // minimum compatible version
    }
    std::string block;
    for (std::size_t pos = 0; pos < body.size(); pos += snappy_block_size) {
        std::size_t n = std::min(snappy_block_size, body.size() - pos);
        block.clear();
        snappy::Compress(body.data() + pos, n, &block);
        if (hadoop) put_be32(out, static_cast<std::uint32_t>(n));
        put_be32(out, static_cast<std::uint32_t>(block.size()));
        out += block;
    }
    return out;
}

}  // namespace

// One zstd frame with the content size in its header, so any decoder
// (zstd -d, streaming or one-shot) reads it back.
static std::string zstd_frame(std::string_view body) {
    std::string out(ZSTD_compressBound(body.size()), '\0');
    auto n = ZSTD_compress(out.data(), out.size(), body.data(), body.size(), 3);
    if (ZSTD_isError(n)) throw std::runtime_error(std::string("zstd: ") + ZSTD_getErrorName(n));
    out.resize(n);
    return out;
}

std::optional<compression_format> parse_compression_format(std::string_view name) {
    if (name == "UNCOMPRESSED") return compression_format::uncompressed;
    if (name == "GZIP") return compression_format::gzip;
    if (name == "ZIP") return compression_format::zip;
    if (name == "Snappy") return compression_format::snappy;
    if (name == "HADOOP_SNAPPY") return compression_format::hadoop_snappy;
    if (name == "ZSTD") return compression_format::zstd;
    return std::nullopt;
}

std::string_view to_string(compression_format format) {
    switch (format) {
        case compression_format::uncompressed: return "UNCOMPRESSED";
        case compression_format::gzip: return "GZIP";
        case compression_format::zip: return "ZIP";
        case compression_format::snappy: return "Snappy";
        case compression_format::hadoop_snappy: return "HADOOP_SNAPPY";
        case compression_format::zstd: return "ZSTD";
    }
    return "UNCOMPRESSED";
}

std::string_view file_extension(compression_format format) {
    switch (format) {
        case compression_format::uncompressed: return "";
        case compression_format::gzip: return ".gz";
        case compression_format::zip: return ".zip";
        case compression_format::snappy: return ".snappy";
        case compression_format::hadoop_snappy: return ".snappy";
        case compression_format::zstd: return ".zst";
    }
    return "";
}

std::string_view content_encoding(compression_format format) {
    switch (format) {
        case compression_format::uncompressed: return "";
        case compression_format::gzip: return "gzip";
        case compression_format::zip: return "zip";
        case compression_format::snappy: return "snappy-java";
        case compression_format::hadoop_snappy: return "hadoop-snappy";
        case compression_format::zstd: return "zstd";
    }
    return "";
}

std::string compress(compression_format format, std::string_view body, const zip_entry_options& zip) {
    switch (format) {
        case compression_format::uncompressed: return std::string(body);
        case compression_format::gzip: return deflate_all(body, 15 + 16);
        case compression_format::zip: return zip_archive(body, zip);
        case compression_format::snappy: return snappy_blocks(body, false);
        case compression_format::hadoop_snappy: return snappy_blocks(body, true);
        case compression_format::zstd: return zstd_frame(body);
    }
    throw std::invalid_argument("unknown compression format");
}

}  // namespace kinesd::delivery
