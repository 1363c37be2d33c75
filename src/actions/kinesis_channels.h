#pragma once
// Kinesis channels (CreateChannel ... DeleteChannel, kinesis_channels.cc).
// A channel delivers a Kinesis stream to a general purpose S3 bucket. It is
// kept as an internal Firehose delivery stream with the stream as its source
// (delivery_stream::channel holds the channel's own description), so the
// Firehose delivery machinery does the reading, buffering and uploading;
// the Firehose API never shows it.
#include <cstddef>
#include <string>

#include "actions/action.h"

namespace kinesd::actions::kinesis {

// Channels reading the stream kept under `stream_key` and not being deleted
// (DescribeStreamSummary's ChannelCount; DeleteStream refuses while any).
std::size_t channel_count(const action_context& ctx, const std::string& stream_key);

}  // namespace kinesd::actions::kinesis
