// CreateChannel, DescribeChannel, ListChannels, UpdateChannel, DeleteChannel.
// See kinesis_channels.h for how a channel is kept; the request and reply
// shapes follow the Kinesis model. kinesd delivers to general purpose S3
// buckets only: an S3 Tables destination is refused.
#include "actions/kinesis_channels.h"

#include <algorithm>
#include <mutex>
#include <regex>

#include "actions/firehose_common.h"
#include "actions/handlers.h"
#include "actions/kinesis_common.h"
#include "actions/kinesis_tags.h"
#include "common/random.h"
#include "delivery/channel_format.h"
#include "streams/encoding.h"

namespace kinesd::actions {

namespace {

using nlohmann::json;
using namespace kinesis;

// Channel keys cannot clash with delivery stream names: '~' is not allowed
// in those.
constexpr std::string_view key_marker = "~channel.";
constexpr int default_freshness_s = 300;
constexpr int min_freshness_s = 300, max_freshness_s = 900;
// AWS starts with one general purpose S3 channel per stream.
constexpr std::size_t channels_per_stream = 1;

// Patterns of the Kinesis model (botocore's service-2.json) that kinesd's
// shared pattern table does not have.
bool full_match(std::string_view s, const std::regex& re) { return std::regex_match(s.begin(), s.end(), re); }
#define KINESD_MODEL_PATTERN(id, text)                                                              \
    const pattern id{text, [](std::string_view s) {                                                \
        static const std::regex re{text};                                                        \
        return full_match(s, re);                                                                \
    }}
KINESD_MODEL_PATTERN(role_arn_pattern, R"(arn:aws[-a-z0-9]*:iam::\d{12}:role/[a-zA-Z_0-9+=,.@\-_/]+)");
KINESD_MODEL_PATTERN(bucket_arn_pattern, R"(arn:aws[-a-z0-9]*:s3:::[a-z0-9._-]{3,63})");
KINESD_MODEL_PATTERN(key_template_pattern, R"([0-9A-Za-z!\-_'.*()\/=:{}]+)");
KINESD_MODEL_PATTERN(error_prefix_pattern, R"([0-9A-Za-z!\-_'.*()\/]+)");
KINESD_MODEL_PATTERN(channel_arn_pattern, R"(arn:aws.*:kinesis:.*:\d{12}:channel/\S+)");
KINESD_MODEL_PATTERN(log_group_pattern, R"([\.\-_/#A-Za-z0-9]+)");
KINESD_MODEL_PATTERN(log_stream_pattern, R"([^:*]*)");
KINESD_MODEL_PATTERN(schema_arn_pattern,
                     R"(arn:aws[-a-z0-9]*:glue:[-a-z0-9]+:\d{12}:schema/[-a-zA-Z0-9_$#.]+/[-a-zA-Z0-9_$#.]+)");
#undef KINESD_MODEL_PATTERN

const field name_field{.name = "ChannelName", .required = true, .min_length = 1, .max_length = 128,
                       .regex = &patterns::stream_name};
const field arn_field{.name = "ChannelARN", .required = true, .min_length = 1, .max_length = 2048,
                      .regex = &channel_arn_pattern};

const shape record_configuration_shape = {
    {.name = "RecordFormatType", .required = true, .enum_values = {"GSR_JSON", "JSON", "STRING", "BYTE_ARRAY"}},
    {.name = "GSRSchemaARN", .min_length = 1, .max_length = 512, .regex = &schema_arn_pattern},
};
const shape stream_configuration_shape = {
    {.name = "StreamARN", .required = true, .min_length = 1, .max_length = 2048, .regex = &patterns::stream_arn},
    {.name = "RecordConfiguration", .type = field_type::structure, .required = true,
     .members = &record_configuration_shape},
};
const shape dlq_shape = {
    {.name = "BucketARN", .required = true, .min_length = 1, .max_length = 2048, .regex = &bucket_arn_pattern},
    {.name = "ExpectedBucketOwner", .required = true, .min_length = 12, .max_length = 12,
     .regex = &patterns::digits},
    {.name = "ErrorOutputPrefix", .min_length = 1, .max_length = 512, .regex = &error_prefix_pattern},
};
const shape storage_shape = {
    {.name = "BucketARN", .required = true, .min_length = 1, .max_length = 2048, .regex = &bucket_arn_pattern},
    {.name = "ExpectedBucketOwner", .required = true, .min_length = 12, .max_length = 12,
     .regex = &patterns::digits},
    {.name = "OutputKeyTemplate", .min_length = 1, .max_length = 1024, .regex = &key_template_pattern},
    {.name = "StorageClass", .enum_values = {"STANDARD", "INTELLIGENT_TIERING", "GLACIER_IR"}},
    {.name = "CompressionType", .required = true, .enum_values = {"NONE", "GZIP", "ZSTD"}},
};
const shape s3_destination_shape = {
    {.name = "DataFreshnessInSeconds", .type = field_type::integer},
    {.name = "DeadLetterQueueS3Configuration", .type = field_type::structure, .members = &dlq_shape},
    {.name = "StorageConfiguration", .type = field_type::structure, .required = true, .members = &storage_shape},
};
const shape encryption_shape = {
    {.name = "EncryptionType", .required = true, .enum_values = {"KMS"}},
    {.name = "KeyId", .required = true, .min_length = 1, .max_length = 2048},
};
const shape cloudwatch_shape = {
    {.name = "Enabled", .type = field_type::boolean, .required = true},
    {.name = "LogGroupName", .min_length = 1, .max_length = 512, .regex = &log_group_pattern},
    {.name = "LogStreamName", .min_length = 1, .max_length = 512, .regex = &log_stream_pattern},
};
const shape logging_shape = {
    {.name = "CloudWatchLogs", .type = field_type::structure, .required = true, .members = &cloudwatch_shape},
};
const shape freshness_update_shape = {
    {.name = "DataFreshnessInSeconds", .type = field_type::integer, .required = true},
};

const shape create_shape = {
    name_field,
    {.name = "ServiceExecutionRoleARN", .required = true, .min_length = 1, .max_length = 512,
     .regex = &role_arn_pattern},
    {.name = "StreamConfigurationList", .type = field_type::list, .required = true, .min_length = 1,
     .max_length = 10000, .members = &stream_configuration_shape},
    {.name = "S3DestinationConfiguration", .type = field_type::structure, .members = &s3_destination_shape},
    // Accepted as any structure: it is refused whole (see refuse_s3_tables).
    {.name = "S3TablesDestinationConfiguration", .type = field_type::structure},
    {.name = "EncryptionConfiguration", .type = field_type::structure, .members = &encryption_shape},
    {.name = "Tags", .type = field_type::map, .min_length = 1, .max_length = 200},
    {.name = "LoggingConfiguration", .type = field_type::structure, .members = &logging_shape},
};
const shape arn_shape = {arn_field};
const shape stream_filter_shape = {
    {.name = "StreamARN", .required = true, .min_length = 1, .max_length = 2048, .regex = &patterns::stream_arn},
    {.name = "StreamCreationTimestamp", .type = field_type::timestamp},
};
const shape list_shape = {
    {.name = "StreamFilter", .type = field_type::list, .min_length = 1, .max_length = 10000,
     .members = &stream_filter_shape},
    {.name = "MaxResults", .type = field_type::integer, .min_value = 1, .max_value = 10000},
    {.name = "NextToken", .min_length = 1, .max_length = 1048576},
};
const shape update_shape = {
    arn_field,
    {.name = "S3DestinationConfiguration", .type = field_type::structure, .members = &freshness_update_shape},
    {.name = "S3TablesDestinationConfiguration", .type = field_type::structure, .members = &freshness_update_shape},
    {.name = "LoggingConfiguration", .type = field_type::structure, .members = &logging_shape},
};

void refuse_s3_tables(const json& in) {
    if (in.contains("S3TablesDestinationConfiguration"))
        throw api_error::invalid_argument(
            "S3TablesDestinationConfiguration is not supported: kinesd delivers channels to general purpose Amazon "
            "S3 buckets only (S3DestinationConfiguration).");
}

int checked_freshness(const json& config) {
    int v = config.value("DataFreshnessInSeconds", default_freshness_s);
    if (v < min_freshness_s || v > max_freshness_s)
        throw api_error::invalid_argument("DataFreshnessInSeconds must be between " + std::to_string(min_freshness_s) +
                                          " and " + std::to_string(max_freshness_s) + " seconds; got " +
                                          std::to_string(v) + ".");
    return v;
}

// ---- keys, ARNs, status -----------------------------------------------------

std::string channel_key(const action_context& ctx, std::string_view account, const std::string& id) {
    return ctx.svc.resource_key(account, std::string(key_marker) + id);
}

std::string channel_arn(const action_context& ctx, std::string_view account, const std::string& id) {
    return "arn:aws:kinesis:" + ctx.svc.settings().region + ":" + std::string(account) + ":channel/" + id;
}

api_error channel_not_found(const std::string& arn) {
    return api_error::resource_not_found("Channel " + arn + " not found.");
}

// The channel a ChannelARN names, or ResourceNotFoundException. A channel of
// another account or region does not exist for the caller.
delivery::delivery_snapshot require_channel(const action_context& ctx, const std::string& arn) {
    const std::string head = "arn:aws:kinesis:" + ctx.svc.settings().region + ":" + ctx.account() + ":channel/";
    if (arn.rfind(head, 0) != 0 || arn.size() == head.size()) throw channel_not_found(arn);
    auto s = firehose::registry(ctx).find(channel_key(ctx, ctx.account(), arn.substr(head.size())));
    if (!s || !s->is_channel()) throw channel_not_found(arn);
    return s;
}

std::string status_of(const action_context& ctx, const delivery::delivery_stream& s) {
    if (s.deleting_since_ms) return "DELETING";
    if (ctx.now_ms < s.active_at_ms) return "CREATING";
    if (ctx.now_ms < s.channel.value("updating_until_ms", std::int64_t(0))) return "UPDATING";
    return "ACTIVE";
}

std::int64_t stream_created_ms(const action_context& ctx, const delivery::delivery_stream& s) {
    auto stream = ctx.svc.streams().find(s.source_stream_name());
    return stream ? stream->created_ms : s.channel.value("stream_created_ms", std::int64_t(0));
}

json description(const action_context& ctx, const delivery::delivery_stream& s) {
    const auto& c = s.channel;
    json streams = json::array();
    for (const auto& sc : c["StreamConfigurationList"])
        streams.push_back({{"StreamARN", sc["StreamARN"]},
                           {"StreamCreationTimestamp", stream_created_ms(ctx, s)},
                           {"RecordConfiguration", sc["RecordConfiguration"]}});
    json d = {{"ChannelName", c["ChannelName"]},
              {"ChannelARN", c["ChannelARN"]},
              {"ChannelId", c["ChannelId"]},
              {"ChannelStatus", status_of(ctx, s)},
              {"ChannelCreationTimestamp", s.created_ms},
              {"ServiceExecutionRoleARN", c["ServiceExecutionRoleARN"]},
              {"StreamConfigurationList", std::move(streams)},
              {"S3DestinationConfiguration", c["S3DestinationConfiguration"]}};
    if (c.contains("EncryptionConfiguration")) d["EncryptionConfiguration"] = c["EncryptionConfiguration"];
    // The model requires LoggingConfiguration in a description: logging off
    // when none was given.
    d["LoggingConfiguration"] = c.value("LoggingConfiguration", json{{"CloudWatchLogs", {{"Enabled", false}}}});
    // Delivery keeps being retried while S3 fails: the channel stays ACTIVE
    // and says why its objects are late.
    if (auto failure = s.health->current()) d["ChannelStatusReason"] = failure->details;
    return d;
}

json summary(const action_context& ctx, const delivery::delivery_stream& s) {
    const auto& c = s.channel;
    json streams = json::array();
    for (const auto& sc : c["StreamConfigurationList"])
        streams.push_back({{"StreamARN", sc["StreamARN"]}, {"StreamCreationTimestamp", stream_created_ms(ctx, s)}});
    return {{"ChannelName", c["ChannelName"]},
            {"ChannelARN", c["ChannelARN"]},
            {"ChannelId", c["ChannelId"]},
            {"ChannelStatus", status_of(ctx, s)},
            {"ChannelCreationTimestamp", s.created_ms},
            {"ChannelDestinationType", "S3"},
            {"Streams", std::move(streams)}};
}

// The caller's channels, by name.
std::vector<delivery::delivery_snapshot> own_channels(const action_context& ctx) {
    std::vector<delivery::delivery_snapshot> out;
    for (auto& s : firehose::registry(ctx).list())
        if (s->is_channel() && ctx.owns(s->name)) out.push_back(s);
    std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) {
        return a->channel["ChannelName"].template get<std::string>() <
               b->channel["ChannelName"].template get<std::string>();
    });
    return out;
}

