#pragma once
// Every action kinesd serves. Each is defined in the file of its family
// (kinesis_records.cc holds PutRecord and PutRecords, ...); action_table.cc
// lists them once. Adding an action = one definition + one line there.
#include "actions/action.h"

namespace kinesd::actions {

// kinesis_streams.cc
extern const action_entry create_stream_action;
extern const action_entry delete_stream_action;
extern const action_entry describe_stream_action;
extern const action_entry describe_stream_summary_action;
extern const action_entry list_streams_action;
extern const action_entry describe_limits_action;
// kinesis_shards.cc
extern const action_entry list_shards_action;
// kinesis_records.cc
extern const action_entry put_record_action;
extern const action_entry put_records_action;
// kinesis_subscribe.cc
extern const action_entry subscribe_to_shard_action;
// kinesis_reads.cc
extern const action_entry get_shard_iterator_action;
extern const action_entry get_records_action;
// kinesis_tags.cc
extern const action_entry add_tags_to_stream_action;
extern const action_entry remove_tags_from_stream_action;
extern const action_entry list_tags_for_stream_action;
// kinesis_resharding.cc
extern const action_entry split_shard_action;
extern const action_entry merge_shards_action;
extern const action_entry update_shard_count_action;
// kinesis_retention.cc
extern const action_entry increase_stream_retention_period_action;
extern const action_entry decrease_stream_retention_period_action;
// kinesis_stream_settings.cc
extern const action_entry start_stream_encryption_action;
extern const action_entry stop_stream_encryption_action;
extern const action_entry enable_enhanced_monitoring_action;
extern const action_entry disable_enhanced_monitoring_action;
extern const action_entry update_stream_mode_action;
extern const action_entry update_max_record_size_action;
extern const action_entry update_stream_warm_throughput_action;
// kinesis_consumers.cc
extern const action_entry register_stream_consumer_action;
extern const action_entry deregister_stream_consumer_action;
extern const action_entry describe_stream_consumer_action;
extern const action_entry list_stream_consumers_action;
// kinesis_resources.cc
extern const action_entry tag_resource_action;
extern const action_entry untag_resource_action;
extern const action_entry list_tags_for_resource_action;
extern const action_entry put_resource_policy_action;
extern const action_entry get_resource_policy_action;
extern const action_entry delete_resource_policy_action;
extern const action_entry describe_account_settings_action;
extern const action_entry update_account_settings_action;
// kinesis_record_distribution.cc
extern const action_entry update_stream_record_distribution_strategy_action;
// kinesis_channels.cc
extern const action_entry create_channel_action;
extern const action_entry describe_channel_action;
extern const action_entry list_channels_action;
extern const action_entry update_channel_action;
extern const action_entry delete_channel_action;

// firehose_streams.cc
extern const action_entry create_delivery_stream_action;
extern const action_entry delete_delivery_stream_action;
extern const action_entry describe_delivery_stream_action;
extern const action_entry list_delivery_streams_action;
extern const action_entry update_destination_action;
extern const action_entry tag_delivery_stream_action;
extern const action_entry untag_delivery_stream_action;
extern const action_entry list_tags_for_delivery_stream_action;
extern const action_entry start_delivery_stream_encryption_action;
extern const action_entry stop_delivery_stream_encryption_action;
// firehose_records.cc
extern const action_entry firehose_put_record_action;
extern const action_entry firehose_put_record_batch_action;

}  // namespace kinesd::actions
