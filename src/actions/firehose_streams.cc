// Delivery stream control plane: CreateDeliveryStream, DeleteDeliveryStream,
// DescribeDeliveryStream, ListDeliveryStreams, UpdateDestination, tags and
// Start/StopDeliveryStreamEncryption. Delivery itself is the delivery
// manager's work; these actions only change what the registry holds.
#include <cctype>

#include "actions/firehose_common.h"
#include "actions/firehose_http.h"
#include "actions/handlers.h"
#include "common/random.h"

namespace kinesd::actions {

namespace {

using nlohmann::json;
using namespace firehose;

constexpr std::size_t max_tags = 50;

const shape direct_put_shape = {
    {.name = "ThroughputHintInMBs", .type = field_type::integer, .required = true, .min_value = 1, .max_value = 100},
};
const pattern kinesis_stream_arn{
    R"(arn:.*:kinesis:[a-zA-Z0-9\-]+:\d{12}:stream/[a-zA-Z0-9_.-]+)", [](std::string_view s) {
        auto pos = s.find(":stream/");
        if (s.substr(0, 4) != "arn:" || pos == std::string_view::npos || pos + 8 >= s.size()) return false;
        if (s.find(":kinesis:") == std::string_view::npos) return false;
        for (char c : s.substr(pos + 8))
            if (!std::isalnum(static_cast<unsigned char>(c)) && c != '_' && c != '.' && c != '-') return false;
        return true;
    }};
const shape kinesis_source_shape = {
    {.name = "KinesisStreamARN", .required = true, .min_length = 1, .max_length = 512, .regex = &kinesis_stream_arn},
    role_arn_field(true),
};
const std::vector<std::string_view> stream_types = {"DirectPut", "KinesisStreamAsSource", "MSKAsSource",
                                                    "DatabaseAsSource"};

// Destinations the model knows; kinesd delivers to S3 and HTTP endpoints.
const char* const destination_members[] = {
    "ExtendedS3DestinationConfiguration", "S3DestinationConfiguration",
    "RedshiftDestinationConfiguration", "ElasticsearchDestinationConfiguration",
    "AmazonopensearchserviceDestinationConfiguration", "SplunkDestinationConfiguration",
    "HttpEndpointDestinationConfiguration", "AmazonOpenSearchServerlessDestinationConfiguration",
    "SnowflakeDestinationConfiguration", "IcebergDestinationConfiguration"};
const char* const update_members[] = {
    "ExtendedS3DestinationUpdate", "S3DestinationUpdate", "RedshiftDestinationUpdate",
    "ElasticsearchDestinationUpdate", "AmazonopensearchserviceDestinationUpdate", "SplunkDestinationUpdate",
    "HttpEndpointDestinationUpdate", "AmazonOpenSearchServerlessDestinationUpdate", "SnowflakeDestinationUpdate",
    "IcebergDestinationUpdate"};

bool supported(std::string_view member) {
    return member.find("S3Destination") != std::string_view::npos || member.starts_with("HttpEndpoint");
}

field structure(std::string_view name, const shape* members = nullptr) {
    return field{.name = name, .type = field_type::structure, .members = members};
}

field tags_field() {
    return field{.name = "Tags", .type = field_type::list, .required = false, .min_length = 1, .max_length = 50,
                 .members = &tag_shape, .java_class = "com.amazonaws.firehose.v20150804.Tag"};
}

shape create_shape() {
    shape s = {
        delivery_stream_name(),
        {.name = "DeliveryStreamType", .enum_values = stream_types},
        structure("DirectPutSourceConfiguration", &direct_put_shape),
        structure("KinesisStreamSourceConfiguration", &kinesis_source_shape),
        structure("DeliveryStreamEncryptionConfigurationInput", &encryption_input_shape),
        structure("S3DestinationConfiguration", &s3_configuration_shape),
        structure("ExtendedS3DestinationConfiguration", &extended_s3_configuration_shape),
        structure("HttpEndpointDestinationConfiguration", &http_endpoint_configuration_shape),
        tags_field(),
        structure("MSKSourceConfiguration"),
        structure("DatabaseSourceConfiguration"),
    };
    for (auto* member : destination_members)
        if (!supported(member)) s.push_back(structure(member));
    return s;
}
const shape create_delivery_stream_shape = create_shape();

std::map<std::string, std::string> tags_of(const json& list) {
    std::map<std::string, std::string> tags;
    for (auto& t : list) tags[t["Key"].get<std::string>()] = t.value("Value", std::string());
    return tags;
}

// The one destination member present, or InvalidArgumentException.
template <std::size_t N>
std::string single_destination(const json& input, const char* const (&members)[N]) {
    std::string found;
    int count = 0;
    for (auto* member : members)
        if (input.contains(member)) {
            ++count;
            found = member;
        }
    if (count != 1) throw api_error::invalid_argument("Exactly one destination configuration is supported for a Firehose");
    if (!supported(found))
        throw api_error::invalid_argument(found +
                                          " is not supported: delivery goes to Amazon S3 and HTTP endpoints only.");
    return found;
}

void create_delivery_stream(action_context& ctx) {
    auto& reg = registry(ctx);
    auto& in = ctx.input;
    const std::string name = ctx.key(in["DeliveryStreamName"].get<std::string>());
    std::string type = in.value("DeliveryStreamType", std::string(delivery::direct_put));
    auto destination_member = single_destination(in, destination_members);

    if (type != delivery::direct_put && type != delivery::kinesis_source)
        throw api_error::invalid_argument("DeliveryStreamType " + type + " is not supported.");
    bool from_kinesis = type == delivery::kinesis_source;
    if (in.contains("KinesisStreamSourceConfiguration") && !from_kinesis)
        throw api_error::invalid_argument(
            "KinesisSourceStreamConfig is only applicable for KinesisStreamAsSource stream type");
    if (from_kinesis && !in.contains("KinesisStreamSourceConfiguration"))
        throw api_error::invalid_argument(
            "KinesisStreamSourceConfiguration is required for KinesisStreamAsSource stream type");
    if (from_kinesis && in.contains("DirectPutSourceConfiguration"))
        throw api_error::invalid_argument(
            "DirectPutSourceConfiguration is only applicable for DirectPut stream type");
    if (from_kinesis && in.contains("DeliveryStreamEncryptionConfigurationInput"))
        throw api_error::invalid_argument(
            "Server-side encryption is not supported for delivery streams with KinesisStreamAsSource type.");

    delivery::delivery_stream s;
    s.name = name;
    s.uid = random_u63();
    s.type = type;
    s.created_ms = ctx.now_ms;
    s.active_at_ms = ctx.now_ms + reg.options().create_delay_ms;
    if (from_kinesis) {
        const auto& source = in["KinesisStreamSourceConfiguration"];
        s.source_stream_arn = source["KinesisStreamARN"].get<std::string>();
        s.source_role_arn = source["RoleARN"].get<std::string>();
        // The source must be a stream of the caller's own account.
        const auto arn_account = s.source_stream_arn.substr(0, s.source_stream_arn.find(":stream/"));
        const bool own = arn_account.size() > 13 && arn_account.compare(arn_account.size() - 13, 13, ":" + ctx.account()) == 0;
        auto stream = own ? ctx.svc.streams().find(s.source_stream_name()) : nullptr;
        if (!stream)
            throw api_error::invalid_argument("Stream " + ctx.shown(s.source_stream_name()) + " under account " +
                                              ctx.account() + " not found.");
    }
    if (in.contains("DirectPutSourceConfiguration"))
        s.throughput_hint_mbs = in["DirectPutSourceConfiguration"]["ThroughputHintInMBs"].get<int>();
    if (in.contains("DeliveryStreamEncryptionConfigurationInput")) {
        const auto& e = in["DeliveryStreamEncryptionConfigurationInput"];
        check_encryption_input(e);
        s.encryption_status = "ENABLED";
        s.encryption_key_type = e["KeyType"].get<std::string>();
        s.encryption_key_arn = e.value("KeyARN", std::string());
    }
    if (destination_member.starts_with("HttpEndpoint")) {
        s.destination_type = std::string(delivery::http_endpoint_destination);
        s.destination = http_destination_from_configuration(in[destination_member]);
        check_http_destination(s.destination);
    } else {
        s.destination = destination_from_configuration(in[destination_member]);
        check_destination(s.destination);
    }
    if (in.contains("Tags")) s.tags = tags_of(in["Tags"]);

    reg.create(std::move(s), [&](const delivery::firehose_registry& r) {
        if (r.contains_unlocked(name))
            throw api_error::resource_in_use("Firehose " + ctx.shown(name) + " under accountId " + ctx.account() +
                                             " already exists");
    });
    ctx.reply->ok({{"DeliveryStreamARN", delivery_stream_arn(ctx, name)}});
}

const shape delete_delivery_stream_shape = {
    delivery_stream_name(),
    {.name = "AllowForceDelete", .type = field_type::boolean},
};

void delete_delivery_stream(action_context& ctx) {
    auto& reg = registry(ctx);
    auto name = ctx.key(ctx.input["DeliveryStreamName"].get<std::string>());
    auto s = require(ctx, name);
    if (s->status(ctx.now_ms) == delivery::delivery_status::creating)
        throw api_error::resource_in_use("Firehose " + ctx.shown(name) + " under account " + ctx.account() +
                                         " is in CREATING state and cannot be deleted yet.");
    if (!s->deleting_since_ms) {
        reg.update(name, [&](delivery::delivery_stream& d) {
            if (!d.deleting_since_ms) d.deleting_since_ms = ctx.now_ms;
        });
    }
    if (reg.options().delete_delay_ms <= 0) reg.remove(name);
    ctx.reply->ok_empty();
}

const shape describe_delivery_stream_shape = {
    delivery_stream_name(),
    {.name = "Limit", .type = field_type::integer, .min_value = 1, .max_value = 10000},
    {.name = "ExclusiveStartDestinationId", .min_length = 1, .max_length = 100},
};

void describe_delivery_stream(action_context& ctx) {
    auto s = require(ctx, ctx.key(ctx.input["DeliveryStreamName"].get<std::string>()));
    ctx.reply->ok({{"DeliveryStreamDescription",
                    description(ctx, *s, ctx.input.value("ExclusiveStartDestinationId", std::string()))}});
}

const shape list_delivery_streams_shape = {
    {.name = "Limit", .type = field_type::integer, .min_value = 1, .max_value = 10000},
    {.name = "DeliveryStreamType", .enum_values = stream_types},
    {.name = "ExclusiveStartDeliveryStreamName", .min_length = 1, .max_length = 64,
     .regex = &patterns::firehose_name},
};

void list_delivery_streams(action_context& ctx) {
    std::size_t limit = std::size_t(ctx.input.value("Limit", 10));
    auto type = ctx.input.value("DeliveryStreamType", std::string());
    auto start = ctx.input.value("ExclusiveStartDeliveryStreamName", std::string());
    json names = json::array();
    bool more = false;
    for (auto& s : registry(ctx).list()) {
        if (!ctx.owns(s->name) || s->is_channel()) continue;
        const auto shown = ctx.shown(s->name);
        if ((!type.empty() && s->type != type) || (!start.empty() && shown <= start)) continue;
        if (names.size() == limit) {
            more = true;
            break;
        }
        names.push_back(shown);
    }
    ctx.reply->ok({{"DeliveryStreamNames", std::move(names)}, {"HasMoreDeliveryStreams", more}});
}

shape update_shape() {
    shape s = {
        delivery_stream_name(),
        {.name = "CurrentDeliveryStreamVersionId", .required = true, .min_length = 1, .max_length = 50,
         .regex = &patterns::digits},
        {.name = "DestinationId", .required = true, .min_length = 1, .max_length = 100},
        structure("S3DestinationUpdate", &s3_update_shape),
        structure("ExtendedS3DestinationUpdate", &extended_s3_update_shape),
        structure("HttpEndpointDestinationUpdate", &http_endpoint_update_shape),
    };
    for (auto* member : update_members)
        if (!supported(member)) s.push_back(structure(member));
    return s;
}
const shape update_destination_shape = update_shape();

void update_destination(action_context& ctx) {
    auto& reg = registry(ctx);
    auto name = ctx.key(ctx.input["DeliveryStreamName"].get<std::string>());
    auto current = require(ctx, name);
    auto status = current->status(ctx.now_ms);
    if (status != delivery::delivery_status::active)
        throw api_error::resource_in_use("Firehose " + ctx.shown(name) + " under account " + ctx.account() +
                                         " is not ACTIVE, instead in state " + delivery::to_string(status) + ".");
    auto member = single_destination(ctx.input, update_members);
    auto given_version = ctx.input["CurrentDeliveryStreamVersionId"].get<std::string>();
    auto destination_id = ctx.input["DestinationId"].get<std::string>();
    const auto& update = ctx.input[member];
    auto updated = reg.update(name, [&](delivery::delivery_stream& s) {
        if (std::to_string(s.version) != given_version)
            throw api_error::concurrent_modification("Cannot update firehose: " + ctx.shown(name) +
                                                     " since the current version id: " + std::to_string(s.version) +
                                                     " and specified version id: " + given_version +
                                                     " do not match");
        if (destination_id != s.destination_id)
            throw api_error::invalid_argument("Destination Id " + destination_id + " not found");
        const bool to_http = member.starts_with("HttpEndpoint");
        if (to_http != s.is_http_endpoint())
            throw api_error::invalid_argument(
                "Changing the destination type of a Firehose stream is not supported: " + member +
                " does not match its destination.");
        auto merged = s.destination;
        if (to_http) {
            merge_http_destination(merged, update);
            check_http_destination(merged);
        } else {
            merge_destination(merged, update);
            check_destination(merged);
            check_partitioning_update(s.destination, merged);
        }
        s.destination = std::move(merged);
        ++s.version;
        s.last_update_ms = ctx.now_ms;
    });
    if (!updated) throw not_found(ctx, name);
    ctx.reply->ok_empty();
}

const shape tag_delivery_stream_shape = {
    delivery_stream_name(),
    [] {
        auto f = tags_field();
        f.required = true;
        return f;
    }(),
};

void tag_delivery_stream(action_context& ctx) {
    auto name = ctx.key(ctx.input["DeliveryStreamName"].get<std::string>());
    require(ctx, name);
    auto tags = tags_of(ctx.input["Tags"]);
    auto updated = registry(ctx).update(name, [&](delivery::delivery_stream& s) {
        auto merged = s.tags;
        for (auto& [k, v] : tags) merged[k] = v;
        if (merged.size() > max_tags)
            throw api_error::limit_exceeded("A delivery stream cannot have more than " + std::to_string(max_tags) +
                                            " tags.");
        s.tags = std::move(merged);
    });
    if (!updated) throw not_found(ctx, name);
    ctx.reply->ok_empty();
}

const field tag_key_element = tag_key_field("TagKeys", false);
const shape untag_delivery_stream_shape = {
    delivery_stream_name(),
    {.name = "TagKeys", .type = field_type::list, .required = true, .min_length = 1, .max_length = 50,
     .element = &tag_key_element},
};

void untag_delivery_stream(action_context& ctx) {
    auto name = ctx.key(ctx.input["DeliveryStreamName"].get<std::string>());
    require(ctx, name);
    auto updated = registry(ctx).update(name, [&](delivery::delivery_stream& s) {
        for (auto& key : ctx.input["TagKeys"]) s.tags.erase(key.get<std::string>());
    });
    if (!updated) throw not_found(ctx, name);
    ctx.reply->ok_empty();
}

const shape list_tags_shape = {
    delivery_stream_name(),
    tag_key_field("ExclusiveStartTagKey", false),
    {.name = "Limit", .type = field_type::integer, .min_value = 1, .max_value = 50},
};

void list_tags_for_delivery_stream(action_context& ctx) {
    auto s = require(ctx, ctx.key(ctx.input["DeliveryStreamName"].get<std::string>()));
    std::size_t limit = std::size_t(ctx.input.value("Limit", 50));
    auto start = ctx.input.value("ExclusiveStartTagKey", std::string());
    json tags = json::array();
    bool more = false;
    for (auto& [k, v] : s->tags) {
        if (!start.empty() && k <= start) continue;
        if (tags.size() == limit) {
            more = true;
            break;
        }
        tags.push_back({{"Key", k}, {"Value", v}});
    }
    ctx.reply->ok({{"Tags", std::move(tags)}, {"HasMoreTags", more}});
}

const shape start_encryption_shape = {
    delivery_stream_name(),
    structure("DeliveryStreamEncryptionConfigurationInput", &encryption_input_shape),
};

void start_encryption(action_context& ctx) {
    auto name = ctx.key(ctx.input["DeliveryStreamName"].get<std::string>());
    auto current = require(ctx, name);
    if (current->is_kinesis_source())
        throw api_error::invalid_argument(
            "Server-side encryption is not supported for delivery streams with KinesisStreamAsSource type.");
    json e = ctx.input.value("DeliveryStreamEncryptionConfigurationInput", json{{"KeyType", "AWS_OWNED_CMK"}});
    check_encryption_input(e);
    registry(ctx).update(name, [&](delivery::delivery_stream& s) {
        s.encryption_status = "ENABLED";
        s.encryption_key_type = e["KeyType"].get<std::string>();
        s.encryption_key_arn = e.value("KeyARN", std::string());
    });
    ctx.reply->ok_empty();
}

const shape stop_encryption_shape = {delivery_stream_name()};

void stop_encryption(action_context& ctx) {
    auto name = ctx.key(ctx.input["DeliveryStreamName"].get<std::string>());
    require(ctx, name);
    registry(ctx).update(name, [&](delivery::delivery_stream& s) { s.encryption_status = "DISABLED"; });
    ctx.reply->ok_empty();
}

}  // namespace

#define KINESD_FIREHOSE(action) "Firehose_20150804." action
const action_entry create_delivery_stream_action{KINESD_FIREHOSE("CreateDeliveryStream"),
                                                 &create_delivery_stream_shape, create_delivery_stream};
const action_entry delete_delivery_stream_action{KINESD_FIREHOSE("DeleteDeliveryStream"),
                                                 &delete_delivery_stream_shape, delete_delivery_stream};
const action_entry describe_delivery_stream_action{KINESD_FIREHOSE("DescribeDeliveryStream"),
                                                   &describe_delivery_stream_shape, describe_delivery_stream};
const action_entry list_delivery_streams_action{KINESD_FIREHOSE("ListDeliveryStreams"), &list_delivery_streams_shape,
                                                list_delivery_streams};
const action_entry update_destination_action{KINESD_FIREHOSE("UpdateDestination"), &update_destination_shape,
                                             update_destination};
const action_entry tag_delivery_stream_action{KINESD_FIREHOSE("TagDeliveryStream"), &tag_delivery_stream_shape,
                                              tag_delivery_stream};
const action_entry untag_delivery_stream_action{KINESD_FIREHOSE("UntagDeliveryStream"),
                                                &untag_delivery_stream_shape, untag_delivery_stream};
const action_entry list_tags_for_delivery_stream_action{KINESD_FIREHOSE("ListTagsForDeliveryStream"),
                                                        &list_tags_shape, list_tags_for_delivery_stream};
const action_entry start_delivery_stream_encryption_action{KINESD_FIREHOSE("StartDeliveryStreamEncryption"),
                                                           &start_encryption_shape, start_encryption};
const action_entry stop_delivery_stream_encryption_action{KINESD_FIREHOSE("StopDeliveryStreamEncryption"),
                                                          &stop_encryption_shape, stop_encryption};
#undef KINESD_FIREHOSE

}  // namespace kinesd::actions