// ---- CreateChannel ----------------------------------------------------------

// The description of the S3 destination as stored and shown, with AWS's
// defaults filled in (the dead-letter bucket defaults to the destination).
json s3_destination(const json& config) {
    json d = config;
    d["DataFreshnessInSeconds"] = checked_freshness(config);
    const auto& storage = config["StorageConfiguration"];
    if (storage.contains("OutputKeyTemplate"))
        if (auto error = delivery::key_template_error(storage["OutputKeyTemplate"].get<std::string>()))
            throw api_error::invalid_argument(*error);
    if (!d.contains("DeadLetterQueueS3Configuration"))
        d["DeadLetterQueueS3Configuration"] = {{"BucketARN", storage["BucketARN"]},
                                               {"ExpectedBucketOwner", storage["ExpectedBucketOwner"]}};
    auto& dlq = d["DeadLetterQueueS3Configuration"];
    if (!dlq.contains("ErrorOutputPrefix")) dlq["ErrorOutputPrefix"] = delivery::default_error_output_prefix;
    return d;
}

// What the internal delivery stream's worker reads (see delivery_stream::s3).
json worker_destination(const json& s3) {
    const auto& storage = s3["StorageConfiguration"];
    auto compression = storage["CompressionType"].get<std::string>();
    return {{"BucketARN", storage["BucketARN"]},
            {"Prefix", ""},
            {"BufferingHints", {{"SizeInMBs", 128}, {"IntervalInSeconds", s3["DataFreshnessInSeconds"]}}},
            {"CompressionFormat", compression == "NONE" ? std::string("UNCOMPRESSED") : compression}};
}

