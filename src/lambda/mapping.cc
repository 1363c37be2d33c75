#include "lambda/mapping.h"

namespace kinesd::lambda {

std::string mapping::state(std::int64_t now_ms) const {
    if (!transition.empty() && now_ms < transition_until_ms) return transition;
    switch (target) {
        case target_state::enabled: return "Enabled";
        case target_state::disabled: return "Disabled";
        case target_state::deleted: return "Deleting";
    }
    return "Enabled";
}

bool mapping::active(std::int64_t) const {
    // Enabling, Updating and Creating already deliver: the settings are in
    // place, only the answer says the change is still settling.
    return target == target_state::enabled;
}

std::string mapping::stream_arn() const {
    auto consumer = event_source_arn.find("/consumer/");
    return consumer == std::string::npos ? event_source_arn : event_source_arn.substr(0, consumer);
}

nlohmann::json mapping::to_api(std::int64_t now_ms) const {
    nlohmann::json j = {
        {"UUID", uuid},
        {"StartingPosition", starting_position},
        {"BatchSize", batch_size},
        {"MaximumBatchingWindowInSeconds", max_batching_window_s},
        {"ParallelizationFactor", parallelization_factor},
        {"EventSourceArn", event_source_arn},
        {"FunctionArn", function_arn},
        // REST-JSON timestamps are epoch seconds; Lambda sends a fraction.
        {"LastModified", double(last_modified_ms) / 1000.0},
        {"LastProcessingResult", last_processing_result},
        {"State", state(now_ms)},
        {"StateTransitionReason", "USER_INITIATED"},
        {"DestinationConfig", {{"OnFailure", nlohmann::json::object()}}},
        {"MaximumRecordAgeInSeconds", max_record_age_s},
        {"BisectBatchOnFunctionError", bisect_on_error},
        {"MaximumRetryAttempts", max_retry_attempts},
        {"TumblingWindowInSeconds", tumbling_window_s},
        {"FunctionResponseTypes", nlohmann::json::array()},
        {"EventSourceMappingArn", mapping_arn()},
    };
    if (starting_position_timestamp) j["StartingPositionTimestamp"] = *starting_position_timestamp;
    if (!on_failure_destination.empty())
        j["DestinationConfig"]["OnFailure"]["Destination"] = on_failure_destination;
    if (report_batch_item_failures) j["FunctionResponseTypes"].push_back("ReportBatchItemFailures");
    if (!filter_criteria.is_null()) j["FilterCriteria"] = filter_criteria;
    return j;
}

nlohmann::json mapping::to_store() const {
    nlohmann::json j = {
        {"uuid", uuid}, {"source", event_source_arn}, {"function", function_name}, {"function_arn", function_arn},
        {"account", account}, {"region", region}, {"batch_size", batch_size},
        {"window_s", max_batching_window_s}, {"starting_position", starting_position},
        {"parallelization", parallelization_factor}, {"bisect", bisect_on_error},
        {"retries", max_retry_attempts}, {"max_age_s", max_record_age_s}, {"tumbling_s", tumbling_window_s},
        {"report_failures", report_batch_item_failures}, {"filter", filter_criteria},
        {"on_failure", on_failure_destination}, {"target", int(target)}, {"transition", transition},
        {"transition_until_ms", transition_until_ms}, {"last_modified_ms", last_modified_ms},
        {"last_result", last_processing_result}, {"version", version}, {"created_ms", created_ms},
    };
    if (starting_position_timestamp) j["starting_ts"] = *starting_position_timestamp;
    return j;
}

mapping mapping::from_store(const nlohmann::json& j) {
    mapping m;
    m.uuid = j.at("uuid");
    m.event_source_arn = j.at("source");
    m.function_name = j.at("function");
    m.function_arn = j.at("function_arn");
    m.account = j.at("account");
    m.region = j.at("region");
    m.batch_size = j.value("batch_size", 100);
    m.max_batching_window_s = j.value("window_s", 0);
    m.starting_position = j.value("starting_position", "TRIM_HORIZON");
    if (j.contains("starting_ts")) m.starting_position_timestamp = j["starting_ts"].get<double>();
    m.parallelization_factor = j.value("parallelization", 1);
    m.bisect_on_error = j.value("bisect", false);
    m.max_retry_attempts = j.value("retries", -1);
    m.max_record_age_s = j.value("max_age_s", -1);
    m.tumbling_window_s = j.value("tumbling_s", 0);
    m.report_batch_item_failures = j.value("report_failures", false);
    m.filter_criteria = j.value("filter", nlohmann::json());
    m.on_failure_destination = j.value("on_failure", "");
    m.target = target_state(j.value("target", 0));
    m.transition = j.value("transition", "");
    m.transition_until_ms = j.value("transition_until_ms", std::int64_t(0));
    m.last_modified_ms = j.value("last_modified_ms", std::int64_t(0));
    m.last_processing_result = j.value("last_result", "No records processed");
    m.version = j.value("version", std::uint64_t(1));
    m.created_ms = j.value("created_ms", std::int64_t(0));
    return m;
}

}  // namespace kinesd::lambda
