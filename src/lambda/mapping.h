#pragma once
// One Lambda event source mapping from a Kinesis stream (or an enhanced
// fan-out consumer of one) to a function: its settings as Lambda's API names
// them, its lifecycle state, and the JSON forms it takes (the API's answer,
// and what is persisted in the meta column family).
//
// States follow Lambda's: Creating -> Enabled; Updating -> Enabled;
// Disabling -> Disabled; Enabling -> Enabled; Deleting -> gone. The
// transient ones last `transition_ms` after the call that began them; they
// are computed from timestamps, so no thread has to flip them.
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace kinesd::lambda {

enum class target_state { enabled, disabled, deleted };

struct mapping {
    std::string uuid;
    std::string event_source_arn;  // a stream ARN or a consumer ARN
    std::string function_name;     // the bare name the registry knows
    std::string function_arn;      // with a qualifier when one was given
    std::string account;           // owner of the stream
    std::string region;

    // Settings, with Lambda's defaults for Kinesis.
    int batch_size = 100;
    int max_batching_window_s = 0;
    std::string starting_position;  // TRIM_HORIZON | LATEST | AT_TIMESTAMP
    std::optional<double> starting_position_timestamp;  // epoch seconds
    int parallelization_factor = 1;
    bool bisect_on_error = false;
    int max_retry_attempts = -1;  // -1: until the record expires
    int max_record_age_s = -1;    // -1: never too old
    int tumbling_window_s = 0;
    bool report_batch_item_failures = false;
    nlohmann::json filter_criteria;  // null when none
    std::string on_failure_destination;  // "arn:aws:s3:::bucket" or empty

    // Lifecycle.
    target_state target = target_state::enabled;
    std::string transition;  // "Creating" | "Enabling" | "Disabling" | "Updating" | "Deleting" | ""
    std::int64_t transition_until_ms = 0;
    std::int64_t last_modified_ms = 0;
    std::string last_processing_result = "No records processed";
    // Counts the settings' versions: a poller holding an older one rereads.
    std::uint64_t version = 1;
    // When the mapping was created: LATEST means "after this" for shards
    // without a checkpoint, also after a restart.
    std::int64_t created_ms = 0;

    std::string state(std::int64_t now_ms) const;
    // Whether records should flow now (Deleting and Disabled stop them).
    bool active(std::int64_t now_ms) const;
    std::string mapping_arn() const { return "arn:aws:lambda:" + region + ":" + account + ":event-source-mapping:" + uuid; }
    // The source stream's ARN (the consumer ARN's stream part).
    std::string stream_arn() const;
    bool through_consumer() const { return event_source_arn.find(":stream/") != std::string::npos &&
                                           event_source_arn.find("/consumer/") != std::string::npos; }

    nlohmann::json to_api(std::int64_t now_ms) const;
    nlohmann::json to_store() const;
    static mapping from_store(const nlohmann::json& j);
};

// How long a transient state lasts.
inline constexpr std::int64_t transition_ms = 300;

}  // namespace kinesd::lambda