void create_channel(action_context& ctx) {
    auto& reg = firehose::registry(ctx);
    const auto& in = ctx.input;
    refuse_s3_tables(in);
    if (!in.contains("S3DestinationConfiguration"))
        throw api_error::invalid_argument("S3DestinationConfiguration is required: specify exactly one destination.");
    const auto& streams_in = in["StreamConfigurationList"];
    if (streams_in.size() != 1)
        throw api_error::invalid_argument("StreamConfigurationList must hold exactly one stream; it holds " +
                                          std::to_string(streams_in.size()) + ".");
    const auto& sc = streams_in[0];
    auto format = sc["RecordConfiguration"]["RecordFormatType"].get<std::string>();
    if (!delivery::parse_record_format(format))
        throw api_error::invalid_argument("RecordFormatType " + format +
                                          " is supported only for S3 Tables destinations; use JSON, STRING or "
                                          "BYTE_ARRAY for a general purpose S3 bucket.");
    const auto stream_arn = sc["StreamARN"].get<std::string>();
    const auto stream_key = stream_of_arn(ctx, stream_arn);
    auto stream = require_stream(ctx, stream_key);
    if (stream->stream_mode != "ON_DEMAND")
        throw api_error::invalid_argument("Channels are supported only for streams in ON_DEMAND capacity mode; " +
                                          stream_arn + " is " + stream->stream_mode + ".");
    if (stream->status(ctx.now_ms) != streams::stream_status::active)
        throw api_error::resource_in_use("Stream " + ctx.shown(stream_key) + " under account " + ctx.account() +
                                         " not ACTIVE, instead in state " +
                                         streams::to_string(stream->status(ctx.now_ms)));

    const auto name = in["ChannelName"].get<std::string>();
    const auto id = id_uuid();
    const auto arn = channel_arn(ctx, ctx.account(), id);
    json channel = {{"ChannelName", name},
                    {"ChannelId", id},
                    {"ChannelARN", arn},
                    {"ServiceExecutionRoleARN", in["ServiceExecutionRoleARN"]},
                    {"StreamConfigurationList", json::array({{{"StreamARN", stream_arn},
                                                              {"RecordConfiguration", sc["RecordConfiguration"]}}})},
                    {"S3DestinationConfiguration", s3_destination(in["S3DestinationConfiguration"])},
                    {"stream_created_ms", stream->created_ms}};
    for (auto member : {"EncryptionConfiguration", "LoggingConfiguration"})
        if (in.contains(member)) channel[member] = in[member];

    delivery::delivery_stream s;
    s.name = channel_key(ctx, ctx.account(), id);
    s.uid = random_u63();
    s.type = std::string(delivery::kinesis_source);
    s.created_ms = ctx.now_ms;
    s.active_at_ms = ctx.now_ms + reg.options().create_delay_ms;
    s.source_stream_arn = stream_arn;
    s.source_role_arn = in["ServiceExecutionRoleARN"].get<std::string>();
    s.destination = worker_destination(channel["S3DestinationConfiguration"]);
    if (in.contains("Tags")) s.tags = checked_tags(in["Tags"]);
    s.channel = channel;

    // The registry's check callback runs under its lock, where list() cannot
    // be called: channel creations are serialised here instead, so the
    // name and per-stream checks below still hold when the channel is added.
    static std::mutex creating;
    std::lock_guard lock(creating);
    {
        std::size_t on_stream = 0;
        for (auto& other : reg.list()) {
            if (!other->is_channel() || !ctx.owns(other->name)) continue;
            if (other->channel["ChannelName"] == name)
                throw api_error::resource_in_use("Channel " + name + " under account " + ctx.account() +
                                                 " already exists.");
            if (!other->deleting_since_ms && other->source_stream_arn == stream_arn) ++on_stream;
        }
        if (on_stream >= channels_per_stream)
            throw api_error::limit_exceeded("Stream " + stream_arn + " already has " + std::to_string(on_stream) +
                                            " general purpose S3 channel; the limit is " +
                                            std::to_string(channels_per_stream) + ".");
    }
    reg.create(std::move(s), [](const delivery::firehose_registry&) {});
    ctx.reply->ok({{"ChannelDescription", description(ctx, *require_channel(ctx, arn))}});
}

