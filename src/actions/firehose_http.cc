#include "actions/firehose_http.h"

#include "actions/firehose_common.h"
#include "delivery/lambda_processor.h"
#include "delivery/object_key.h"

namespace kinesd::actions::firehose {

namespace {

using nlohmann::json;

// The model's pattern is https://.*; kinesd also takes http:// so that
// endpoints on a private network or in tests need no certificate.
bool url_matches(std::string_view s) {
    return (s.starts_with("https://") && s.size() > 8) || (s.starts_with("http://") && s.size() > 7);
}
bool not_blank(std::string_view s) {
    return s.find_first_not_of(" \t\r\n\f\v") != std::string_view::npos;
}
bool any_text(std::string_view) { return true; }
bool secret_arn_matches(std::string_view s) {
    return s.starts_with("arn:") && s.find(":secretsmanager:") != std::string_view::npos &&
           s.find(":secret:") != std::string_view::npos;
}

const pattern url_pattern{"https://.*", url_matches};
const pattern name_pattern{R"(^(?!\s*$).+)", not_blank};
const pattern any_pattern{".*", any_text};
const pattern secret_arn{R"(arn:.*:secretsmanager:[a-zA-Z0-9\-]+:\d{12}:secret:[a-zA-Z0-9\-/_+=.@!]+)",
                         secret_arn_matches};

const shape endpoint_shape(bool required) {
    return {
        {.name = "Url", .required = required, .min_length = 1, .max_length = 1000, .regex = &url_pattern},
        {.name = "Name", .min_length = 1, .max_length = 256, .regex = &name_pattern},
        {.name = "AccessKey", .min_length = 0, .max_length = 4096, .regex = &any_pattern},
    };
}
const shape endpoint_config_shape = endpoint_shape(true);
const shape http_buffering_shape = {
    {.name = "SizeInMBs", .type = field_type::integer, .min_value = 1, .max_value = 64},
    {.name = "IntervalInSeconds", .type = field_type::integer, .min_value = 0, .max_value = 900},
};
const shape attribute_shape = {
    {.name = "AttributeName", .required = true, .min_length = 1, .max_length = 256, .regex = &name_pattern},
    {.name = "AttributeValue", .required = true, .min_length = 0, .max_length = 1024, .regex = &any_pattern},
};
const shape request_shape = {
    {.name = "ContentEncoding", .enum_values = {"NONE", "GZIP"}},
    {.name = "CommonAttributes", .type = field_type::list, .min_length = 0, .max_length = 50,
     .members = &attribute_shape, .java_class = "com.amazonaws.firehose.v20150804.HttpEndpointCommonAttribute"},
};
const shape retry_shape = {
    {.name = "DurationInSeconds", .type = field_type::integer, .min_value = 0, .max_value = 7200},
};
const shape secrets_shape = {
    {.name = "SecretARN", .min_length = 1, .max_length = 2048, .regex = &secret_arn},
    role_arn_field(false),
    {.name = "Enabled", .type = field_type::boolean, .required = true},
};

shape http_members(bool update) {
    return {
        {.name = "EndpointConfiguration", .type = field_type::structure, .required = !update,
         .members = &endpoint_config_shape},
        {.name = "BufferingHints", .type = field_type::structure, .members = &http_buffering_shape},
        {.name = "CloudWatchLoggingOptions", .type = field_type::structure, .members = &logging_shape},
        {.name = "RequestConfiguration", .type = field_type::structure, .members = &request_shape},
        {.name = "ProcessingConfiguration", .type = field_type::structure, .members = &processing_shape},
        role_arn_field(false),
        {.name = "RetryOptions", .type = field_type::structure, .members = &retry_shape},
        {.name = "S3BackupMode", .enum_values = {"FailedDataOnly", "AllData"}},
        {.name = update ? "S3Update" : "S3Configuration", .type = field_type::structure, .required = !update,
         .members = update ? &s3_update_shape : &s3_configuration_shape},
        {.name = "SecretsManagerConfiguration", .type = field_type::structure, .members = &secrets_shape},
    };
}

void merge_object(json& stored, const json& update) {
    for (auto& [k, v] : update.items()) stored[k] = v;
}

}  // namespace

const shape http_endpoint_configuration_shape = http_members(false);
const shape http_endpoint_update_shape = http_members(true);

json http_destination_from_configuration(const json& config) {
    json d = {{"EndpointConfiguration", config.at("EndpointConfiguration")},
              {"BufferingHints", {{"SizeInMBs", 5}, {"IntervalInSeconds", 300}}},
              {"CloudWatchLoggingOptions", config.value("CloudWatchLoggingOptions", json{{"Enabled", false}})},
              {"RequestConfiguration", {{"ContentEncoding", "NONE"}}},
              {"RetryOptions", {{"DurationInSeconds", 300}}},
              {"S3BackupMode", config.value("S3BackupMode", std::string("FailedDataOnly"))},
              {"S3DestinationDescription", s3_description_from_configuration(config.at("S3Configuration"))}};
    merge_object(d["BufferingHints"], config.value("BufferingHints", json::object()));
    merge_object(d["RequestConfiguration"], config.value("RequestConfiguration", json::object()));
    merge_object(d["RetryOptions"], config.value("RetryOptions", json::object()));
    for (const char* member : {"ProcessingConfiguration", "RoleARN", "SecretsManagerConfiguration"})
        if (auto it = config.find(member); it != config.end()) d[member] = *it;
    return d;
}

void merge_http_destination(json& stored, const json& update) {
    for (auto& [key, value] : update.items()) {
        if (key == "S3Update") {
            merge_destination(stored["S3DestinationDescription"], value);
        } else if (key == "EndpointConfiguration" || key == "BufferingHints" || key == "RequestConfiguration" ||
                   key == "RetryOptions" || key == "CloudWatchLoggingOptions") {
            if (!stored[key].is_object()) stored[key] = json::object();
            merge_object(stored[key], value);
        } else {
            stored[key] = value;
        }
    }
}

void check_http_destination(const json& d) {
    const auto& s3 = d.value("S3DestinationDescription", json::object());
    delivery::validate_s3_prefixes(s3.value("Prefix", std::string()), s3.value("ErrorOutputPrefix", std::string()),
                                   false);
    auto url = d.value("EndpointConfiguration", json::object()).value("Url", std::string());
    if (url.find_first_of(" \t\r\n") != std::string::npos)
        throw api_error::invalid_argument("Invalid URL: " + url);
    if (auto it = d.find("ProcessingConfiguration"); it != d.end()) {
        try {
            delivery::validate_processing_configuration(*it);
        } catch (const std::invalid_argument& e) {
            throw api_error::invalid_argument(e.what());
        }
    }
    if (auto it = d.find("ProcessingConfiguration"); it != d.end() && it->value("Enabled", true)) {
        for (auto& p : it->value("Processors", json::array())) {
            auto type = p.value("Type", std::string());
            // Dynamic partitioning and its processors are for S3 alone.
            if (type != "AppendDelimiterToRecord" && type != "Lambda")
                throw api_error::invalid_argument("Processor type " + type + " is not supported.");
        }
    }
    if (auto it = d.find("SecretsManagerConfiguration"); it != d.end() && it->value("Enabled", false) &&
                                                         !it->contains("SecretARN"))
        throw api_error::invalid_argument("SecretARN must be specified when SecretsManagerConfiguration is enabled.");
}

json http_description(const json& stored) {
    json d = stored;
    if (auto it = d.find("EndpointConfiguration"); it != d.end()) it->erase("AccessKey");
    return d;
}

}  // namespace kinesd::actions::firehose
