// UpdateStreamRecordDistributionStrategy. AUTO makes kinesd spread an
// ON_DEMAND stream's records evenly over its shards, ignoring partition keys
// and explicit hash keys (see hash_of in kinesis_records.cc);
// USER_PARTITION_KEY, the default, routes by key. AWS offers the setting for
// ON_DEMAND streams only and applies it at once, so there is no UPDATING
// state; records already written stay where they are.
#include "actions/handlers.h"
#include "actions/kinesis_common.h"

namespace kinesd::actions {

namespace {

using namespace kinesis;

const shape update_shape = {
    members::stream_arn(true),
    {.name = "StreamId", .min_length = 1, .max_length = 24},
    {.name = "RecordDistributionStrategy", .required = true, .enum_values = {"AUTO", "USER_PARTITION_KEY"}},
};

void update_record_distribution(action_context& ctx) {
    auto name = stream_name_of(ctx);
    require_stream(ctx, name);
    auto strategy = ctx.input["RecordDistributionStrategy"].get<std::string>();
    ctx.svc.streams().update(name, [&](streams::stream_state& s) {
        if (s.stream_mode != "ON_DEMAND")
            throw api_error::invalid_argument("The record distribution strategy can only be set on streams in "
                                              "ON_DEMAND capacity mode; stream " + ctx.shown(s.name) +
                                              " under account " + ctx.account() + " is in " + s.stream_mode +
                                              " mode.");
        auto status = s.status(ctx.now_ms);
        if (status != streams::stream_status::active)
            throw api_error::resource_in_use("Stream " + ctx.shown(s.name) + " under account " + ctx.account() +
                                             " not ACTIVE, instead in state " + streams::to_string(status));
        s.record_distribution = strategy;
    });
    ctx.reply->ok_empty();
}

}  // namespace

const action_entry update_stream_record_distribution_strategy_action{
    "Kinesis_20131202.UpdateStreamRecordDistributionStrategy", &update_shape, update_record_distribution};

}  // namespace kinesd::actions