// ---- DescribeChannel, ListChannels -------------------------------------------

void describe_channel(action_context& ctx) {
    auto s = require_channel(ctx, ctx.input["ChannelARN"].get<std::string>());
    ctx.reply->ok({{"ChannelDescription", description(ctx, *s)}});
}

void list_channels(action_context& ctx) {
    const std::size_t limit = std::size_t(ctx.input.value("MaxResults", 100));
    std::string after;
    if (ctx.input.contains("NextToken")) {
        after = next_token_payload(ctx);
    }
    json filters = ctx.input.value("StreamFilter", json::array());
    json out = json::array();
    std::string last;
    bool more = false;
    for (auto& s : own_channels(ctx)) {
        auto name = s->channel["ChannelName"].get<std::string>();
        if (!after.empty() && name <= after) continue;
        bool match = filters.empty();
        for (auto& f : filters) {
            bool same_stream = f["StreamARN"] == s->source_stream_arn;
            bool same_time = !f.contains("StreamCreationTimestamp") ||
                             f["StreamCreationTimestamp"].get<std::int64_t>() / 1000 == stream_created_ms(ctx, *s) / 1000;
            match = match || (same_stream && same_time);
        }
        if (!match) continue;
        if (out.size() == limit) {
            more = true;
            break;
        }
        out.push_back(summary(ctx, *s));
        last = name;
    }
    json reply = {{"ChannelSummaries", std::move(out)}};
    if (more) reply["NextToken"] = encoding::paging_token(last, ctx.now_ms, ctx.svc.secret());
    ctx.reply->ok(std::move(reply));
}

