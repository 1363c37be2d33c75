#include "lambda/mapping_params.h"

#include "lambda/event_filter.h"

namespace kinesd::lambda {

namespace {

// Lambda's member names in validation messages are camelCase.
std::string camel(std::string_view member) {
    std::string s(member);
    if (!s.empty()) s[0] = char(std::tolower(static_cast<unsigned char>(s[0])));
    return s;
}

std::optional<long long> integer(const nlohmann::json& in, const char* member, long long lo, long long hi) {
    auto it = in.find(member);
    if (it == in.end() || it->is_null()) return std::nullopt;
    if (!it->is_number_integer())
        throw api_error(400, "InvalidParameterValueException", std::string(member) + " must be an integer");
    const auto v = it->get<long long>();
    if (v < lo)
        throw api_error::validation("1 validation error detected: Value '" + std::to_string(v) + "' at '" +
                                    camel(member) + "' failed to satisfy constraint: Member must have value greater "
                                    "than or equal to " + std::to_string(lo));
    if (v > hi)
        throw api_error::validation("1 validation error detected: Value '" + std::to_string(v) + "' at '" +
                                    camel(member) + "' failed to satisfy constraint: Member must have value less "
                                    "than or equal to " + std::to_string(hi));
    return v;
}

std::optional<bool> boolean(const nlohmann::json& in, const char* member) {
    auto it = in.find(member);
    if (it == in.end() || it->is_null()) return std::nullopt;
    if (!it->is_boolean()) throw invalid_parameter(std::string(member) + " must be a boolean");
    return it->get<bool>();
}

void apply_destination(mapping& m, const nlohmann::json& d) {
    if (!d.is_object()) throw invalid_parameter("DestinationConfig must be an object");
    auto on_failure = d.find("OnFailure");
    if (on_failure == d.end() || on_failure->is_null()) return;
    auto dest = on_failure->find("Destination");
    if (dest == on_failure->end() || dest->is_null() || (dest->is_string() && dest->get<std::string>().empty())) {
        m.on_failure_destination.clear();
        return;
    }
    if (!dest->is_string()) throw invalid_parameter("Destination must be a string");
    const auto arn = dest->get<std::string>();
    if (!arn.starts_with("arn:aws:s3:::") || arn.size() <= 13 || arn.find('/', 13) != std::string::npos)
        throw invalid_parameter("The provided destination config DestinationConfig(onSuccess=null, onFailure="
                                "OnFailure(destination=" + arn + ")) is invalid: this server delivers failures to "
                                "an S3 bucket ARN (arn:aws:s3:::bucket) only.");
    m.on_failure_destination = arn;
}

void apply_filters(mapping& m, const nlohmann::json& f) {
    if (f.is_null()) return;
    if (!f.is_object()) throw invalid_parameter("FilterCriteria must be an object");
    auto filters = f.find("Filters");
    if (filters == f.end() || filters->is_null() || (filters->is_array() && filters->empty())) {
        // An empty filter list removes the filtering.
        m.filter_criteria = nullptr;
        return;
    }
    if (!filters->is_array()) throw invalid_parameter("Filters must be a list");
    if (filters->size() > 5)
        throw invalid_parameter("The number of filters (" + std::to_string(filters->size()) +
                                ") exceeds the limit of 5 for this event source.");
    nlohmann::json kept = nlohmann::json::array();
    for (const auto& filter : *filters) {
        auto pattern = filter.is_object() ? filter.find("Pattern") : filter.end();
        if (pattern == filter.end() || !pattern->is_string()) throw invalid_parameter("Invalid filter pattern definition.");
        std::string why;
        if (!event_filter::valid(pattern->get<std::string>(), &why))
            throw invalid_parameter("Invalid filter pattern definition." + (why.empty() ? "" : " " + why));
        kept.push_back({{"Pattern", pattern->get<std::string>()}});
    }
    m.filter_criteria = {{"Filters", kept}};
}

}  // namespace

void apply_params(mapping& m, const nlohmann::json& in, bool creating) {
    if (auto v = integer(in, "BatchSize", 1, 10000)) m.batch_size = int(*v);
    if (auto v = integer(in, "MaximumBatchingWindowInSeconds", 0, 300)) m.max_batching_window_s = int(*v);
    if (auto v = integer(in, "ParallelizationFactor", 1, 10)) m.parallelization_factor = int(*v);
    if (auto v = integer(in, "MaximumRetryAttempts", -1, 10000)) m.max_retry_attempts = int(*v);
    if (auto v = integer(in, "MaximumRecordAgeInSeconds", -1, 604800)) {
        if (*v != -1 && *v < 60)
            throw invalid_parameter("MaximumRecordAgeInSeconds must be -1 or between 60 and 604800.");
        m.max_record_age_s = int(*v);
    }
    if (auto v = integer(in, "TumblingWindowInSeconds", 0, 900)) m.tumbling_window_s = int(*v);
    if (auto v = boolean(in, "BisectBatchOnFunctionError")) m.bisect_on_error = *v;
    if (auto it = in.find("FunctionResponseTypes"); it != in.end() && !it->is_null()) {
        if (!it->is_array()) throw invalid_parameter("FunctionResponseTypes must be a list");
        m.report_batch_item_failures = false;
        for (const auto& t : *it) {
            if (!t.is_string() || t.get<std::string>() != "ReportBatchItemFailures")
                throw api_error::validation("1 validation error detected: Value '[" +
                                            (t.is_string() ? t.get<std::string>() : t.dump()) +
                                            "]' at 'functionResponseTypes' failed to satisfy constraint: Member "
                                            "must satisfy constraint: [Member must satisfy enum value set: "
                                            "[ReportBatchItemFailures]]");
            m.report_batch_item_failures = true;
        }
    }
    if (auto it = in.find("DestinationConfig"); it != in.end() && !it->is_null()) apply_destination(m, *it);
    if (auto it = in.find("FilterCriteria"); it != in.end()) apply_filters(m, *it);
    if (auto v = boolean(in, "Enabled")) m.target = *v ? target_state::enabled : target_state::disabled;

    if (!creating) return;
    auto sp = in.find("StartingPosition");
    if (sp == in.end() || sp->is_null())
        throw invalid_parameter("1 validation error detected: Value null at 'startingPosition' failed to satisfy "
                                "constraint: Member must not be null for Kinesis event sources");
    const auto position = sp->is_string() ? sp->get<std::string>() : std::string();
    if (position != "TRIM_HORIZON" && position != "LATEST" && position != "AT_TIMESTAMP")
        throw api_error::validation("1 validation error detected: Value '" + position +
                                    "' at 'startingPosition' failed to satisfy constraint: Member must satisfy enum "
                                    "value set: [TRIM_HORIZON, AT_TIMESTAMP, LATEST]");
    m.starting_position = position;
    if (auto ts = in.find("StartingPositionTimestamp"); ts != in.end() && !ts->is_null()) {
        if (!ts->is_number()) throw invalid_parameter("StartingPositionTimestamp must be a timestamp");
        if (position != "AT_TIMESTAMP")
            throw invalid_parameter("StartingPositionTimestamp can only be set with StartingPosition AT_TIMESTAMP.");
        m.starting_position_timestamp = ts->get<double>();
    } else if (position == "AT_TIMESTAMP") {
        throw invalid_parameter("StartingPositionTimestamp must be set when StartingPosition is AT_TIMESTAMP.");
    }
}

}  // namespace kinesd::lambda
