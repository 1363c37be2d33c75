#pragma once
// What kinesd knows about one Firehose delivery stream. Persisted as JSON in
// the meta column family under "firehose/<name>" (to_json/from_json); the
// DirectPut record log and the delivery health are attached at run time.
//
// The destination is kept as the ExtendedS3DestinationDescription AWS would
// print, with every default filled in, so that DescribeDeliveryStream shows
// it as stored and UpdateDestination merges into it member by member.
// s3_settings() reads the parts delivery acts on out of it.
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "delivery/channel_format.h"
#include "delivery/compression.h"
#include "delivery/delivery_metrics.h"
#include "delivery/lambda_processor.h"
#include "storage/log_store.h"

namespace kinesd::delivery {

inline constexpr std::string_view direct_put = "DirectPut";
inline constexpr std::string_view kinesis_source = "KinesisStreamAsSource";
inline constexpr std::string_view first_destination_id = "destinationId-000000000001";
// Kinds of destination (delivery_stream::destination_type): the member name
// of the description without "DestinationDescription".
inline constexpr std::string_view extended_s3_destination = "ExtendedS3";
inline constexpr std::string_view http_endpoint_destination = "HttpEndpoint";

// How delivery is going, shared by the worker (writer) and
// DescribeDeliveryStream (reader). Not persisted: a restart starts healthy.
class delivery_health {
public:
    struct failure {
        std::string type;  // DeliveryStreamFailureType, e.g. UNKNOWN_ERROR
        std::string details;
    };
    void fail(std::string type, std::string details) {
        std::lock_guard lock(mutex_);
        failure_ = failure{std::move(type), std::move(details)};
    }
    void clear() {
        std::lock_guard lock(mutex_);
        failure_.reset();
    }
    std::optional<failure> current() const {
        std::lock_guard lock(mutex_);
        return failure_;
    }

private:
    mutable std::mutex mutex_;
    std::optional<failure> failure_;
};

enum class delivery_status { creating, active, deleting };
const char* to_string(delivery_status s);

// What the worker needs from the destination, parsed once per version.
struct s3_settings {
    std::string bucket;
    std::string prefix;
    std::string error_output_prefix;
    std::size_t size_bytes = 5u << 20;
    std::int64_t interval_ms = 300000;
    compression_format compression = compression_format::uncompressed;
    std::string extension;  // FileExtension, else the compression's
    bool append_newline = false;
    // Set when the stream delivers a Kinesis channel: record format
    // checks, dead-letter records and the channel's object keys.
    std::optional<channel_settings> channel;
    std::optional<lambda_settings> lambda;  // a Lambda processor transforms the records
};

// An HttpEndpointDestinationDescription's delivery settings.
struct http_settings {
    std::string url;
    std::string name;
    std::string access_key;  // kept in the stored description, never shown
    bool gzip = false;
    std::vector<std::pair<std::string, std::string>> common_attributes;
    std::int64_t retry_duration_ms = 300'000;
    bool backup_all = false;  // S3BackupMode AllData
    s3_settings backup;       // S3DestinationDescription
};

// The settings of an S3DestinationDescription-like member (the S3
// destination itself, or a backup bucket).
s3_settings s3_settings_of(const nlohmann::json& description);

struct delivery_stream {
    std::string name;
    std::uint64_t uid = 0;  // incarnation: names the DirectPut log
    std::string type = std::string(direct_put);
    std::int64_t created_ms = 0;
    std::int64_t active_at_ms = 0;  // CREATING until then
    std::int64_t last_update_ms = 0;  // 0 = never updated
    std::optional<std::int64_t> deleting_since_ms;
    std::uint64_t version = 1;

    // KinesisStreamAsSource
    std::string source_stream_arn;
    std::string source_role_arn;
    // DirectPut
    std::optional<int> throughput_hint_mbs;

    // DeliveryStreamEncryptionConfiguration
    std::string encryption_status = "DISABLED";
    std::string encryption_key_type;
    std::string encryption_key_arn;

    std::string destination_id = std::string(first_destination_id);
    std::string destination_type = std::string(extended_s3_destination);
    nlohmann::json destination;  // <destination_type>DestinationDescription
    std::map<std::string, std::string> tags;
    // Non-null for the internal delivery stream behind a Kinesis channel:
    // the channel as the Kinesis API describes it. Such a stream is never
    // shown by the Firehose API.
    nlohmann::json channel;

    // run time only
    storage::shard_ref log;  // DirectPut records
    std::shared_ptr<delivery_health> health = std::make_shared<delivery_health>();
    std::shared_ptr<delivery_metrics> metrics = std::make_shared<delivery_metrics>();

    delivery_status status(std::int64_t now_ms) const;
    bool is_kinesis_source() const { return type == kinesis_source; }
    bool is_channel() const { return !channel.is_null(); }
    // The stream name inside source_stream_arn.
    // The stream registry key of the source stream (see shown_name).
    std::string source_stream_name() const;
    // `name` is the registry key: the plain name, or "<owner>/<name>" for
    // an owner other than the default one. This is the name clients see.
    std::string shown_name() const;
    bool is_http_endpoint() const { return destination_type == http_endpoint_destination; }
    // Buffering for any destination; bucket, prefixes and compression of the
    // S3 destination, or of the backup bucket of the others.
    s3_settings s3() const;
    // For ExtendedS3 with S3BackupMode Enabled: the backup bucket.
    std::optional<s3_settings> s3_backup() const;
    http_settings http() const;

    nlohmann::json to_json() const;
    static delivery_stream from_json(const nlohmann::json& j);
};

// "arn:aws:s3:::<bucket>" -> "<bucket>" (the text after ":::").
std::string bucket_of(const std::string& bucket_arn);

}  // namespace kinesd::delivery
