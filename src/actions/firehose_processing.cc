// Rules of ProcessingConfiguration and DynamicPartitioningConfiguration that
// the request shapes cannot express, checked by CreateDeliveryStream and
// UpdateDestination (through check_destination).
#include <set>

#include "actions/firehose_common.h"
#include "common/base64.h"
#include "delivery/jq_query.h"

namespace kinesd::actions::firehose {

namespace {

using nlohmann::json;

[[noreturn]] void invalid(const std::string& message) { throw api_error::invalid_argument(message); }

// Parameters a processor type accepts (the API reference and the
// developer guide's pages on each processor).
const std::map<std::string, std::set<std::string>>& allowed_parameters() {
    static const std::map<std::string, std::set<std::string>> table = {
        {"RecordDeAggregation", {"SubRecordType", "Delimiter"}},
        {"MetadataExtraction", {"MetadataExtractionQuery", "JsonParsingEngine"}},
        {"AppendDelimiterToRecord", {"Delimiter"}},
        {"Lambda", {"LambdaArn", "NumberOfRetries", "RoleArn", "BufferSizeInMBs", "BufferIntervalInSeconds"}},
    };
    return table;
}

std::map<std::string, std::string> parameters_of(const json& processor, const std::string& type) {
    std::map<std::string, std::string> out;
    const auto& allowed = allowed_parameters().at(type);
    for (auto& p : processor.value("Parameters", json::array())) {
        auto name = p.value("ParameterName", std::string());
        if (!allowed.contains(name))
            invalid("Parameter " + name + " is not supported for processor type " + type + ".");
        if (!out.emplace(name, p.value("ParameterValue", std::string())).second)
            invalid("Duplicate parameter " + name + " for processor type " + type + ".");
    }
    return out;
}

void check_base64_delimiter(const std::string& type, const std::string& value) {
    std::string bytes;
    if (!base64::decode(value, bytes) || bytes.empty())
        invalid("Delimiter of processor " + type + " must be a non-empty Base64-encoded string.");
}

// The names of the partition keys a Prefix reads from `ns`.
std::set<std::string> prefix_keys(const std::string& prefix, std::string_view ns) {
    std::set<std::string> keys;
    const std::string open = "!{" + std::string(ns) + ":";
    for (auto pos = prefix.find(open); pos != std::string::npos; pos = prefix.find(open, pos + 1)) {
        auto close = prefix.find('}', pos);
        if (close != std::string::npos) keys.insert(prefix.substr(pos + open.size(), close - pos - open.size()));
    }
    return keys;
}

// The top-level member names of an object-construction jq query
// ("{a: .x, b: .y|tostring}"), when the query has that plain shape; an
// empty set when it does not (keys are then checked per record only).
std::set<std::string> query_object_keys(const std::string& query) {
    std::set<std::string> keys;
    std::size_t start = query.find_first_not_of(" \t\r\n");
    if (start == std::string::npos || query[start] != '{') return keys;
    int depth = 0;
    bool in_string = false, expect_key = false;
    std::string current;
    for (std::size_t i = start; i < query.size(); ++i) {
        char c = query[i];
        if (in_string) {
            if (c == '\\') ++i;
            else if (c == '"') in_string = false;
            else if (depth == 1 && expect_key) current += c;
            continue;
        }
        if (c == '"') {
            in_string = true;
        } else if (c == '{' || c == '[' || c == '(') {
            if (++depth == 1) expect_key = true;
        } else if (c == '}' || c == ']' || c == ')') {
            if (depth == 1 && expect_key && !current.empty()) keys.insert(current);
            --depth;
        } else if (depth == 1 && c == ',') {
            if (expect_key && !current.empty()) keys.insert(current);  // {a} shorthand
            current.clear();
            expect_key = true;
        } else if (depth == 1 && c == ':' && expect_key) {
            keys.insert(current);
            current.clear();
            expect_key = false;
        } else if (depth == 1 && expect_key && c != ' ' && c != '\t' && c != '\n' && c != '\r' && c != '$') {
            current += c;
        }
    }
    return keys;
}

}  // namespace

void check_processing(const json& d) {
    bool partitioning = false;
    if (auto it = d.find("DynamicPartitioningConfiguration"); it != d.end() && it->is_object()) {
        partitioning = it->value("Enabled", false);
        if (auto r = it->find("RetryOptions"); r != it->end() && r->is_object() && r->contains("DurationInSeconds")) {
            auto seconds = (*r)["DurationInSeconds"];
            if (!seconds.is_number_integer() || seconds.get<long long>() < 0 || seconds.get<long long>() > 7200)
                invalid("RetryOptions.DurationInSeconds must be between 0 and 7200.");
        }
    }
    std::map<std::string, std::map<std::string, std::string>> processors;
    bool processing = false;
    if (auto it = d.find("ProcessingConfiguration"); it != d.end() && it->is_object()) {
        processing = it->value("Enabled", true);
        for (auto& p : it->value("Processors", json::array())) {
            auto type = p.value("Type", std::string());
            if (!allowed_parameters().contains(type))
                invalid("Processor type " + type + " is not supported.");
            if (processors.contains(type)) invalid("Processor type " + type + " is specified more than once.");
            processors[type] = parameters_of(p, type);
        }
    }
    if (processing) {
        if (auto it = processors.find("RecordDeAggregation"); it != processors.end()) {
            auto type = it->second.contains("SubRecordType") ? it->second["SubRecordType"] : "";
            if (type != "JSON" && type != "DELIMITED")
                invalid("SubRecordType of processor RecordDeAggregation must be JSON or DELIMITED.");
            if (type == "DELIMITED") {
                if (!it->second.contains("Delimiter"))
                    invalid("Delimiter is required for processor RecordDeAggregation when SubRecordType is "
                            "DELIMITED.");
                check_base64_delimiter("RecordDeAggregation", it->second["Delimiter"]);
            } else if (it->second.contains("Delimiter")) {
                invalid("Delimiter is only applicable to processor RecordDeAggregation when SubRecordType is "
                        "DELIMITED.");
            }
        }
        if (auto it = processors.find("AppendDelimiterToRecord"); it != processors.end())
            if (it->second.contains("Delimiter")) check_base64_delimiter("AppendDelimiterToRecord", it->second["Delimiter"]);
        if (auto it = processors.find("MetadataExtraction"); it != processors.end()) {
            if (!partitioning)
                invalid("MetadataExtraction processor is only supported when dynamic partitioning is enabled.");
            auto& params = it->second;
            if (!params.contains("MetadataExtractionQuery") || !params.contains("JsonParsingEngine"))
                invalid("MetadataExtraction processor requires the parameters MetadataExtractionQuery and "
                        "JsonParsingEngine.");
            if (params["JsonParsingEngine"] != "JQ-1.6")
                invalid("JsonParsingEngine " + params["JsonParsingEngine"] + " is not supported: use JQ-1.6.");
            if (auto error = delivery::jq_compile_error(params["MetadataExtractionQuery"]))
                invalid("MetadataExtractionQuery is not a valid JQ-1.6 expression: " + *error);
        }
        if (auto it = processors.find("Lambda"); it != processors.end() && !it->second.contains("LambdaArn"))
            invalid("Lambda processor requires the parameter LambdaArn.");
    }
    if (!partitioning) return;

    // Dynamic partitioning: the developer guide's rules.
    auto prefix = d.value("Prefix", std::string());
    if (d.value("ErrorOutputPrefix", std::string()).empty())
        invalid("ErrorOutputPrefix cannot be null or empty when dynamic partitioning is enabled.");
    if (auto it = d.find("BufferingHints"); it != d.end() && it->value("IntervalInSeconds", 300) == 0)
        invalid("Zero buffering (IntervalInSeconds 0) is not supported when dynamic partitioning is enabled.");
    auto query_keys = prefix_keys(prefix, "partitionKeyFromQuery");
    auto lambda_keys = prefix_keys(prefix, "partitionKeyFromLambda");
    bool has_query = processing && processors.contains("MetadataExtraction");
    bool has_lambda = processing && processors.contains("Lambda");
    if (!has_query && !has_lambda)
        invalid("When dynamic partitioning is enabled, a MetadataExtraction or Lambda processor must be enabled "
                "to provide partition keys.");
    if (query_keys.empty() && lambda_keys.empty())
        invalid("Prefix must contain at least one !{partitionKeyFromQuery:...} or !{partitionKeyFromLambda:...} "
                "expression when dynamic partitioning is enabled.");
    if (!query_keys.empty() && !has_query)
        invalid("Prefix uses partitionKeyFromQuery but no MetadataExtraction processor is enabled.");
    if (!lambda_keys.empty() && !has_lambda)
        invalid("Prefix uses partitionKeyFromLambda but no Lambda processor is enabled.");
    if (has_query) {
        auto defined = query_object_keys(processors["MetadataExtraction"]["MetadataExtractionQuery"]);
        if (!defined.empty())
            for (const auto& key : query_keys)
                if (!defined.contains(key))
                    invalid("Prefix refers to partitionKeyFromQuery:" + key +
                            ", which MetadataExtractionQuery does not define.");
    }
}

void check_partitioning_update(const json& stored, const json& merged) {
    auto enabled = [](const json& d) {
        auto it = d.find("DynamicPartitioningConfiguration");
        return it != d.end() && it->is_object() && it->value("Enabled", false);
    };
    if (enabled(stored) != enabled(merged))
        invalid(enabled(stored) ? "Dynamic partitioning cannot be disabled on a stream that has it enabled."
                                : "Dynamic partitioning cannot be enabled on an existing stream that was created "
                                  "without it.");
}

}  // namespace kinesd::actions::firehose
