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

#include <nlohmann/json.hpp>

#include "delivery/compression.h"
#include "delivery/delivery_metrics.h"
#include "delivery/lambda_processor.h"
#include "storage/store.h"

namespace kinesd::delivery {

inline constexpr std::string_view direct_put = "DirectPut";
inline constexpr std::string_view kinesis_source = "KinesisStreamAsSource";
inline constexpr std::string_view first_destination_id = "destinationId-000000000001";

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
    std::optional<lambda_settings> lambda;  // a Lambda processor transforms the records
};

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
    nlohmann::json destination;  // ExtendedS3DestinationDescription
    std::map<std::string, std::string> tags;

    // run time only
    storage::shard_ref log;  // DirectPut records
    std::shared_ptr<delivery_health> health = std::make_shared<delivery_health>();
    std::shared_ptr<delivery_metrics> metrics = std::make_shared<delivery_metrics>();

    delivery_status status(std::int64_t now_ms) const;
    bool is_kinesis_source() const { return type == kinesis_source; }
    // The stream name inside source_stream_arn.
    // The stream registry key of the source stream (see shown_name).
    std::string source_stream_name() const;
    // `name` is the registry key: the plain name, or "<owner>/<name>" for
    // an owner other than the default one. This is the name clients see.
    std::string shown_name() const;
    s3_settings s3() const;

    nlohmann::json to_json() const;
    static delivery_stream from_json(const nlohmann::json& j);
};

// "arn:aws:s3:::<bucket>" -> "<bucket>" (the text after ":::").
std::string bucket_of(const std::string& bucket_arn);

}  // namespace kinesd::delivery