// ---- UpdateChannel, DeleteChannel --------------------------------------------

void update_channel(action_context& ctx) {
    const auto arn = ctx.input["ChannelARN"].get<std::string>();
    auto current = require_channel(ctx, arn);
    refuse_s3_tables(ctx.input);
    if (!ctx.input.contains("S3DestinationConfiguration") && !ctx.input.contains("LoggingConfiguration"))
        throw api_error::invalid_argument("Specify S3DestinationConfiguration or LoggingConfiguration to update.");
    std::optional<int> freshness;
    if (ctx.input.contains("S3DestinationConfiguration"))
        freshness = checked_freshness(ctx.input["S3DestinationConfiguration"]);
    auto& reg = firehose::registry(ctx);
    auto updated = reg.update(current->name, [&](delivery::delivery_stream& s) {
        auto status = status_of(ctx, s);
        if (status != "ACTIVE")
            throw api_error::resource_in_use("Channel " + arn + " is " + status + "; it can be updated only when "
                                             "ACTIVE.");
        if (freshness) {
            s.channel["S3DestinationConfiguration"]["DataFreshnessInSeconds"] = *freshness;
            s.destination["BufferingHints"]["IntervalInSeconds"] = *freshness;
        }
        if (ctx.input.contains("LoggingConfiguration")) s.channel["LoggingConfiguration"] = ctx.input["LoggingConfiguration"];
        s.channel["updating_until_ms"] = ctx.now_ms + reg.options().create_delay_ms;
        s.last_update_ms = ctx.now_ms;
        ++s.version;
    });
    if (!updated) throw channel_not_found(arn);
    ctx.reply->ok({{"ChannelDescription", description(ctx, *updated)}});
}

