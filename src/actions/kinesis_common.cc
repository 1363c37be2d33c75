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

namespace {

struct arn_parts {
    std::string region, account, stream;
};

// arn:<partition>:kinesis:<region>:<account>:stream/<name>[/consumer/<c>:<t>];
// the shape's pattern has already checked the form.
arn_parts parse_arn(const std::string& arn) {
    arn_parts out;
    std::size_t at = 0;
    std::string fields[5];
    for (auto& f : fields) {
        auto colon = arn.find(':', at);
        if (colon == std::string::npos) return out;
        f = arn.substr(at, colon - at);
        at = colon + 1;
    }
    out.region = fields[3];
    out.account = fields[4];
    if (arn.compare(at, 7, "stream/") == 0) {
        out.stream = arn.substr(at + 7);
        // A consumer ARN names its stream before "/consumer/".
        if (auto slash = out.stream.find('/'); slash != std::string::npos) out.stream.resize(slash);
    }
    return out;
}

}  // namespace

std::string stream_of_arn(const action_context& ctx, const std::string& arn) {
    auto parts = parse_arn(arn);
    // Another account's stream is not the caller's to touch: AWS refuses
    // before it looks whether the stream exists (there are no resource
    // policies here to allow it).
    if (parts.account != ctx.account() && !ctx.caller_arn.empty()) {
        const std::string action = "kinesis:" + std::string(ctx.operation);
        throw api_error::access_denied("User: " + ctx.caller_arn + " is not authorized to perform: " + action +
                                       " on resource: " + arn + " because no resource-based policy allows the " +
                                       action + " action");
    }
    // A caller sees the streams of its own account in this one region:
    // elsewhere there are none.
    if (parts.account != ctx.account() || parts.region != ctx.svc.settings().region)
        throw api_error::resource_not_found("Stream " + parts.stream + " under account " + parts.account +
                                            " not found.");
    return ctx.key(parts.stream);
}

std::string stream_name_of(const action_context& ctx) {
    auto name = ctx.input.find("StreamName");
    auto arn = ctx.input.find("StreamARN");
    if (arn != ctx.input.end()) {
        const auto& arn_text = arn->get_ref<const std::string&>();
        if (name != ctx.input.end() && parse_arn(arn_text).stream != name->get_ref<const std::string&>())
            throw api_error::invalid_argument("StreamARN " + arn_text + " and StreamName " +
                                              name->get<std::string>() + " do not name the same stream.");
        return stream_of_arn(ctx, arn_text);
    }
    if (name != ctx.input.end()) return ctx.key(name->get_ref<const std::string&>());
    throw api_error::invalid_argument("Either StreamName or StreamARN should be provided.");
}

api_error stream_not_found(const action_context& ctx, const std::string& key) {
    return api_error::resource_not_found("Stream " + ctx.shown(key) + " under account " +
                                         std::string(ctx.svc.account_of_key(key)) + " not found.");
}

streams::stream_snapshot require_stream(const action_context& ctx, const std::string& name) {
    auto s = ctx.io_thread ? ctx.svc.streams().find(name) : ctx.svc.find_stream_caught_up(name);
    if (!s) throw stream_not_found(ctx, name);
    return s;
}

// Account settings live in the meta column family; the default account's
// under the key it had before there were other accounts.
std::string account_settings_key(const action_context& ctx) {
    if (ctx.account() == ctx.svc.settings().account_id) return "account/settings";
    return "account/" + ctx.account() + "/settings";
}

nlohmann::json account_settings(const action_context& ctx) {
    std::string text;
    if (ctx.svc.store().get_meta(account_settings_key(ctx), &text)) {
        auto j = nlohmann::json::parse(text, nullptr, false);
        if (j.is_object()) return j;
    }
    return {{"MinimumThroughputBillingCommitment", {{"Status", "DISABLED"}}}};
}

bool consumer_gone(const action_context& ctx, const streams::consumer_state& c) {
    return c.deleting_since_ms && ctx.now_ms >= *c.deleting_since_ms + ctx.svc.streams().options().delete_delay_ms;
}

std::size_t consumer_count(const action_context& ctx, const streams::stream_state& s) {
    std::size_t n = 0;
    for (auto& c : s.consumers)
        if (!consumer_gone(ctx, c)) ++n;
    return n;
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

std::string next_token_payload(const action_context& ctx) {
    auto token = encoding::parse_paging_token(ctx.input["NextToken"].get<std::string>(), ctx.svc.secret());
    if (!token) throw api_error::invalid_argument("Invalid NextToken.");
    if (ctx.now_ms - token->issued_ms > ctx.svc.settings().iterator_ttl_ms)
        throw api_error::expired_next_token("The timestamp sent in the NextToken has expired.");
    return std::move(token->payload);
}

}  // namespace kinesd::actions::kinesis
