// Shard listing: ListShards (with paging and ShardFilter).
#include <optional>

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

// A shard's life is [start, close): the initial shards start with the
// stream, a child at the instant its parents closed. At that instant the
// parents are already closed, so at every moment the shards open then cover
// the hash key space exactly once (KCL checks this of AT_* answers).
std::int64_t start_ms(const streams::stream_state& s, const streams::shard_state& shard) {
    if (!shard.parent) return s.created_ms;
    const auto* parent = s.find_shard(*shard.parent);
    return parent && parent->closed_ms ? *parent->closed_ms : s.created_ms;
}

bool open_at(const streams::stream_state& s, const streams::shard_state& shard, std::int64_t t) {
    return start_ms(s, shard) <= t && (shard.open() || *shard.closed_ms > t);
}

// Whether a shard passes the ShardFilter (AFTER_SHARD_ID's start is applied
// by the caller). Shards whose data has all expired (closed before the trim
// horizon) are never listed.
bool passes(const json& filter, const streams::stream_state& s, const streams::shard_state& shard, std::int64_t now) {
    std::int64_t horizon = std::max(now - s.retention_ms(), s.created_ms);
    if (!shard.open() && *shard.closed_ms <= horizon) return false;
    std::string type = filter.is_object() ? filter["Type"].get<std::string>() : "FROM_TRIM_HORIZON";
    if (type == "AT_LATEST") return shard.open();
    if (type == "AT_TRIM_HORIZON") return open_at(s, shard, horizon);
    if (type == "AT_TIMESTAMP" || type == "FROM_TIMESTAMP") {
        // A time before the trim horizon means the trim horizon.
        std::int64_t t = std::max(std::int64_t(filter["Timestamp"].get<double>()), horizon);
        if (type == "AT_TIMESTAMP") return open_at(s, shard, t);
        return shard.open() || *shard.closed_ms > t;
    }
    return true;  // FROM_TRIM_HORIZON, AFTER_SHARD_ID: all within retention
}

// ShardFilter's members each belong to some types only.
void check_filter(const json& filter) {
    auto type = filter["Type"].get<std::string>();
    bool by_id = type == "AFTER_SHARD_ID";
    bool by_time = type == "AT_TIMESTAMP" || type == "FROM_TIMESTAMP";
    if (by_id && !filter.contains("ShardId"))
        throw api_error::invalid_argument("Must specify ShardId in ShardFilter for ShardFilter type AFTER_SHARD_ID.");
    if (!by_id && filter.contains("ShardId"))
        throw api_error::invalid_argument("ShardId in ShardFilter can only be used with ShardFilter type "
                                          "AFTER_SHARD_ID.");
    if (by_time && !filter.contains("Timestamp"))
        throw api_error::invalid_argument("Must specify Timestamp in ShardFilter for ShardFilter type " + type + ".");
    if (!by_time && filter.contains("Timestamp"))
        throw api_error::invalid_argument("Timestamp in ShardFilter can only be used with ShardFilter types "
                                          "AT_TIMESTAMP and FROM_TIMESTAMP.");
}

// NextToken names the stream, the position and the filter: nothing that
// would restate or change them may come with it.
void check_next_token_alone(const json& in) {
    for (const char* member : {"StreamName", "StreamARN", "ExclusiveStartShardId", "StreamCreationTimestamp",
                               "ShardFilter"})
        if (in.contains(member))
            throw api_error::invalid_argument(std::string("NextToken and ") + member +
                                              " cannot be provided together.");
}

void list_shards(action_context& ctx) {
    const auto& in = ctx.input;
    listing l;
    std::optional<std::uint64_t> incarnation;  // the stream the NextToken was issued for
    if (in.contains("NextToken")) {
        check_next_token_alone(in);
        json payload = json::parse(next_token_payload(ctx), nullptr, false);
        if (!payload.is_object()) throw api_error::invalid_argument("Invalid NextToken.");
        l.stream = payload["stream"].get<std::string>();
        // A token names a stream of the account that asked for it.
        if (!ctx.owns(l.stream)) throw api_error::invalid_argument("Invalid NextToken.");
        l.after = payload["after"].get<std::int64_t>();
        l.filter = payload["filter"];
        if (payload.contains("uid")) incarnation = payload["uid"].get<std::uint64_t>();
    } else {
        if (!in.contains("StreamName") && !in.contains("StreamARN"))
            throw api_error::invalid_argument("Either NextToken or StreamName should be provided.");
        l.stream = stream_name_of(ctx);
        if (in.contains("ExclusiveStartShardId"))
            l.after = shard_index_or(in["ExclusiveStartShardId"].get<std::string>(), -1);
        if (in.contains("ShardFilter")) {
            l.filter = in["ShardFilter"];
            check_filter(l.filter);
            if (l.filter["Type"] == "AFTER_SHARD_ID")
                l.after = std::max(l.after, shard_index_or(l.filter["ShardId"].get<std::string>(), -1));
        }
    }
    if (in.contains("MaxResults")) l.max_results = in["MaxResults"].get<std::size_t>();
    l.max_results = std::min<std::size_t>(l.max_results, 1000);

    auto s = require_stream(ctx, l.stream);
    // StreamCreationTimestamp picks one incarnation of a reused name; a token
    // outlives only its own. Botocore sends whole seconds.
    if (in.contains("StreamCreationTimestamp") &&
        std::int64_t(in["StreamCreationTimestamp"].get<double>()) / 1000 != s->created_ms / 1000)
        throw stream_not_found(ctx, l.stream);
    if (incarnation && *incarnation != s->uid) throw stream_not_found(ctx, l.stream);
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
        json payload = {{"stream", l.stream}, {"uid", s->uid}, {"after", last}, {"filter", l.filter}};
        out["NextToken"] = encoding::paging_token(payload.dump(), ctx.now_ms, ctx.svc.secret());
    }
    ctx.reply->ok(std::move(out));
}

}  // namespace

const action_entry list_shards_action{"Kinesis_20131202.ListShards", &list_shards_shape, list_shards};

}  // namespace kinesd::actions