void delete_channel(action_context& ctx) {
    const auto arn = ctx.input["ChannelARN"].get<std::string>();
    auto s = require_channel(ctx, arn);
    auto& reg = firehose::registry(ctx);
    if (!s->deleting_since_ms)
        reg.update(s->name, [&](delivery::delivery_stream& d) {
            if (!d.deleting_since_ms) d.deleting_since_ms = ctx.now_ms;
        });
    if (reg.options().delete_delay_ms <= 0) reg.remove(s->name);
    ctx.reply->ok_empty();
}

}  // namespace

namespace kinesis {

std::size_t channel_count(const action_context& ctx, const std::string& stream_key) {
    auto* reg = ctx.svc.firehose();
    if (!reg) return 0;
    const auto arn = ctx.svc.stream_arn(stream_key);
    std::size_t n = 0;
    for (auto& s : reg->list())
        if (s->is_channel() && !s->deleting_since_ms && s->source_stream_arn == arn) ++n;
    return n;
}

bool is_channel_arn(std::string_view arn) { return arn.find(":channel/") != std::string_view::npos; }

void tag_channel(const action_context& ctx, const std::string& arn, const std::map<std::string, std::string>& tags) {
    auto s = require_channel(ctx, arn);
    firehose::registry(ctx).update(s->name, [&](delivery::delivery_stream& d) {
        auto merged = d.tags;
        for (auto& [k, v] : tags) merged[k] = v;
        // As for streams.
        if (merged.size() > 50)
            throw api_error::invalid_argument("Failed to add tags to resource " + arn +
                                              " because a given resource cannot have more than 50 tags.");
        d.tags = std::move(merged);
    });
}

void untag_channel(const action_context& ctx, const std::string& arn, const std::vector<std::string>& keys) {
    auto s = require_channel(ctx, arn);
    firehose::registry(ctx).update(s->name, [&](delivery::delivery_stream& d) {
        for (auto& k : keys) d.tags.erase(k);
    });
}

std::map<std::string, std::string> channel_tags(const action_context& ctx, const std::string& arn) {
    return require_channel(ctx, arn)->tags;
}

}  // namespace kinesis

const action_entry create_channel_action{"Kinesis_20131202.CreateChannel", &create_shape, create_channel};
const action_entry describe_channel_action{"Kinesis_20131202.DescribeChannel", &arn_shape, describe_channel};
const action_entry list_channels_action{"Kinesis_20131202.ListChannels", &list_shape, list_channels};
const action_entry update_channel_action{"Kinesis_20131202.UpdateChannel", &update_shape, update_channel};
const action_entry delete_channel_action{"Kinesis_20131202.DeleteChannel", &arn_shape, delete_channel};

}  // namespace kinesd::actions
