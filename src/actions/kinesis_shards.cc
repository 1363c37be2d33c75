// Shard listing: ListShards (with paging and ShardFilter).
#include "actions/handlers.h"
#include "actions/kinesis_common.h"
#include "streams/encoding.h"

namespace kinesd::actions {

namespace {

using nlohmann::json;
using namespace kinesis;

const shape shard_filter_shape = {
    {.name = "Type", .required = true,
     .enum_values = {"AFTER_SHARD_ID", "AT_TRIM_HORIZON", "FROM_TRIM_HORIZON", "AT_LATEST", "AT_TIMESTAMP",
                     "FROM_TIMESTAMP"}},
    {.name = "ShardId", .min_length = 1, .max_length = 128, .regex = &patterns::stream_name},
    {.name = "Timestamp", .type = field_type::timestamp},
};

const shape list_shards_shape = {
    members::stream_name(),
    {.name = "NextToken", .min_length = 1, .max_length = 1048576},
    {.name = "ExclusiveStartShardId", .min_length = 1, .max_length = 128, .regex = &patterns::stream_name},
    {.name = "MaxResults", .type = field_type::integer, .min_value = 1, .max_value = 10000},
    {.name = "StreamCreationTimestamp", .type = field_type::timestamp},
    {.name = "ShardFilter", .type = field_type::structure, .members = &shard_filter_shape},
    members::stream_arn(),
};

struct listing {
    std::string stream;
    std::int64_t after = -1;  // list shards whose index is above this
    std::size_t max_results = 1000;
    json filter;  // ShardFilter as given, or null
};

std::int64_t shard_index_or(const std::string& text, std::int64_t fallback) {
    auto index = encoding::parse_shard_id(text);
    return index ? std::int64_t(*index) : fallback;
}

// Whether a shard passes the ShardFilter (AFTER_SHARD_ID is applied by the caller).
bool passes(const json& filter, const streams::stream_state& s, const streams::shard_state& shard, std::int64_t now) {
    std::string type = filter.is_object() ? filter["Type"].get<std::string>() : "FROM_TRIM_HORIZON";
    std::int64_t created = std::int64_t(shard.created_s) * 1000;
    std::int64_t horizon = now - s.retention_ms();
    auto open_at = [&](std::int64_t t) { return created <= t && (shard.open() || *shard.closed_ms > t); };
    if (type == "AT_LATEST") return shard.open();
    if (type == "AT_TRIM_HORIZON") return open_at(std::max(horizon, s.created_ms));
    if (type == "AT_TIMESTAMP" || type == "FROM_TIMESTAMP") {
        std::int64_t t = filter.contains("Timestamp") ? std::int64_t(filter["Timestamp"].get<double>()) : now;
        if (type == "AT_TIMESTAMP") return open_at(std::max(t, s.created_ms));
        return shard.open() || *shard.closed_ms >= t;
    }
    // FROM_TRIM_HORIZON and AFTER_SHARD_ID: everything still inside retention.
    return shard.open() || *shard.closed_ms >= horizon;
}

void list_shards(action_context& ctx) {
    const auto& in = ctx.input;
    bool has_name = in.contains("StreamName") || in.contains("StreamARN");
    listing l;
    if (in.contains("NextToken")) {
        if (has_name) throw api_error::invalid_argument("NextToken and StreamName cannot be provided together.");
        auto token = encoding::parse_paging_token(in["NextToken"].get<std::string>(), ctx.svc.secret());
        json payload = token ? json::parse(token->payload, nullptr, false) : json();
        if (!token || !payload.is_object()) throw api_error::invalid_argument("Invalid NextToken.");
        if (ctx.now_ms - token->issued_ms > ctx.svc.settings().iterator_ttl_ms)
            throw api_error::expired_next_token("The timestamp sent in the NextToken has expired.");
        l.stream = payload["stream"].get<std::string>();
        l.after = payload["after"].get<std::int64_t>();
        l.filter = payload["filter"];
    } else {
        if (!has_name) throw api_error::invalid_argument("Either NextToken or StreamName should be provided.");
        l.stream = stream_name_of(ctx);
        if (in.contains("ExclusiveStartShardId"))
            l.after = shard_index_or(in["ExclusiveStartShardId"].get<std::string>(), -1);
        if (in.contains("ShardFilter")) {
            l.filter = in["ShardFilter"];
            auto type = l.filter["Type"].get<std::string>();
            if (type == "AFTER_SHARD_ID") {
                if (!l.filter.contains("ShardId"))
                    throw api_error::invalid_argument(
                        "Must specify ShardId in ShardFilter for ShardFilter type AFTER_SHARD_ID.");
                l.after = std::max(l.after, shard_index_or(l.filter["ShardId"].get<std::string>(), -1));
            } else if ((type == "AT_TIMESTAMP" || type == "FROM_TIMESTAMP") && !l.filter.contains("Timestamp")) {
                throw api_error::invalid_argument("Must specify Timestamp in ShardFilter for ShardFilter type " + type +
                                                  ".");
            }
        }
    }
    if (in.contains("MaxResults")) l.max_results = in["MaxResults"].get<std::size_t>();
    l.max_results = std::min<std::size_t>(l.max_results, 1000);

    auto s = require_stream(ctx, l.stream);
    json shards = json::array();
    std::int64_t last = l.after;
    bool more = false;
    for (auto& shard : s->shards) {
        if (std::int64_t(shard.index) <= l.after || !passes(l.filter, *s, shard, ctx.now_ms)) continue;
        if (shards.size() == l.max_results) {
            more = true;
            break;
        }
        shards.push_back(shard_json(*s, shard));
        last = shard.index;
    }
    json out = {{"Shards", std::move(shards)}};
    if (more) {
        json payload = {{"stream", l.stream}, {"after", last}, {"filter", l.filter}};
        out["NextToken"] = encoding::paging_token(payload.dump(), ctx.now_ms, ctx.svc.secret());
    }
    ctx.reply->ok(std::move(out));
}

}  // namespace

const action_entry list_shards_action{"Kinesis_20131202.ListShards", &list_shards_shape, list_shards};

}  // namespace kinesd::actions
