#pragma once
// Compression of a finished Firehose object body, per the destination's
// CompressionFormat, together with the key extension and the Content-Encoding
// Firehose pairs with each format.
//
// The container formats follow what Firehose delivers, not only what its
// documentation tables:
// - Snappy is the snappy-java (xerial) stream format: the 16-byte header
//   0x82 "SNAPPY" 0x00, version 1, compatible version 1 (big-endian int32s),
//   then per 32 KiB input block a big-endian int32 length and a raw snappy
//   block. It is not Google's "framing format" (sNaPpY chunks); the AWS
//   documentation names neither, and third-party captures of real deliveries
//   show the xerial magic with Content-Encoding "snappy-java".
// - HADOOP_SNAPPY is Hadoop's block framing (what SnappyCodec reads): per
//   32 KiB input block, a big-endian int32 uncompressed length, a big-endian
//   int32 compressed length and the raw snappy block. Its extension is
//   ".snappy": the object-name documentation tables ".hsnappy", but objects
//   delivered by the service end in ".snappy".
// - ZIP is an archive holding one deflated entry.
#include <chrono>
#include <optional>
#include <string>
#include <string_view>

namespace kinesd::delivery {

// zstd is not a Firehose format (the Firehose API's enum refuses it): Kinesis
// channels offer it, and they share this code.
enum class compression_format { uncompressed, gzip, zip, snappy, hadoop_snappy, zstd };

// The API's spelling is case-sensitive: "UNCOMPRESSED", "GZIP", "ZIP",
// "Snappy", "HADOOP_SNAPPY". Anything else gives nullopt.
std::optional<compression_format> parse_compression_format(std::string_view name);
std::string_view to_string(compression_format format);

// ".gz", ".zip", ".snappy", ".zst", or "" for UNCOMPRESSED.
std::string_view file_extension(compression_format format);
// "gzip", "zip", "snappy-java", "hadoop-snappy", "zstd", or "" (send no header).
std::string_view content_encoding(compression_format format);

struct zip_entry_options {
    // The entry's file name inside the archive; Firehose uses a random UUID.
    std::string name = "data";
    // The entry's modification time (stored as an MS-DOS date and time, UTC).
    std::chrono::system_clock::time_point modified{};
};

// Compresses a whole object body. Throws std::length_error for a ZIP body
// of 4 GiB or more (no Zip64) and std::runtime_error if a codec fails.
std::string compress(compression_format format, std::string_view body,
                     const zip_entry_options& zip = {});

// Snappy input block size both snappy containers use (snappy-java's default).
inline constexpr std::size_t snappy_block_size = 32 * 1024;

}  // namespace kinesd::delivery
