#include "actions/kinesis_common.h"

#include "streams/encoding.h"

namespace kinesd::actions::kinesis {

std::optional<consumer_arn_parts> parse_consumer_arn(std::string_view arn) {
    const auto stream_at = arn.find(":stream/"), consumer_at = arn.find("/consumer/");
    const auto colon = arn.rfind(':');
    if (stream_at == std::string_view::npos || consumer_at == std::string_view::npos || consumer_at < stream_at ||
        colon < consumer_at)
        return std::nullopt;
    consumer_arn_parts parts;
    parts.stream = arn.substr(stream_at + 8, consumer_at - stream_at - 8);
    parts.consumer = arn.substr(consumer_at + 10, colon - consumer_at - 10);
    const auto created = arn.substr(colon + 1);
    if (created.empty() || created.size() > 15) return std::nullopt;
    for (char c : created) {
        if (c < '0' || c > '9') return std::nullopt;
        parts.created_s = parts.created_s * 10 + (c - '0');
    }
    return parts;
}

std::string stream_name_of(const action_context& ctx) {
    if (auto it = ctx.input.find("StreamName"); it != ctx.input.end()) return it->get<std::string>();
    if (auto it = ctx.input.find("StreamARN"); it != ctx.input.end()) {
        const auto& arn = it->get_ref<const std::string&>();
        auto pos = arn.find(":stream/");
        if (pos != std::string::npos) {
            auto name = arn.substr(pos + 8);
            // A consumer ARN names its stream before "/consumer/".
            if (auto slash = name.find('/'); slash != std::string::npos) name.resize(slash);
            return name;
        }
    }
    throw api_error::invalid_argument("Either StreamName or StreamARN should be provided.");
}

api_error stream_not_found(const action_context& ctx, const std::string& name) {
    return api_error::resource_not_found("Stream " + name + " under account " + ctx.svc.settings().account_id +
                                         " not found.");
}

streams::stream_snapshot require_stream(const action_context& ctx, const std::string& name) {
    auto s = ctx.svc.streams().find(name);
    if (!s) throw stream_not_found(ctx, name);
    return s;
}

std::string starting_sequence_number(const streams::shard_state& shard) {
    return encoding::sequence_number(
        {shard.created_s, shard.index, encoding::starting_counter, shard.created_s});
}

std::string ending_sequence_number(const streams::shard_state& shard) {
    std::uint64_t closed_s = shard.closed_ms ? std::uint64_t(*shard.closed_ms / 1000) : shard.created_s;
    return encoding::sequence_number({shard.created_s, shard.index, encoding::ending_counter, closed_s});
}

nlohmann::json shard_json(const streams::stream_state& s, const streams::shard_state& shard) {
    nlohmann::json j;
    j["ShardId"] = encoding::shard_id(shard.index);
    if (shard.parent) j["ParentShardId"] = encoding::shard_id(*shard.parent);
    if (shard.adjacent_parent) j["AdjacentParentShardId"] = encoding::shard_id(*shard.adjacent_parent);
    j["HashKeyRange"] = {{"StartingHashKey", to_decimal(shard.starting_hash)},
                         {"EndingHashKey", to_decimal(shard.ending_hash)}};
    nlohmann::json range = {{"StartingSequenceNumber", starting_sequence_number(shard)}};
    if (shard.closed_ms) range["EndingSequenceNumber"] = ending_sequence_number(shard);
    j["SequenceNumberRange"] = std::move(range);
    return j;
}

nlohmann::json child_shards_of(const streams::stream_state& s, const streams::shard_state& parent) {
    using nlohmann::json;
    json out = json::array();
    for (auto& child : s.shards) {
        if (child.parent != parent.index && child.adjacent_parent != parent.index) continue;
        json parents = json::array();
        if (child.parent) parents.push_back(encoding::shard_id(*child.parent));
        if (child.adjacent_parent) parents.push_back(encoding::shard_id(*child.adjacent_parent));
        out.push_back({{"ShardId", encoding::shard_id(child.index)},
                       {"ParentShards", std::move(parents)},
                       {"HashKeyRange",
                        {{"StartingHashKey", to_decimal(child.starting_hash)},
                         {"EndingHashKey", to_decimal(child.ending_hash)}}}});
    }
    return out;
}

}  // namespace kinesd::actions::kinesis
