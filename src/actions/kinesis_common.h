#pragma once
// Helpers shared by the Kinesis action families: addressing a stream by name
// or ARN, AWS's not-found texts, and the JSON shapes of shards.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "actions/action.h"
#include "streams/stream_registry.h"

namespace kinesd::actions::kinesis {

// The parts of a consumer ARN: ...:stream/<stream>/consumer/<consumer>:<created_s>.
struct consumer_arn_parts {
    std::string stream;
    std::string consumer;
    std::int64_t created_s = 0;
};
std::optional<consumer_arn_parts> parse_consumer_arn(std::string_view arn);

// The registry key (action_context::key) of the stream a request names by
// The payload of the request's NextToken, which kinesd issued with
// encoding::make_paging_token: InvalidArgumentException for a token it did
// not issue, ExpiredNextTokenException once it is older than an iterator may
// be (AWS lets both live five minutes).
std::string next_token_payload(const action_context& ctx);

// StreamName, StreamARN or both. An ARN of another account than the
// caller's, or of another region, names a stream that does not exist; a
// name and an ARN that disagree are refused.
std::string stream_name_of(const action_context& ctx);
// The stream inside a stream or consumer ARN, after the same account and
// region check.
std::string stream_of_arn(const action_context& ctx, const std::string& arn);
// The stream kept under `key`, or ResourceNotFoundException "Stream X under
// account Y not found.".
streams::stream_snapshot require_stream(const action_context& ctx, const std::string& name);
api_error stream_not_found(const action_context& ctx, const std::string& name);

// DescribeAccountSettings' answer: {MinimumThroughputBillingCommitment{Status, ...}}.
nlohmann::json account_settings(const action_context& ctx);
std::string account_settings_key(const action_context& ctx);

// A deregistered consumer stays DELETING for the delete delay, then is gone.
bool consumer_gone(const action_context& ctx, const streams::consumer_state& c);
// Consumers registered and not yet gone (DescribeStreamSummary's ConsumerCount).
std::size_t consumer_count(const action_context& ctx, const streams::stream_state& s);

// {ShardId, ParentShardId?, AdjacentParentShardId?, HashKeyRange, SequenceNumberRange}
nlohmann::json shard_json(const streams::stream_state& s, const streams::shard_state& shard);
std::string starting_sequence_number(const streams::shard_state& shard);
std::string ending_sequence_number(const streams::shard_state& shard);
// The ChildShards member that ends a closed shard's reads (GetRecords and
// SubscribeToShard): every shard that names it as a parent.
nlohmann::json child_shards_of(const streams::stream_state& s, const streams::shard_state& parent);

}  // namespace kinesd::actions::kinesis
