#include "actions/firehose_common.h"

#include <regex>
#include <stdexcept>

#include "actions/firehose_http.h"
#include "delivery/lambda_processor.h"
#include "delivery/object_key.h"

namespace kinesd::actions::firehose {

namespace {

using nlohmann::json;

bool full_match(std::string_view s, const std::regex& re) {
    return std::regex_match(s.begin(), s.end(), re);
}

bool role_arn_matches(std::string_view s) {
    static const std::regex re(R"(arn:.*:iam::\d{12}:role/[a-zA-Z_0-9+=,.@\-_/]+)");
    return full_match(s, re);
}
bool bucket_arn_matches(std::string_view s) {
    static const std::regex re(R"(arn:.*:s3:::[\w\.\-]{1,255})");
    return full_match(s, re);
}
bool kms_arn_matches(std::string_view s) {
    static const std::regex re(R"(arn:.*:kms:[a-zA-Z0-9\-]+:\d{12}:(key|alias)/[a-zA-Z_0-9+=,.@\-_/]+)");
    return full_match(s, re);
}
bool file_extension_matches(std::string_view s) {
    static const std::regex re(R"(\.[0-9a-z!\-_.*'()]+)");
    return s.empty() || full_match(s, re);
}
bool time_zone_matches(std::string_view s) {
    static const std::regex re(R"([a-zA-Z/_]+)");
    return s.empty() || full_match(s, re);
}
bool not_blank(std::string_view s) {
    for (char c : s)
        if (c != ' ' && c != '\t' && c != '\n' && c != '\r' && c != '\f' && c != '\v') return true;
    return false;
}
// \p{L}\p{Z}\p{N}_.:/=+\-@% with every non-ASCII character taken as a letter.
bool tag_text(std::string_view s) {
    for (unsigned char c : s) {
        if (c >= 0x80 || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) continue;
        if (std::string_view(" _.:/=+-@%").find(char(c)) != std::string_view::npos) continue;
        return false;
    }
    return true;
}
bool tag_key_matches(std::string_view s) { return s.substr(0, 4) != "aws:" && tag_text(s); }

const pattern role_arn{R"(arn:.*:iam::\d{12}:role/[a-zA-Z_0-9+=,.@\-_/]+)", role_arn_matches};
const pattern bucket_arn{R"(arn:.*:s3:::[\w\.\-]{1,255})", bucket_arn_matches};
const pattern kms_arn{R"(arn:.*:kms:[a-zA-Z0-9\-]+:\d{12}:(key|alias)/[a-zA-Z_0-9+=,.@\-_/]+)", kms_arn_matches};
const pattern file_extension{R"(^$|\.[0-9a-z!\-_.*'()]+)", file_extension_matches};
const pattern time_zone{"^$|[a-zA-Z/_]+", time_zone_matches};
const pattern parameter_value{R"(^(?!\s*$).+)", not_blank};
const pattern tag_key{R"(^(?!aws:)[\p{L}\p{Z}\p{N}_.:\/=+\-@%]*$)", tag_key_matches};
const pattern tag_value{R"(^[\p{L}\p{Z}\p{N}_.:\/=+\-@%]*$)", tag_text};

}  // namespace

const shape buffering_hints_shape = {
    {.name = "SizeInMBs", .type = field_type::integer, .min_value = 1, .max_value = 128},
    {.name = "IntervalInSeconds", .type = field_type::integer, .min_value = 0, .max_value = 900},
};
namespace {

const shape kms_config_shape = {{.name = "AWSKMSKeyARN", .required = true, .min_length = 1, .max_length = 512,
                                 .regex = &kms_arn}};
const shape encryption_shape = {
    {.name = "NoEncryptionConfig", .enum_values = {"NoEncryption"}},
    {.name = "KMSEncryptionConfig", .type = field_type::structure, .members = &kms_config_shape},
};
}  // namespace

const shape logging_shape = {
    {.name = "Enabled", .type = field_type::boolean},
    {.name = "LogGroupName", .min_length = 0, .max_length = 512},
    {.name = "LogStreamName", .min_length = 0, .max_length = 512},
};
namespace {

const shape parameter_shape = {
    {.name = "ParameterName", .required = true,
     .enum_values = {"LambdaArn", "NumberOfRetries", "MetadataExtractionQuery", "JsonParsingEngine", "RoleArn",
                     "BufferSizeInMBs", "BufferIntervalInSeconds", "SubRecordType", "Delimiter", "CompressionFormat",
                     "DataMessageExtraction"}},
    {.name = "ParameterValue", .required = true, .min_length = 1, .max_length = 5120, .regex = &parameter_value},
};
const shape processor_shape = {
    {.name = "Type", .required = true,
     .enum_values = {"RecordDeAggregation", "Decompression", "CloudWatchLogProcessing", "Lambda",
                     "MetadataExtraction", "AppendDelimiterToRecord"}},
    {.name = "Parameters", .type = field_type::list, .members = &parameter_shape,
     .java_class = "com.amazonaws.firehose.v20150804.ProcessorParameter"},
};
}  // namespace

const shape processing_shape = {
    {.name = "Enabled", .type = field_type::boolean},
    {.name = "Processors", .type = field_type::list, .members = &processor_shape,
     .java_class = "com.amazonaws.firehose.v20150804.Processor"},
};
namespace {

const shape enabled_shape = {{.name = "Enabled", .type = field_type::boolean}};
const shape retry_options_shape = {
    {.name = "DurationInSeconds", .type = field_type::integer, .min_value = 0, .max_value = 7200}};
const shape dynamic_partitioning_shape = {
    {.name = "Enabled", .type = field_type::boolean},
    {.name = "RetryOptions", .type = field_type::structure, .members = &retry_options_shape}};

const std::vector<std::string_view> compression_formats = {"UNCOMPRESSED", "GZIP", "ZIP", "Snappy", "HADOOP_SNAPPY"};

shape s3_members(bool required, bool extended, bool update) {
    shape s = {
        role_arn_field(required),
        {.name = "BucketARN", .required = required, .min_length = 1, .max_length = 2048, .regex = &bucket_arn},
        {.name = "Prefix", .min_length = 0, .max_length = 1024},
        {.name = "ErrorOutputPrefix", .min_length = 0, .max_length = 1024},
        {.name = "BufferingHints", .type = field_type::structure, .members = &buffering_hints_shape},
        {.name = "CompressionFormat", .enum_values = compression_formats},
        {.name = "EncryptionConfiguration", .type = field_type::structure, .members = &encryption_shape},
        {.name = "CloudWatchLoggingOptions", .type = field_type::structure, .members = &logging_shape},
    };
    if (!extended) return s;
    s.push_back({.name = "ProcessingConfiguration", .type = field_type::structure, .members = &processing_shape});
    s.push_back({.name = "S3BackupMode", .enum_values = {"Disabled", "Enabled"}});
    s.push_back({.name = update ? "S3BackupUpdate" : "S3BackupConfiguration", .type = field_type::structure,
                 .members = update ? &s3_update_shape : &s3_configuration_shape});
    s.push_back({.name = "DataFormatConversionConfiguration", .type = field_type::structure, .members = &enabled_shape});
    s.push_back({.name = "DynamicPartitioningConfiguration", .type = field_type::structure,
                 .members = &dynamic_partitioning_shape});
    s.push_back({.name = "FileExtension", .min_length = 0, .max_length = 128, .regex = &file_extension});
    s.push_back({.name = "CustomTimeZone", .min_length = 0, .max_length = 50, .regex = &time_zone});
    return s;
}

const char* const description_members[] = {"ErrorOutputPrefix", "ProcessingConfiguration",
                                           "DataFormatConversionConfiguration", "DynamicPartitioningConfiguration",
                                           "FileExtension", "CustomTimeZone"};
const char* const s3_view_members[] = {"RoleARN",          "BucketARN",          "Prefix",
                                       "ErrorOutputPrefix", "BufferingHints",     "CompressionFormat",
                                       "EncryptionConfiguration", "CloudWatchLoggingOptions"};

bool enabled(const json& parent, const char* member) {
    auto it = parent.find(member);
    return it != parent.end() && it->is_object() && it->value("Enabled", false);
}

[[noreturn]] void unsupported(const std::string& what) {
    throw api_error::invalid_argument(what + " is not supported.");
}

}  // namespace

const shape extended_s3_configuration_shape = s3_members(true, true, false);
const shape s3_configuration_shape = s3_members(true, false, false);
const shape extended_s3_update_shape = s3_members(false, true, true);
const shape s3_update_shape = s3_members(false, false, true);
const shape encryption_input_shape = {
    {.name = "KeyARN", .min_length = 1, .max_length = 512, .regex = &kms_arn},
    {.name = "KeyType", .required = true, .enum_values = {"AWS_OWNED_CMK", "CUSTOMER_MANAGED_CMK"}},
};
field role_arn_field(bool required) {
    return field{.name = "RoleARN", .required = required, .min_length = 1, .max_length = 512, .regex = &role_arn};
}
field tag_key_field(std::string_view name, bool required) {
    return field{.name = name, .required = required, .min_length = 1, .max_length = 128, .regex = &tag_key};
}
const shape tag_shape = {
    tag_key_field("Key", true),
    {.name = "Value", .min_length = 0, .max_length = 256, .regex = &tag_value},
};

field delivery_stream_name(bool required) {
    return field{.name = "DeliveryStreamName", .required = required, .min_length = 1, .max_length = 64,
                 .regex = &patterns::firehose_name};
}

delivery::firehose_registry& registry(const action_context& ctx) {
    auto* r = ctx.svc.firehose();
    if (!r) throw api_error::service_unavailable("Firehose is not available.");
    return *r;
}

std::string delivery_stream_arn(const action_context& ctx, const std::string& key) {
    return "arn:aws:firehose:" + ctx.svc.settings().region + ":" + std::string(ctx.svc.account_of_key(key)) +
           ":deliverystream/" + ctx.shown(key);
}

api_error not_found(const action_context& ctx, const std::string& key) {
    return api_error::resource_not_found("Firehose " + ctx.shown(key) + " under account " +
                                         std::string(ctx.svc.account_of_key(key)) + " not found.");
}

delivery::delivery_snapshot require(const action_context& ctx, const std::string& name) {
    auto s = registry(ctx).find(name);
    if (!s && !ctx.io_thread) {
        // Perhaps created through another front end a moment ago.
        ctx.svc.catch_up();
        s = registry(ctx).find(name);
    }
    if (!s) throw not_found(ctx, name);
    return s;
}

json destination_from_configuration(const json& config) {
    json d = {{"RoleARN", config.at("RoleARN")},
              {"BucketARN", config.at("BucketARN")},
              {"Prefix", config.value("Prefix", std::string())},
              {"BufferingHints", {{"SizeInMBs", 5}, {"IntervalInSeconds", 300}}},
              {"CompressionFormat", config.value("CompressionFormat", std::string("UNCOMPRESSED"))},
              {"EncryptionConfiguration", config.value("EncryptionConfiguration",
                                                       json{{"NoEncryptionConfig", "NoEncryption"}})},
              {"CloudWatchLoggingOptions", config.value("CloudWatchLoggingOptions", json{{"Enabled", false}})},
              {"S3BackupMode", config.value("S3BackupMode", std::string("Disabled"))}};
    if (auto it = config.find("BufferingHints"); it != config.end())
        for (auto& [k, v] : it->items()) d["BufferingHints"][k] = v;
    for (const char* member : description_members)
        if (auto it = config.find(member); it != config.end()) d[member] = *it;
    if (config.contains("S3BackupConfiguration"))
        d["S3BackupDescription"] = s3_description_from_configuration(config["S3BackupConfiguration"]);
    return d;
}

json s3_description_from_configuration(const json& config) {
    auto full = destination_from_configuration(config);
    json d = json::object();
    for (const char* member : s3_view_members)
        if (auto it = full.find(member); it != full.end()) d[member] = *it;
    return d;
}

void merge_destination(json& stored, const json& update) {
    for (auto& [key, value] : update.items()) {
        if (key == "S3BackupUpdate") {
            if (stored.contains("S3BackupDescription"))
                merge_destination(stored["S3BackupDescription"], value);
            else
                stored["S3BackupDescription"] = s3_description_from_configuration(value);
        } else if (key == "S3BackupMode" && stored.value("S3BackupMode", std::string()) == "Enabled" &&
                   value != "Enabled") {
            throw api_error::invalid_argument(
                "S3BackupMode cannot be changed from Enabled to Disabled once backup is enabled.");
        } else if ((key == "BufferingHints" || key == "CloudWatchLoggingOptions") && value.is_object() &&
                   stored.contains(key)) {
            for (auto& [k, v] : value.items()) stored[key][k] = v;
        } else {
            stored[key] = value;
        }
    }
}

void check_destination(const json& d) {
    if (auto it = d.find("ProcessingConfiguration"); it != d.end()) {
        try {
            delivery::validate_processing_configuration(*it);
        } catch (const std::invalid_argument& e) {
            throw api_error::invalid_argument(e.what());
        }
    }
    delivery::validate_s3_prefixes(d.value("Prefix", std::string()), d.value("ErrorOutputPrefix", std::string()),
                                   enabled(d, "DynamicPartitioningConfiguration"));
    if (enabled(d, "DataFormatConversionConfiguration")) unsupported("DataFormatConversionConfiguration");
    if (d.value("S3BackupMode", std::string("Disabled")) == "Enabled") {
        auto it = d.find("S3BackupDescription");
        if (it == d.end() || !it->contains("BucketARN") || !it->contains("RoleARN"))
            throw api_error::invalid_argument("S3BackupConfiguration is required when S3BackupMode is Enabled.");
        delivery::validate_s3_prefixes(it->value("Prefix", std::string()),
                                       it->value("ErrorOutputPrefix", std::string()), false);
    }
    auto tz = d.value("CustomTimeZone", std::string());
    if (!tz.empty() && tz != "UTC") unsupported("CustomTimeZone " + tz + " (object keys use UTC)");
    check_processing(d);
}

void check_encryption_input(const json& input) {
    auto type = input.value("KeyType", std::string());
    bool has_arn = input.contains("KeyARN");
    if (type == "CUSTOMER_MANAGED_CMK" && !has_arn)
        throw api_error::invalid_argument("KeyARN must be specified when KeyType is CUSTOMER_MANAGED_CMK.");
    if (type == "AWS_OWNED_CMK" && has_arn)
        throw api_error::invalid_argument("KeyARN must not be specified when KeyType is AWS_OWNED_CMK.");
}

json description(const action_context& ctx, const delivery::delivery_stream& s,
                 const std::string& exclusive_start_destination_id) {
    json encryption = {{"Status", s.encryption_status}};
    if (!s.encryption_key_type.empty()) encryption["KeyType"] = s.encryption_key_type;
    if (!s.encryption_key_arn.empty()) encryption["KeyARN"] = s.encryption_key_arn;
    json d = {{"DeliveryStreamName", ctx.shown(s.name)},
              {"DeliveryStreamARN", delivery_stream_arn(ctx, s.name)},
              {"DeliveryStreamStatus", delivery::to_string(s.status(ctx.now_ms))},
              {"DeliveryStreamEncryptionConfiguration", std::move(encryption)},
              {"DeliveryStreamType", s.type},
              {"VersionId", std::to_string(s.version)},
              {"CreateTimestamp", s.created_ms},
              {"HasMoreDestinations", false}};
    if (auto failure = s.health->current())
        d["FailureDescription"] = {{"Type", failure->type}, {"Details", failure->details}};
    if (s.last_update_ms) d["LastUpdateTimestamp"] = s.last_update_ms;
    if (s.is_kinesis_source())
        d["Source"] = {{"KinesisStreamSourceDescription",
                        {{"KinesisStreamARN", s.source_stream_arn},
                         {"RoleARN", s.source_role_arn},
                         {"DeliveryStartTimestamp", s.created_ms}}}};
    else if (s.throughput_hint_mbs)
        d["Source"] = {{"DirectPutSourceDescription", {{"ThroughputHintInMBs", *s.throughput_hint_mbs}}}};

    json destinations = json::array();
    if (s.is_http_endpoint()) {
        if (exclusive_start_destination_id.empty() || exclusive_start_destination_id < s.destination_id)
            destinations.push_back({{"DestinationId", s.destination_id},
                                    {"HttpEndpointDestinationDescription", http_description(s.destination)}});
    } else if (exclusive_start_destination_id.empty() || exclusive_start_destination_id < s.destination_id) {
        json s3_view = json::object();
        for (const char* member : s3_view_members)
            if (auto it = s.destination.find(member); it != s.destination.end()) s3_view[member] = *it;
        destinations.push_back({{"DestinationId", s.destination_id},
                                {"ExtendedS3DestinationDescription", s.destination},
                                {"S3DestinationDescription", std::move(s3_view)}});
    }
    d["Destinations"] = std::move(destinations);
    return d;
}

}  // namespace kinesd::actions::firehose
