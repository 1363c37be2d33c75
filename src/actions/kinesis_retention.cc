// Retention: IncreaseStreamRetentionPeriod, DecreaseStreamRetentionPeriod.
// Records past retention disappear from reads at once (GetRecords filters by
// arrival time); the expiry worker reclaims their space later.
#include "actions/handlers.h"
#include "actions/kinesis_common.h"

namespace kinesd::actions {

namespace {

using namespace kinesis;

constexpr int min_retention_hours = 24;
constexpr int max_retention_hours = 8760;

const shape retention_shape = {
    members::stream_name(),
    {.name = "RetentionPeriodHours", .type = field_type::integer, .required = true},
    members::stream_arn(),
};

void change_retention(action_context& ctx, bool increase) {
    auto name = stream_name_of(ctx);
    int hours = ctx.input["RetentionPeriodHours"].get<int>();
    if (hours < min_retention_hours)
        throw api_error::invalid_argument("Minimum allowed retention period is 24 hours. Requested retention period (" +
                                          std::to_string(hours) + " hours) is too short.");
    if (hours > max_retention_hours)
        throw api_error::invalid_argument("Maximum allowed retention period is 8760 hours. Requested retention period (" +
                                          std::to_string(hours) + " hours) is too long.");
    require_stream(ctx, name);
    ctx.svc.streams().update(name, [&](streams::stream_state& s) {
        auto status = s.status(ctx.now_ms);
        if (status != streams::stream_status::active)
            throw api_error::resource_in_use("Stream " + ctx.shown(s.name) + " under account " + ctx.account() +
                                             " not ACTIVE, instead in state " + streams::to_string(status));
        if (increase && hours < s.retention_hours)
            throw api_error::invalid_argument(
                "Requested retention period (" + std::to_string(hours) + " hours) for stream " + ctx.shown(s.name) +
                " can not be shorter than existing retention period (" + std::to_string(s.retention_hours) +
                " hours). Use DecreaseRetentionPeriod API.");
        if (!increase && hours > s.retention_hours)
            throw api_error::invalid_argument(
                "Requested retention period (" + std::to_string(hours) + " hours) for stream " + ctx.shown(s.name) +
                " can not be longer than existing retention period (" + std::to_string(s.retention_hours) +
                " hours). Use IncreaseRetentionPeriod API.");
        s.retention_hours = hours;
    });
    ctx.reply->ok_empty();
}

void increase_retention(action_context& ctx) { change_retention(ctx, true); }
void decrease_retention(action_context& ctx) { change_retention(ctx, false); }

}  // namespace

const action_entry increase_stream_retention_period_action{"Kinesis_20131202.IncreaseStreamRetentionPeriod",
                                                           &retention_shape, increase_retention};
const action_entry decrease_stream_retention_period_action{"Kinesis_20131202.DecreaseStreamRetentionPeriod",
                                                           &retention_shape, decrease_retention};

}  // namespace kinesd::actions
