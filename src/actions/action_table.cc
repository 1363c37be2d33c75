#include <iterator>
#include <string>
#include <unordered_map>

#include "actions/handlers.h"

namespace kinesd::actions {

namespace {

const action_entry* const all_actions[] = {
    &create_stream_action,
    &delete_stream_action,
    &describe_stream_action,
    &describe_stream_summary_action,
    &list_streams_action,
    &describe_limits_action,
    &list_shards_action,
    &put_record_action,
    &put_records_action,
    &get_shard_iterator_action,
    &get_records_action,
    &add_tags_to_stream_action,
    &remove_tags_from_stream_action,
    &list_tags_for_stream_action,
    &split_shard_action,
    &merge_shards_action,
    &update_shard_count_action,
    &increase_stream_retention_period_action,
    &decrease_stream_retention_period_action,
    &start_stream_encryption_action,
    &stop_stream_encryption_action,
    &enable_enhanced_monitoring_action,
    &disable_enhanced_monitoring_action,
    &update_stream_mode_action,
    &update_max_record_size_action,
    &update_stream_warm_throughput_action,
    &register_stream_consumer_action,
    &deregister_stream_consumer_action,
    &describe_stream_consumer_action,
    &list_stream_consumers_action,
    &subscribe_to_shard_action,
    &tag_resource_action,
    &untag_resource_action,
    &list_tags_for_resource_action,
    &put_resource_policy_action,
    &get_resource_policy_action,
    &delete_resource_policy_action,
    &describe_account_settings_action,
    &update_account_settings_action,
    &update_stream_record_distribution_strategy_action,
    &create_channel_action,
    &describe_channel_action,
    &list_channels_action,
    &update_channel_action,
    &delete_channel_action,
    &create_delivery_stream_action,
    &delete_delivery_stream_action,
    &describe_delivery_stream_action,
    &list_delivery_streams_action,
    &update_destination_action,
    &tag_delivery_stream_action,
    &untag_delivery_stream_action,
    &list_tags_for_delivery_stream_action,
    &start_delivery_stream_encryption_action,
    &stop_delivery_stream_encryption_action,
    &firehose_put_record_action,
    &firehose_put_record_batch_action,
};

const std::unordered_map<std::string_view, std::size_t>& table() {
    static const auto map = [] {
        std::unordered_map<std::string_view, std::size_t> m;
        for (std::size_t i = 0; i < std::size(all_actions); ++i) m.emplace(all_actions[i]->target, i);
        return m;
    }();
    return map;
}

}  // namespace

const action_entry* find_action(std::string_view target) {
    auto it = table().find(target);
    return it == table().end() ? nullptr : all_actions[it->second];
}

const action_entry* find_action(std::string_view target, std::size_t* index) {
    auto it = table().find(target);
    if (it == table().end()) return nullptr;
    *index = it->second;
    return all_actions[it->second];
}

std::size_t action_count() { return std::size(all_actions); }

const action_entry& action_at(std::size_t index) { return *all_actions[index]; }

bool known_service(std::string_view target) {
    auto dot = target.find('.');
    auto prefix = target.substr(0, dot);
    return prefix == "Kinesis_20131202" || prefix == "Firehose_20150804";
}

}  // namespace kinesd::actions
