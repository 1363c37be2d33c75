// Per-stream settings: StartStreamEncryption, StopStreamEncryption,
// EnableEnhancedMonitoring, DisableEnhancedMonitoring, UpdateStreamMode,
// UpdateMaxRecordSize, UpdateStreamWarmThroughput. kinesd records and reports
// them as AWS does; encryption is a label (records are stored as sent).
#include <algorithm>

#include "actions/handlers.h"
#include "actions/kinesis_common.h"

namespace kinesd::actions {

namespace {

using nlohmann::json;
using namespace kinesis;
using streams::stream_state;

void require_active(const action_context& ctx, const stream_state& s) {
    auto status = s.status(ctx.now_ms);
    if (status != streams::stream_status::active)
        throw api_error::resource_in_use("Stream " + ctx.shown(s.name) + " under account " + ctx.account() +
                                         " not ACTIVE, instead in state " + streams::to_string(status));
}

void mark_updating(const action_context& ctx, stream_state& s) {
    s.updating_until_ms = ctx.now_ms + ctx.svc.streams().options().update_delay_ms;
}

const shape encryption_shape = {
    members::stream_name(),
    {.name = "EncryptionType", .required = true, .enum_values = {"NONE", "KMS"}},
    {.name = "KeyId", .required = true, .min_length = 1, .max_length = 2048},
    members::stream_arn(),
};

void set_encryption(action_context& ctx, bool start) {
    auto name = stream_name_of(ctx);
    require_stream(ctx, name);
    auto type = ctx.input["EncryptionType"].get<std::string>();
    if (type != "KMS")
        throw api_error::invalid_argument("Encryption type " + type + " is not supported; use KMS.");
    ctx.svc.streams().update(name, [&](stream_state& s) {
        require_active(ctx, s);
        s.encryption_type = start ? "KMS" : "NONE";
        s.key_id = start ? ctx.input["KeyId"].get<std::string>() : std::string();
        mark_updating(ctx, s);
    });
    ctx.reply->ok_empty();
}
void start_stream_encryption(action_context& ctx) { set_encryption(ctx, true); }
void stop_stream_encryption(action_context& ctx) { set_encryption(ctx, false); }

const std::vector<std::string> all_metrics = {"IncomingBytes",
                                              "IncomingRecords",
                                              "OutgoingBytes",
                                              "OutgoingRecords",
                                              "WriteProvisionedThroughputExceeded",
                                              "ReadProvisionedThroughputExceeded",
                                              "IteratorAgeMilliseconds"};

const field metric_field{.name = "member",
                         .enum_values = {"IncomingBytes", "IncomingRecords", "OutgoingBytes", "OutgoingRecords",
                                         "WriteProvisionedThroughputExceeded", "ReadProvisionedThroughputExceeded",
                                         "IteratorAgeMilliseconds", "ALL"}};

const shape monitoring_shape = {
    members::stream_name(),
    {.name = "ShardLevelMetrics", .type = field_type::list, .required = true, .min_length = 1, .max_length = 7,
     .element = &metric_field},
    members::stream_arn(),
};

void change_monitoring(action_context& ctx, bool enable) {
    auto name = stream_name_of(ctx);
    require_stream(ctx, name);
    std::vector<std::string> requested;
    for (auto& m : ctx.input["ShardLevelMetrics"]) {
        auto metric = m.get<std::string>();
        if (metric == "ALL")
            requested.insert(requested.end(), all_metrics.begin(), all_metrics.end());
        else
            requested.push_back(metric);
    }
    std::vector<std::string> before, after;
    ctx.svc.streams().update(name, [&](stream_state& s) {
        before = s.shard_level_metrics;
        std::vector<std::string> next;
        for (auto& metric : all_metrics) {  // keep AWS's order
            bool had = std::count(before.begin(), before.end(), metric) > 0;
            bool asked = std::count(requested.begin(), requested.end(), metric) > 0;
            if (enable ? (had || asked) : (had && !asked)) next.push_back(metric);
        }
        s.shard_level_metrics = next;
        after = next;
    });
    ctx.reply->ok({{"StreamName", ctx.shown(name)},
                   {"StreamARN", ctx.svc.stream_arn(name)},
                   {"CurrentShardLevelMetrics", before},
                   {"DesiredShardLevelMetrics", after}});
}
void enable_enhanced_monitoring(action_context& ctx) { change_monitoring(ctx, true); }
void disable_enhanced_monitoring(action_context& ctx) { change_monitoring(ctx, false); }

const shape stream_mode_details_shape = {
    {.name = "StreamMode", .required = true, .enum_values = {"PROVISIONED", "ON_DEMAND"}},
};

const shape update_stream_mode_shape = {
    members::stream_arn(true),
    {.name = "StreamModeDetails", .type = field_type::structure, .required = true,
     .members = &stream_mode_details_shape},
    {.name = "WarmThroughputMiBps", .type = field_type::integer, .min_value = 0},
};

void update_stream_mode(action_context& ctx) {
    auto name = stream_name_of(ctx);
    require_stream(ctx, name);
    auto mode = ctx.input["StreamModeDetails"]["StreamMode"].get<std::string>();
    ctx.svc.streams().update(name, [&](stream_state& s) {
        require_active(ctx, s);
        if (s.stream_mode == mode)
            throw api_error::invalid_argument("Stream " + ctx.shown(s.name) + " under account " +
                                              ctx.account() + " is already in " + mode + " mode.");
        s.stream_mode = mode;
        if (ctx.input.contains("WarmThroughputMiBps"))
            s.warm_throughput_mibps = ctx.input["WarmThroughputMiBps"].get<int>();
        mark_updating(ctx, s);
    });
    ctx.reply->ok_empty();
}

const shape update_max_record_size_shape = {
    members::stream_arn(),
    {.name = "MaxRecordSizeInKiB", .type = field_type::integer, .required = true, .min_value = 1024,
     .max_value = 10240},
    members::stream_name(),
};

void update_max_record_size(action_context& ctx) {
    auto name = stream_name_of(ctx);
    require_stream(ctx, name);
    ctx.svc.streams().update(name, [&](stream_state& s) {
        require_active(ctx, s);
        s.max_record_size_kib = ctx.input["MaxRecordSizeInKiB"].get<int>();
    });
    ctx.reply->ok_empty();
}

const shape update_warm_throughput_shape = {
    members::stream_arn(),
    members::stream_name(),
    {.name = "WarmThroughputMiBps", .type = field_type::integer, .required = true, .min_value = 0},
};

void update_stream_warm_throughput(action_context& ctx) {
    auto name = stream_name_of(ctx);
    require_stream(ctx, name);
    int target = ctx.input["WarmThroughputMiBps"].get<int>();
    ctx.svc.streams().update(name, [&](stream_state& s) {
        if (s.stream_mode != "ON_DEMAND")
            throw api_error::validation("Warm throughput can only be set on ON_DEMAND streams.");
        require_active(ctx, s);
        s.warm_throughput_mibps = target;
    });
    ctx.reply->ok({{"StreamARN", ctx.svc.stream_arn(name)},
                   {"StreamName", ctx.shown(name)},
                   {"WarmThroughput", {{"TargetMiBps", target}, {"CurrentMiBps", target}}}});
}

}  // namespace

const action_entry start_stream_encryption_action{"Kinesis_20131202.StartStreamEncryption", &encryption_shape,
                                                  start_stream_encryption};
const action_entry stop_stream_encryption_action{"Kinesis_20131202.StopStreamEncryption", &encryption_shape,
                                                 stop_stream_encryption};
const action_entry enable_enhanced_monitoring_action{"Kinesis_20131202.EnableEnhancedMonitoring", &monitoring_shape,
                                                     enable_enhanced_monitoring};
const action_entry disable_enhanced_monitoring_action{"Kinesis_20131202.DisableEnhancedMonitoring",
                                                      &monitoring_shape, disable_enhanced_monitoring};
const action_entry update_stream_mode_action{"Kinesis_20131202.UpdateStreamMode", &update_stream_mode_shape,
                                             update_stream_mode};
const action_entry update_max_record_size_action{"Kinesis_20131202.UpdateMaxRecordSize",
                                                 &update_max_record_size_shape, update_max_record_size};
const action_entry update_stream_warm_throughput_action{"Kinesis_20131202.UpdateStreamWarmThroughput",
                                                        &update_warm_throughput_shape, update_stream_warm_throughput};

}  // namespace kinesd::actions
