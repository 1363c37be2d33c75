// Enhanced fan-out consumers (registration only): RegisterStreamConsumer,
// DeregisterStreamConsumer, DescribeStreamConsumer, ListStreamConsumers.
#include "actions/handlers.h"
#include "actions/kinesis_common.h"
#include "streams/encoding.h"

namespace kinesd::actions {

namespace {

using nlohmann::json;
using namespace kinesis;
using streams::consumer_state;
using streams::stream_state;

// Per stream: 20, or 50 on an On-demand Advantage stream (an ON_DEMAND stream
// of an account with the minimum throughput billing commitment).
constexpr std::size_t max_consumers_per_stream = 20;
constexpr std::size_t max_consumers_per_advantage_stream = 50;
// At most this many consumers of a stream may be CREATING at once.
constexpr std::size_t max_creating_consumers = 5;

std::size_t consumer_limit(const action_context& ctx, const stream_state& s) {
    if (s.stream_mode != "ON_DEMAND") return max_consumers_per_stream;
    auto commitment = account_settings(ctx)["MinimumThroughputBillingCommitment"];
    return commitment.value("Status", "") == "ENABLED" ? max_consumers_per_advantage_stream
                                                       : max_consumers_per_stream;
}

const char* consumer_status(const action_context& ctx, const consumer_state& c) {
    if (c.deleting_since_ms) return "DELETING";
    return ctx.now_ms < c.active_at_ms ? "CREATING" : "ACTIVE";
}

const pattern consumer_arn_pattern{
    "^(arn):aws.*:kinesis:.*:\\d{12}:.*stream\\/[a-zA-Z0-9_.-]+\\/consumer\\/[a-zA-Z0-9_.-]+:[0-9]+",
    [](std::string_view s) {
        return s.substr(0, 7) == "arn:aws" && s.find(":kinesis:") != std::string_view::npos &&
               s.find("/consumer/") != std::string_view::npos;
    }};

field consumer_name(bool required) {
    return {.name = "ConsumerName", .required = required, .min_length = 1, .max_length = 128,
            .regex = &patterns::stream_name};
}
field consumer_arn() {
    return {.name = "ConsumerARN", .min_length = 1, .max_length = 2048, .regex = &consumer_arn_pattern};
}

std::string arn_of(const action_context& ctx, const std::string& stream, const consumer_state& c) {
    return ctx.svc.stream_arn(stream) + "/consumer/" + c.name + ":" + std::to_string(c.created_ms / 1000);
}

json consumer_json(const action_context& ctx, const std::string& stream, const consumer_state& c) {
    return {{"ConsumerName", c.name},
            {"ConsumerARN", arn_of(ctx, stream, c)},
            {"ConsumerStatus", consumer_status(ctx, c)},
            {"ConsumerCreationTimestamp", c.created_ms}};
}

// The stream and consumer named by ConsumerARN, or by StreamARN + ConsumerName.
std::pair<std::string, std::string> consumer_address(const action_context& ctx) {
    if (ctx.input.contains("ConsumerARN")) {
        auto arn = ctx.input["ConsumerARN"].get<std::string>();
        auto stream_at = arn.find(":stream/"), consumer_at = arn.find("/consumer/");
        auto colon = arn.rfind(':');
        if (stream_at == std::string::npos || consumer_at == std::string::npos || colon < consumer_at)
            throw api_error::invalid_argument("Invalid ConsumerARN " + arn);
        return {stream_of_arn(ctx, arn), arn.substr(consumer_at + 10, colon - consumer_at - 10)};
    }
    if (ctx.input.contains("StreamARN") && ctx.input.contains("ConsumerName"))
        return {stream_name_of(ctx), ctx.input["ConsumerName"].get<std::string>()};
    throw api_error::invalid_argument("Either ConsumerARN or both ConsumerName and StreamARN must be provided.");
}

const consumer_state& require_consumer(const action_context& ctx, const stream_state& s, const std::string& name) {
    for (auto& c : s.consumers)
        if (c.name == name && !consumer_gone(ctx, c)) return c;
    throw api_error::resource_not_found("Consumer " + name + ", stream " + ctx.shown(s.name) + " under account " +
                                        ctx.account() + " not found.");
}

const shape register_shape = {members::stream_arn(true), consumer_name(true),
                              {.name = "Tags", .type = field_type::map, .min_length = 1, .max_length = 50}};

void register_stream_consumer(action_context& ctx) {
    auto stream = stream_name_of(ctx);
    require_stream(ctx, stream);
    auto name = ctx.input["ConsumerName"].get<std::string>();
    consumer_state created;
    ctx.svc.streams().update(stream, [&](stream_state& s) {
        std::erase_if(s.consumers, [&](const consumer_state& c) { return consumer_gone(ctx, c); });
        std::size_t creating = 0;
        for (auto& c : s.consumers) {
            if (c.name == name)
                throw api_error::resource_in_use("Consumer " + arn_of(ctx, stream, c) + " under account " +
                                                 ctx.account() + " already exists.");
            if (!c.deleting_since_ms && ctx.now_ms < c.active_at_ms) ++creating;
        }
        auto limit = consumer_limit(ctx, s);
        if (s.consumers.size() >= limit)
            throw api_error::limit_exceeded("Consumer limit of " + std::to_string(limit) + " reached for stream " +
                                            ctx.shown(s.name) + ".");
        if (creating >= max_creating_consumers)
            throw api_error::limit_exceeded("Only " + std::to_string(max_creating_consumers) +
                                            " consumers of stream " + ctx.shown(s.name) +
                                            " can be in the CREATING status at the same time.");
        created = {name, ctx.now_ms, ctx.now_ms + ctx.svc.streams().options().create_delay_ms};
        s.consumers.push_back(created);
    });
    ctx.reply->ok({{"Consumer", consumer_json(ctx, stream, created)}});
}

const shape consumer_address_shape = {members::stream_arn(), consumer_name(false), consumer_arn()};

void deregister_stream_consumer(action_context& ctx) {
    // Named, not a structured binding: the lambda below captures the name.
    const auto address = consumer_address(ctx);
    const auto& stream = address.first;
    const auto& name = address.second;
    auto s = require_stream(ctx, stream);
    require_consumer(ctx, *s, name);
    // The consumer stays DELETING for the delete delay, as a deleted stream does.
    ctx.svc.streams().update(stream, [&](stream_state& st) {
        for (auto& c : st.consumers)
            if (c.name == name && !c.deleting_since_ms) c.deleting_since_ms = ctx.now_ms;
        std::erase_if(st.consumers, [&](const consumer_state& c) { return consumer_gone(ctx, c); });
    });
    ctx.reply->ok_empty();
}

void describe_stream_consumer(action_context& ctx) {
    auto [stream, name] = consumer_address(ctx);
    auto s = require_stream(ctx, stream);
    json d = consumer_json(ctx, stream, require_consumer(ctx, *s, name));
    d["StreamARN"] = ctx.svc.stream_arn(stream);
    ctx.reply->ok({{"ConsumerDescription", std::move(d)}});
}

const shape list_consumers_shape = {
    members::stream_arn(true),
    {.name = "NextToken", .min_length = 1, .max_length = 1048576},
    {.name = "MaxResults", .type = field_type::integer, .min_value = 1, .max_value = 10000},
    {.name = "StreamCreationTimestamp", .type = field_type::timestamp},
};

void list_stream_consumers(action_context& ctx) {
    auto stream = stream_name_of(ctx);
    auto s = require_stream(ctx, stream);
    std::size_t max = std::min<std::size_t>(ctx.input.value("MaxResults", 100), 100);
    std::size_t start = 0;
    if (ctx.input.contains("NextToken")) {
        start = std::stoul(next_token_payload(ctx));
    }
    std::vector<const consumer_state*> live;
    for (auto& c : s->consumers)
        if (!consumer_gone(ctx, c)) live.push_back(&c);
    json consumers = json::array();
    for (std::size_t i = start; i < live.size() && consumers.size() < max; ++i)
        consumers.push_back(consumer_json(ctx, stream, *live[i]));
    json out = {{"Consumers", consumers}};
    if (start + consumers.size() < live.size())
        out["NextToken"] = encoding::paging_token(std::to_string(start + consumers.size()), ctx.now_ms, ctx.svc.secret());
    ctx.reply->ok(std::move(out));
}

}  // namespace

const action_entry register_stream_consumer_action{"Kinesis_20131202.RegisterStreamConsumer", &register_shape,
                                                   register_stream_consumer};
const action_entry deregister_stream_consumer_action{"Kinesis_20131202.DeregisterStreamConsumer",
                                                     &consumer_address_shape, deregister_stream_consumer};
const action_entry describe_stream_consumer_action{"Kinesis_20131202.DescribeStreamConsumer",
                                                   &consumer_address_shape, describe_stream_consumer};
const action_entry list_stream_consumers_action{"Kinesis_20131202.ListStreamConsumers", &list_consumers_shape,
                                                list_stream_consumers};

}  // namespace kinesd::actions
