// Resharding: SplitShard, MergeShards, UpdateShardCount.
//
// Lineage rules clients (KCL, Firehose-style readers) rely on: a parent
// closes with an EndingSequenceNumber, every child has at most two parents
// (ParentShardId + AdjacentParentShardId, adjacent to each other), and a
// child's sequence numbers are greater than every one of its parents'. The
// last holds because a child's creation second, the most significant field
// of a sequence number after the version, is later than its parents'.
#include <algorithm>

#include "actions/handlers.h"
#include "actions/kinesis_common.h"
#include "streams/encoding.h"

namespace kinesd::actions {

namespace {

using nlohmann::json;
using namespace kinesis;
using streams::shard_state;
using streams::stream_state;

const std::string& account(const action_context& ctx) { return ctx.account(); }

// Checks shared by the three actions, run on the copy being changed.
void require_reshardable(const action_context& ctx, const stream_state& s) {
    if (s.stream_mode == "ON_DEMAND")
        throw api_error::validation("Resharding is not supported for streams in ON_DEMAND capacity mode. Stream " +
                                    ctx.shown(s.name) + " under account " + account(ctx) + " is an ON_DEMAND stream.");
    auto status = s.status(ctx.now_ms);
    if (status != streams::stream_status::active)
        throw api_error::resource_in_use("Stream " + ctx.shown(s.name) + " under account " + account(ctx) +
                                         " not ACTIVE, instead in state " + streams::to_string(status));
}

void require_shard_capacity(const action_context& ctx, const stream_state& s, std::size_t added) {
    const auto& settings = ctx.svc.settings();
    // Runs inside stream_registry::update, which holds the registry lock.
    std::size_t current = ctx.svc.streams().open_shard_total_unlocked();
    if (current + added > settings.shard_limit)
        throw api_error::limit_exceeded(
            "This request would exceed the shard limit for the account " + settings.account_id + " in " +
            settings.region + ". Current shard count for the account: " + std::to_string(current) +
            ". Limit: " + std::to_string(settings.shard_limit) +
            ". Number of additional shards that would have resulted from this request: " + std::to_string(added) +
            ". Refer to the AWS Service Limits page "
            "(http://docs.aws.amazon.com/general/latest/gr/aws_service_limits.html) for current limits and how to "
            "request higher limits.");
}

shard_state& open_shard_for_change(const action_context& ctx, stream_state& s, const std::string& shard_text) {
    auto index = encoding::parse_shard_id(shard_text);
    shard_state* shard = nullptr;
    if (index)
        for (auto& candidate : s.shards)
            if (candidate.index == *index) shard = &candidate;
    if (!shard)
        throw api_error::resource_not_found("Could not find shard " + shard_text + " in stream " + ctx.shown(s.name) +
                                            " under account " + account(ctx) + ".");
    if (!shard->open())
        throw api_error::resource_in_use("Shard " + encoding::shard_id(shard->index) + " in stream " + ctx.shown(s.name) +
                                         " under account " + account(ctx) +
                                         " has already been merged or split, and thus is not eligible for merging "
                                         "or splitting.");
    return *shard;
}

// Creation second of a new shard: after its parents' (so its sequence
// numbers sort above every parent record and above the parents'
// EndingSequenceNumber), and not before now.
std::uint64_t child_created_s(const action_context& ctx, const stream_state& s, std::optional<std::uint32_t> parent,
                              std::optional<std::uint32_t> adjacent) {
    std::uint64_t latest = 0;
    for (auto& shard : s.shards)
        if (shard.index == parent || shard.index == adjacent) latest = std::max(latest, shard.created_s);
    return std::max<std::uint64_t>(std::uint64_t(ctx.now_ms / 1000), latest + 1);
}

shard_state& add_child(const action_context& ctx, stream_state& s, uint128 start, uint128 end,
                       std::optional<std::uint32_t> parent, std::optional<std::uint32_t> adjacent) {
    shard_state child;
    child.created_s = child_created_s(ctx, s, parent, adjacent);
    child.index = s.next_shard_index++;
    child.starting_hash = start;
    child.ending_hash = end;
    child.parent = parent;
    child.adjacent_parent = adjacent;
    s.shards.push_back(std::move(child));
    return s.shards.back();
}

shard_state& shard_by_index(stream_state& s, std::uint32_t index) {
    for (auto& shard : s.shards)
        if (shard.index == index) return shard;
    throw api_error::internal();
}

void mark_updating(const action_context& ctx, stream_state& s) {
    s.updating_until_ms = ctx.now_ms + ctx.svc.streams().options().update_delay_ms;
}

const shape split_shard_shape = {
    members::stream_name(),
    {.name = "ShardToSplit", .required = true, .min_length = 1, .max_length = 128, .regex = &patterns::stream_name},
    {.name = "NewStartingHashKey", .required = true, .regex = &patterns::hash_key},
    members::stream_arn(),
};

void split_shard(action_context& ctx) {
    auto name = stream_name_of(ctx);
    require_stream(ctx, name);
    ctx.svc.streams().update(name, [&](stream_state& s) {
        require_reshardable(ctx, s);
        auto& parent = open_shard_for_change(ctx, s, ctx.input["ShardToSplit"].get<std::string>());
        const auto& key_text = ctx.input["NewStartingHashKey"].get_ref<const std::string&>();
        auto key = parse_uint128(key_text);
        if (!key || *key <= parent.starting_hash + 1 || *key >= parent.ending_hash)
            throw api_error::invalid_argument(
                "NewStartingHashKey " + key_text + " used in SplitShard() on shard " +
                encoding::shard_id(parent.index) + " in stream " + ctx.shown(s.name) + " under account " + account(ctx) +
                " is not both greater than one plus the shard's StartingHashKey " + to_decimal(parent.starting_hash) +
                " and less than the shard's EndingHashKey " + to_decimal(parent.ending_hash) + ".");
        require_shard_capacity(ctx, s, 1);
        std::uint32_t parent_index = parent.index;
        uint128 start = parent.starting_hash, end = parent.ending_hash;
        parent.closed_ms = ctx.now_ms;
        add_child(ctx, s, start, *key - 1, parent_index, std::nullopt);
        add_child(ctx, s, *key, end, parent_index, std::nullopt);
        mark_updating(ctx, s);
    });
    ctx.reply->ok_empty();
}

const shape merge_shards_shape = {
    members::stream_name(),
    {.name = "ShardToMerge", .required = true, .min_length = 1, .max_length = 128, .regex = &patterns::stream_name},
    {.name = "AdjacentShardToMerge", .required = true, .min_length = 1, .max_length = 128,
     .regex = &patterns::stream_name},
    members::stream_arn(),
};

void merge_shards(action_context& ctx) {
    auto name = stream_name_of(ctx);
    require_stream(ctx, name);
    ctx.svc.streams().update(name, [&](stream_state& s) {
        require_reshardable(ctx, s);
        auto& a = open_shard_for_change(ctx, s, ctx.input["ShardToMerge"].get<std::string>());
        auto& b = open_shard_for_change(ctx, s, ctx.input["AdjacentShardToMerge"].get<std::string>());
        // Written to not wrap at 2^128 - 1: the last shard is not adjacent to the first.
        auto touches = [](const shard_state& left, const shard_state& right) {
            return left.ending_hash < right.starting_hash && left.ending_hash + 1 == right.starting_hash;
        };
        bool adjacent = touches(a, b) || touches(b, a);
        if (!adjacent || a.index == b.index)
            throw api_error::invalid_argument("Shards " + encoding::shard_id(a.index) + " and " +
                                              encoding::shard_id(b.index) + " in stream " + ctx.shown(s.name) +
                                              " under account " + account(ctx) +
                                              " are not an adjacent pair of shards eligible for merging");
        uint128 start = std::min(a.starting_hash, b.starting_hash), end = std::max(a.ending_hash, b.ending_hash);
        std::uint32_t ai = a.index, bi = b.index;
        a.closed_ms = ctx.now_ms;
        b.closed_ms = ctx.now_ms;
        add_child(ctx, s, start, end, ai, bi);
        mark_updating(ctx, s);
    });
    ctx.reply->ok_empty();
}

const shape update_shard_count_shape = {
    members::stream_name(),
    {.name = "TargetShardCount", .type = field_type::integer, .required = true, .min_value = 1},
    {.name = "ScalingType", .required = true, .enum_values = {"UNIFORM_SCALING"}},
    members::stream_arn(),
};

// Reaches `target` evenly sized shards through real splits and merges, as
// AWS does: first every open shard is split at the target boundaries that
// fall inside it, then the pieces inside each target range are merged pairwise
// from the left. Intermediate shards close at once and hold no records.
void rescale(const action_context& ctx, stream_state& s, std::uint32_t target) {
    auto ranges = streams::even_hash_ranges(target);
    std::vector<std::uint32_t> open;
    for (auto& shard : s.shards)
        if (shard.open()) open.push_back(shard.index);
    std::sort(open.begin(), open.end(), [&](auto x, auto y) {
        return shard_by_index(s, x).starting_hash < shard_by_index(s, y).starting_hash;
    });
    // Phase 1: cut.
    std::vector<std::uint32_t> pieces;
    for (auto index : open) {
        std::uint32_t current = index;
        for (auto& [start, end] : ranges) {
            auto& shard = shard_by_index(s, current);
            if (start <= shard.starting_hash || start > shard.ending_hash) continue;
            uint128 lo = shard.starting_hash, hi = shard.ending_hash;
            shard.closed_ms = ctx.now_ms;
            auto left = add_child(ctx, s, lo, start - 1, current, std::nullopt).index;
            auto right = add_child(ctx, s, start, hi, current, std::nullopt).index;
            pieces.push_back(left);
            current = right;
        }
        pieces.push_back(current);
    }
    // Phase 2: merge the pieces of each target range.
    std::size_t p = 0;
    for (auto& [start, end] : ranges) {
        std::uint32_t acc = pieces[p++];
        while (p < pieces.size() && shard_by_index(s, pieces[p]).ending_hash <= end) {
            auto& left = shard_by_index(s, acc);
            auto& right = shard_by_index(s, pieces[p]);
            uint128 lo = left.starting_hash, hi = right.ending_hash;
            left.closed_ms = ctx.now_ms;
            right.closed_ms = ctx.now_ms;
            acc = add_child(ctx, s, lo, hi, acc, pieces[p]).index;
            ++p;
        }
    }
}

void update_shard_count(action_context& ctx) {
    auto name = stream_name_of(ctx);
    auto before = require_stream(ctx, name);
    auto target = ctx.input["TargetShardCount"].get<std::uint32_t>();
    std::uint32_t current = 0;
    ctx.svc.streams().update(name, [&](stream_state& s) {
        require_reshardable(ctx, s);
        current = std::uint32_t(s.open_shard_count());
        if (target > current * 2)
            throw api_error::limit_exceeded("UpdateShardCount cannot scale up over double your current open shard count. Current open shard count: " +
                                            std::to_string(current) + " Target shard count: " + std::to_string(target));
        if (target * 2 < current)
            throw api_error::limit_exceeded("UpdateShardCount cannot scale down below half your current open shard count. Current open shard count: " +
                                            std::to_string(current) + " Target shard count: " + std::to_string(target));
        if (target > 10000)
            throw api_error::limit_exceeded("UpdateShardCount cannot scale above 10000 shards per stream.");
        if (target > current) require_shard_capacity(ctx, s, target - current);
        if (target != current) rescale(ctx, s, target);
        mark_updating(ctx, s);
    });
    ctx.reply->ok({{"StreamName", ctx.shown(name)},
                   {"StreamARN", ctx.svc.stream_arn(name)},
                   {"CurrentShardCount", current},
                   {"TargetShardCount", target}});
}

}  // namespace

const action_entry split_shard_action{"Kinesis_20131202.SplitShard", &split_shard_shape, split_shard};
const action_entry merge_shards_action{"Kinesis_20131202.MergeShards", &merge_shards_shape, merge_shards};
const action_entry update_shard_count_action{"Kinesis_20131202.UpdateShardCount", &update_shard_count_shape,
                                             update_shard_count};

}  // namespace kinesd::actions
