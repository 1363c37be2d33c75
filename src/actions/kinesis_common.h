#pragma once
// Helpers shared by the Kinesis action families: addressing a stream by name
// or ARN, AWS's not-found texts, and the JSON shapes of shards.
#include <string>

#include "actions/action.h"
#include "streams/stream_registry.h"

namespace kinesd::actions::kinesis {

// StreamName, else the name inside StreamARN.
std::string stream_name_of(const action_context& ctx);
// The stream, or ResourceNotFoundException "Stream X under account Y not found.".
streams::stream_snapshot require_stream(const action_context& ctx, const std::string& name);
api_error stream_not_found(const action_context& ctx, const std::string& name);

// {ShardId, ParentShardId?, AdjacentParentShardId?, HashKeyRange, SequenceNumberRange}
nlohmann::json shard_json(const streams::stream_state& s, const streams::shard_state& shard);
std::string starting_sequence_number(const streams::shard_state& shard);
std::string ending_sequence_number(const streams::shard_state& shard);

}  // namespace kinesd::actions::kinesis
