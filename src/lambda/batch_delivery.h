#pragma once
// Hands one batch of a shard's records to the function and sees it through:
// retries with backoff, BisectBatchOnFunctionError (halves do not use up
// retries, as on AWS), ReportBatchItemFailures (resume from the lowest
// failed sequence number; an empty or null itemIdentifier, or one not in the
// batch, fails the whole batch), MaximumRetryAttempts and
// MaximumRecordAgeInSeconds. An invocation that does not reach the function
// (no connection, throttled) is retried without using up retries, as on
// AWS, until the records are too old. Records given up on go to the S3 on-failure
// destination as Lambda's failure document (or are dropped, with a log line,
// when the mapping has none). Runs on the calling lane thread and blocks.
#include <functional>
#include <vector>

#include <nlohmann/json.hpp>

#include "lambda/esm_metrics.h"
#include "lambda/kinesis_event.h"
#include "lambda/mapping.h"
#include "lambda/shard_lane.h"

namespace kinesd::lambda {

class batch_delivery {
public:
    // `sleep` waits and returns false when the lane is asked to stop.
    batch_delivery(const lane_context& ctx, const mapping& m, const event_context& ev, esm_counters& counters,
                   std::function<bool(std::int64_t)> sleep)
        : ctx_(ctx), m_(m), ev_(ev), counters_(counters), sleep_(std::move(sleep)) {}

    // Tumbling windows: the fields added to every event (window, state,
    // shardId, ...); the function's answered "state" comes back in `state`.
    struct window_call {
        nlohmann::json fields;
        nlohmann::json* state = nullptr;
    };

    // True once every record was taken by the function or given up on;
    // false when the lane was stopped first (nothing may be checkpointed).
    bool deliver(std::vector<source_record> records, const window_call* window = nullptr) {
        return deliver(std::move(records), 0, window);
    }

private:
    bool deliver(std::vector<source_record> records, int retries, const window_call* window);
    std::string payload(const std::vector<source_record>& records, const window_call* window) const;
    // The lowest failed record's index; records.size() for none; -1 when
    // the answer fails the whole batch.
    long failed_from(const std::vector<source_record>& records, const invoke_outcome& out) const;
    bool give_up(const std::vector<source_record>& records, const char* condition, int invokes,
                 const invoke_outcome& last);
    std::int64_t backoff_ms(int retries) const;

    const lane_context& ctx_;
    const mapping& m_;
    const event_context& ev_;
    esm_counters& counters_;
    std::function<bool(std::int64_t)> sleep_;
};

}  // namespace kinesd::lambda
