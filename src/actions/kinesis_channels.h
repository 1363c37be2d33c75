#pragma once
// Kinesis channels (CreateChannel ... DeleteChannel, kinesis_channels.cc).
// A channel delivers a Kinesis stream to a general purpose S3 bucket. It is
// kept as an internal Firehose delivery stream with the stream as its source
// (delivery_stream::channel holds the channel's own description), so the
// Firehose delivery machinery does the reading, buffering and uploading;
// the Firehose API never shows it.
#include <cstddef>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "actions/action.h"

namespace kinesd::actions::kinesis {

// Channels reading the stream kept under `stream_key` and not being deleted
// (DescribeStreamSummary's ChannelCount; DeleteStream refuses while any).
std::size_t channel_count(const action_context& ctx, const std::string& stream_key);

// TagResource, UntagResource and ListTagsForResource on a channel ARN
// (kinesis_resources.cc hands them over). ResourceNotFoundException when
// the caller has no such channel.
bool is_channel_arn(std::string_view arn);
void tag_channel(const action_context& ctx, const std::string& arn, const std::map<std::string, std::string>& tags);
void untag_channel(const action_context& ctx, const std::string& arn, const std::vector<std::string>& keys);
std::map<std::string, std::string> channel_tags(const action_context& ctx, const std::string& arn);

}  // namespace kinesd::actions::kinesis
