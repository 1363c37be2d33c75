#pragma once
// Amazon S3 as a destination (ExtendedS3, with its optional source-record
// backup bucket), and the S3 object writing the other destinations share
// for their backup buckets.
#include <map>
#include <memory>
#include <string>
#include <string_view>

#include "delivery/destination.h"

namespace kinesd::delivery {

struct object_keys {
    std::string key;        // under Prefix
    std::string error_key;  // under ErrorOutputPrefix (or <error_type>/... by default)
};
// Keys for one object of `settings` holding records whose oldest arrived at
// oldest_ms; `error_type` fills !{firehose:error-output-type}.
object_keys make_object_keys(const s3_settings& settings, const destination_context& ctx, std::string_view uuid,
                             std::int64_t oldest_ms, std::string_view error_type,
                             const std::map<std::string, std::string>* partition_keys = nullptr);

// Writes error documents to the ErrorOutputPrefix of `settings`.
std::unique_ptr<delivery> make_error_output_delivery(std::shared_ptr<const destination_context> ctx,
                                                     const s3_settings& settings, std::string documents,
                                                     std::string_view error_type, std::string uuid,
                                                     std::int64_t oldest_ms);

// Compresses `body` per the settings and writes it; "" when it is stored,
// else why not. `retryable` tells whether trying again may help.
std::string write_object(const destination_context& ctx, const s3_settings& settings, const std::string& key,
                         std::string_view body, std::string_view uuid, std::int64_t oldest_ms, bool& retryable);

// Back-off of S3 writes: initial, doubling, capped.
std::int64_t s3_backoff_ms(const destination_context& ctx, int attempts);

std::shared_ptr<destination> make_s3_destination(const delivery_stream& stream, destination_context ctx);

}  // namespace kinesd::delivery
