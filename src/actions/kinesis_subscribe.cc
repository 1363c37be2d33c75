// SubscribeToShard: enhanced fan-out. The handler checks the consumer, the
// shard and the starting position, then answers with a subscription (see
// subscription.h), which the connection streams as AWS event-stream frames.
// Failures found here are ordinary error answers; later ones are exception
// events inside the stream.
#include "actions/handlers.h"
#include "actions/kinesis_common.h"
#include "actions/subscription.h"
#include "actions/subscription_hub.h"
#include "streams/encoding.h"

namespace kinesd::actions {

namespace {

using namespace kinesis;
using nlohmann::json;

const std::vector<field> starting_position_members = {
    {.name = "Type", .required = true,
     .enum_values = {"AT_SEQUENCE_NUMBER", "AFTER_SEQUENCE_NUMBER", "TRIM_HORIZON", "LATEST", "AT_TIMESTAMP"}},
    {.name = "SequenceNumber", .regex = &patterns::sequence_number},
    {.name = "Timestamp", .type = field_type::timestamp},
};

const shape subscribe_shape = {
    {.name = "ConsumerARN", .required = true, .min_length = 1, .max_length = 2048, .regex = &patterns::resource_arn},
    {.name = "ShardId", .required = true, .min_length = 1, .max_length = 128, .regex = &patterns::stream_name},
    {.name = "StartingPosition", .type = field_type::structure, .required = true,
     .members = &starting_position_members},
};

const std::string& account(const action_context& ctx) { return ctx.account(); }

// The first counter the subscription delivers.
std::uint64_t starting_counter(const action_context& ctx, const json& position, const streams::stream_state& s,
                               const streams::shard_state& shard) {
    const auto& type = position["Type"].get_ref<const std::string&>();
    auto& log = *shard.log;
    const bool by_sequence = type == "AT_SEQUENCE_NUMBER" || type == "AFTER_SEQUENCE_NUMBER";
    if (by_sequence) {
        if (!position.contains("SequenceNumber"))
            throw api_error::invalid_argument("StartingPosition of type " + type + " requires a SequenceNumber.");
        const auto& text = position["SequenceNumber"].get_ref<const std::string&>();
        auto seq = encoding::parse_sequence_number(text);
        if (!seq || seq->shard_index != shard.index || seq->shard_created_s != shard.created_s)
            throw api_error::invalid_argument("StartingSequenceNumber " + text + " used in SubscribeToShard on shard " +
                                              encoding::shard_id(shard.index) + " in stream " + ctx.shown(s.name) +
                                              " under account " + account(ctx) + " is invalid.");
        return type == "AT_SEQUENCE_NUMBER" ? std::max<std::uint64_t>(seq->counter, 1) : seq->counter + 1;
    }
    if (type == "TRIM_HORIZON") return std::max<std::uint64_t>(1, log.trimmed_below.load());
    if (type == "LATEST") {
        ctx.svc.store().refresh_tip(log);
        return log.committed.load() + 1;
    }
    // AT_TIMESTAMP
    if (!position.contains("Timestamp"))
        throw api_error::invalid_argument("StartingPosition of type AT_TIMESTAMP requires a Timestamp.");
    const auto t = std::int64_t(position["Timestamp"].get<double>());
    if (t > ctx.now_ms)
        throw api_error::invalid_argument(
            "The timestampInMillis parameter cannot be greater than the currentTimestampInMillis. "
            "timestampInMillis: " + std::to_string(t) + ", currentTimestampInMillis: " + std::to_string(ctx.now_ms));
    return ctx.svc.store().counter_at_time(log, t);
}

void subscribe_to_shard(action_context& ctx) {
    auto* hub = ctx.svc.subscriptions();
    if (!hub) throw api_error::unknown_operation();
    const auto& arn = ctx.input["ConsumerARN"].get_ref<const std::string&>();
    const auto address = parse_consumer_arn(arn);
    if (!address) throw api_error::invalid_argument("Invalid ConsumerARN " + arn);
    // The account and region check of every ARN a request names.
    const auto stream = stream_of_arn(ctx, arn);
    auto s = ctx.svc.streams().find(stream);
    if (!s || s->deleting_since_ms) throw stream_not_found(ctx, stream);
    const streams::consumer_state* consumer = nullptr;
    for (const auto& c : s->consumers)
        if (c.name == address->consumer && c.created_ms / 1000 == address->created_s) consumer = &c;
    if (!consumer || consumer_gone(ctx, *consumer))
        throw api_error::resource_not_found("Consumer " + arn + " under account " + account(ctx) + " not found.");
    if (ctx.now_ms < consumer->active_at_ms || consumer->deleting_since_ms)
        throw api_error::resource_in_use("Consumer " + consumer->name + " with creation timestamp " +
                                         std::to_string(consumer->created_ms / 1000) + " under stream: " + ctx.shown(s->name) +
                                         " , account " + account(ctx) + " is not in ACTIVE status.");
    const auto& shard_text = ctx.input["ShardId"].get_ref<const std::string&>();
    const auto index = encoding::parse_shard_id(shard_text);
    const auto* shard = index ? s->find_shard(*index) : nullptr;
    if (!shard)
        throw api_error::resource_not_found("Could not find shard " + shard_text + " in stream " + ctx.shown(s->name) +
                                            " under account " + account(ctx) + ".");

    subscription_target target{s->name,    s->uid,         shard->index, shard->created_s, shard->log,
                               consumer->name, consumer->created_ms, arn,
                               starting_counter(ctx, ctx.input["StartingPosition"], *s, *shard)};
    auto sub = std::make_shared<subscription>(ctx.svc, *hub, ctx.format, std::move(target), ctx.now_ms);
    hub->admit(sub, ctx.now_ms);
    ctx.reply->ok_stream(std::move(sub));
}

}  // namespace

const action_entry subscribe_to_shard_action{"Kinesis_20131202.SubscribeToShard", &subscribe_shape,
                                             subscribe_to_shard};

}  // namespace kinesd::actions
