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
// kinesis_reads.cc
extern const action_entry get_shard_iterator_action;
extern const action_entry get_records_action;
// kinesis_tags.cc
extern const action_entry add_tags_to_stream_action;
extern const action_entry remove_tags_from_stream_action;
extern const action_entry list_tags_for_stream_action;

}  // namespace kinesd::actions
