// Stream lifecycle actions: CreateStream, DeleteStream, DescribeStream,
// DescribeStreamSummary, ListStreams, DescribeLimits.
#include <algorithm>

#include "actions/handlers.h"
#include "actions/kinesis_channels.h"
#include "actions/kinesis_common.h"
#include "actions/kinesis_tags.h"
#include "common/random.h"
#include "streams/encoding.h"

namespace kinesd::actions {

namespace {

using nlohmann::json;
using namespace kinesis;

const shape stream_mode_details_shape = {
    {.name = "StreamMode", .required = true, .enum_values = {"PROVISIONED", "ON_DEMAND"}},
};

const shape create_stream_shape = {
    members::stream_name(true),
    {.name = "ShardCount", .type = field_type::integer, .min_value = 1},
    {.name = "StreamModeDetails", .type = field_type::structure, .members = &stream_mode_details_shape},
    {.name = "Tags", .type = field_type::map, .min_length = 1, .max_length = 200},
    {.name = "WarmThroughputMiBps", .type = field_type::integer, .min_value = 0},
    {.name = "MaxRecordSizeInKiB", .type = field_type::integer, .min_value = 1024, .max_value = 10240},
    {.name = "RecordDistributionStrategy", .enum_values = {"AUTO", "USER_PARTITION_KEY"}},
};

void create_stream(action_context& ctx) {
    const auto& settings = ctx.svc.settings();
    const std::string shown_name = ctx.input["StreamName"].get<std::string>();
    const std::string name = ctx.key(shown_name);
    const std::string& account = ctx.account();
    std::string mode = "PROVISIONED";
    if (ctx.input.contains("StreamModeDetails")) mode = ctx.input["StreamModeDetails"]["StreamMode"].get<std::string>();
    std::uint32_t shard_count;
    if (mode == "ON_DEMAND") {
        shard_count = settings.on_demand_shard_count;
    } else if (ctx.input.contains("ShardCount")) {
        shard_count = ctx.input["ShardCount"].get<std::uint32_t>();
    } else {
        throw api_error::validation(
            "1 validation error detected: Value null at 'shardCount' failed to satisfy constraint: Member must not "
            "be null");
    }
    auto distribution = ctx.input.value("RecordDistributionStrategy", std::string("USER_PARTITION_KEY"));
    if (distribution == "AUTO" && mode != "ON_DEMAND")
        throw api_error::invalid_argument("The AUTO record distribution strategy is only supported for streams in "
                                          "ON_DEMAND capacity mode.");
    std::map<std::string, std::string> tags;
    if (ctx.input.contains("Tags")) tags = kinesis::checked_tags(ctx.input["Tags"]);

    streams::stream_state s;
    s.name = name;
    s.uid = random_u63();
    s.created_ms = ctx.now_ms;
    s.active_at_ms = ctx.now_ms + ctx.svc.streams().options().create_delay_ms;
    s.stream_mode = mode;
    s.record_distribution = distribution;
    s.tags = std::move(tags);
    if (ctx.input.contains("MaxRecordSizeInKiB")) s.max_record_size_kib = ctx.input["MaxRecordSizeInKiB"].get<int>();
    if (ctx.input.contains("WarmThroughputMiBps")) s.warm_throughput_mibps = ctx.input["WarmThroughputMiBps"].get<int>();
    auto ranges = streams::even_hash_ranges(shard_count);
    std::uint64_t created_s = std::uint64_t(ctx.now_ms / 1000);
    for (std::uint32_t i = 0; i < shard_count; ++i) {
        streams::shard_state shard;
        shard.index = i;
        shard.starting_hash = ranges[i].first;
        shard.ending_hash = ranges[i].second;
        shard.created_s = created_s;
        s.shards.push_back(std::move(shard));
    }
    s.next_shard_index = shard_count;

    ctx.svc.streams().create(std::move(s), [&](const streams::stream_registry& reg) {
        if (reg.contains_unlocked(name))
            throw api_error::resource_in_use("Stream " + shown_name + " under account " + account +
                                             " already exists.");
        // The shard limit is each account's.
        std::size_t current = reg.open_shard_total_unlocked([&](std::string_view key) { return ctx.owns(key); });
        if (current + shard_count > settings.shard_limit)
            throw api_error::limit_exceeded(
                "This request would exceed the shard limit for the account " + account + " in " +
                settings.region + ". Current shard count for the account: " + std::to_string(current) +
                ". Limit: " + std::to_string(settings.shard_limit) +
                ". Number of additional shards that would have resulted from this request: " +
                std::to_string(shard_count) +
                ". Refer to the AWS Service Limits page "
                "(http://docs.aws.amazon.com/general/latest/gr/aws_service_limits.html) for current limits and how "
                "to request higher limits.");
    });
    ctx.reply->ok_empty();
}

const shape delete_stream_shape = {
    members::stream_name(),
    {.name = "EnforceConsumerDeletion", .type = field_type::boolean},
    members::stream_arn(),
};

void delete_stream(action_context& ctx) {
    auto name = stream_name_of(ctx);
    auto& registry = ctx.svc.streams();
    auto s = require_stream(ctx, name);
    // The consumers live inside the stream's state: deleting it deletes them.
    if (consumer_count(ctx, *s) > 0 && !ctx.input.value("EnforceConsumerDeletion", false))
        throw api_error::resource_in_use(
            "DeleteStream can\u2019t delete " + ctx.svc.stream_arn(name) +
            " because there are consumers associated with this data stream. To delete " + ctx.shown(name) +
            " anyway, set the EnforceConsumerDeletion parameter to true to force the deletion of all the consumers "
            "that are associated with it.");
    if (auto channels = channel_count(ctx, name))
        throw api_error::resource_in_use("DeleteStream can\u2019t delete " + ctx.svc.stream_arn(name) + " because " +
                                         std::to_string(channels) + " channel(s) deliver it. Delete the channels "
                                         "first (ListChannels with a StreamFilter finds them).");
    if (registry.options().delete_delay_ms <= 0) {
        registry.remove(name);
    } else {
        registry.update(name, [&](streams::stream_state& s) {
            if (!s.deleting_since_ms) s.deleting_since_ms = ctx.now_ms;
        });
    }
    ctx.reply->ok_empty();
}

json enhanced_monitoring(const streams::stream_state& s) {
    return json::array({{{"ShardLevelMetrics", s.shard_level_metrics}}});
}

// Members DescribeStream and DescribeStreamSummary share.
json description_common(const action_context& ctx, const streams::stream_state& s) {
    json d;
    d["StreamName"] = ctx.shown(s.name);
    d["StreamARN"] = ctx.svc.stream_arn(s.name);
    d["StreamStatus"] = streams::to_string(s.status(ctx.now_ms));
    d["StreamModeDetails"] = {{"StreamMode", s.stream_mode}};
    d["RetentionPeriodHours"] = s.retention_hours;
    d["StreamCreationTimestamp"] = s.created_ms;
    d["EnhancedMonitoring"] = enhanced_monitoring(s);
    d["EncryptionType"] = s.encryption_type;
    if (!s.key_id.empty()) d["KeyId"] = s.key_id;
    return d;
}

const shape describe_stream_shape = {
    members::stream_name(),
    {.name = "Limit", .type = field_type::integer, .min_value = 1, .max_value = 10000},
    {.name = "ExclusiveStartShardId", .min_length = 1, .max_length = 128, .regex = &patterns::stream_name},
    members::stream_arn(),
};

void describe_stream(action_context& ctx) {
    auto s = require_stream(ctx, stream_name_of(ctx));
    std::size_t limit = std::min<std::size_t>(ctx.input.value("Limit", 100), 100);
    std::int64_t after = -1;
    if (ctx.input.contains("ExclusiveStartShardId")) {
        auto index = encoding::parse_shard_id(ctx.input["ExclusiveStartShardId"].get<std::string>());
        after = index ? std::int64_t(*index) : -1;
    }
    json d = description_common(ctx, *s);
    json shards = json::array();
    bool more = false;
    for (auto& shard : s->shards) {
        if (std::int64_t(shard.index) <= after) continue;
        if (shards.size() == limit) {
            more = true;
            break;
        }
        shards.push_back(shard_json(*s, shard));
    }
    d["Shards"] = std::move(shards);
    d["HasMoreShards"] = more;
    ctx.reply->ok({{"StreamDescription", std::move(d)}});
}

const shape describe_stream_summary_shape = {members::stream_name(), members::stream_arn()};

void describe_stream_summary(action_context& ctx) {
    auto s = require_stream(ctx, stream_name_of(ctx));
    json d = description_common(ctx, *s);
    d["OpenShardCount"] = s->open_shard_count();
    d["ConsumerCount"] = consumer_count(ctx, *s);
    d["MaxRecordSizeInKiB"] = s->max_record_size_kib;
    if (s->warm_throughput_mibps)
        d["WarmThroughput"] = {{"TargetMiBps", *s->warm_throughput_mibps}, {"CurrentMiBps", *s->warm_throughput_mibps}};
    // The model says it is present for ON_DEMAND streams only.
    if (s->stream_mode == "ON_DEMAND") d["RecordDistributionStrategy"] = s->record_distribution;
    if (auto n = channel_count(ctx, s->name)) d["ChannelCount"] = n;
    ctx.reply->ok({{"StreamDescriptionSummary", std::move(d)}});
}

const shape list_streams_shape = {
    {.name = "Limit", .type = field_type::integer, .min_value = 1, .max_value = 10000},
    {.name = "ExclusiveStartStreamName", .min_length = 1, .max_length = 128, .regex = &patterns::stream_name},
    {.name = "NextToken", .min_length = 1, .max_length = 1048576},
};

void list_streams(action_context& ctx) {
    std::size_t limit = std::min<std::size_t>(ctx.input.value("Limit", 100), 100);
    std::string after = ctx.input.value("ExclusiveStartStreamName", std::string());
    if (ctx.input.contains("NextToken")) {
        after = next_token_payload(ctx);
    }
    json names = json::array(), summaries = json::array();
    bool more = false;
    // Registry keys of one account share its prefix, so its streams come in
    // name order.
    for (auto& s : ctx.svc.streams().list()) {
        if (!ctx.owns(s->name)) continue;
        const std::string name = ctx.shown(s->name);
        if (!after.empty() && name <= after) continue;
        if (names.size() == limit) {
            more = true;
            break;
        }
        names.push_back(name);
        summaries.push_back({{"StreamName", name},
                             {"StreamARN", ctx.svc.stream_arn(s->name)},
                             {"StreamStatus", streams::to_string(s->status(ctx.now_ms))},
                             {"StreamModeDetails", {{"StreamMode", s->stream_mode}}},
                             {"StreamCreationTimestamp", s->created_ms}});
    }
    json out = {{"StreamNames", names}, {"HasMoreStreams", more}, {"StreamSummaries", std::move(summaries)}};
    if (more)
        out["NextToken"] = encoding::paging_token(names.back().get<std::string>(), ctx.now_ms, ctx.svc.secret());
    ctx.reply->ok(std::move(out));
}

const shape describe_limits_shape = {};

void describe_limits(action_context& ctx) {
    std::size_t on_demand = 0;
    for (auto& s : ctx.svc.streams().list())
        if (ctx.owns(s->name) && s->stream_mode == "ON_DEMAND") ++on_demand;
    ctx.reply->ok({{"ShardLimit", ctx.svc.settings().shard_limit},
                   {"OpenShardCount", ctx.svc.streams().open_shard_total([&](std::string_view key) { return ctx.owns(key); })},
                   {"OnDemandStreamCount", on_demand},
                   {"OnDemandStreamCountLimit", ctx.svc.settings().on_demand_stream_limit}});
}

}  // namespace

const action_entry create_stream_action{"Kinesis_20131202.CreateStream", &create_stream_shape, create_stream};
const action_entry delete_stream_action{"Kinesis_20131202.DeleteStream", &delete_stream_shape, delete_stream};
const action_entry describe_stream_action{"Kinesis_20131202.DescribeStream", &describe_stream_shape, describe_stream};
const action_entry describe_stream_summary_action{"Kinesis_20131202.DescribeStreamSummary",
                                                  &describe_stream_summary_shape, describe_stream_summary};
const action_entry list_streams_action{"Kinesis_20131202.ListStreams", &list_streams_shape, list_streams};
const action_entry describe_limits_action{"Kinesis_20131202.DescribeLimits", &describe_limits_shape, describe_limits};

}  // namespace kinesd::actions
