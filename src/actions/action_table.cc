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
};

const std::unordered_map<std::string_view, const action_entry*>& table() {
    static const auto map = [] {
        std::unordered_map<std::string_view, const action_entry*> m;
        for (auto* a : all_actions) m.emplace(a->target, a);
        return m;
    }();
    return map;
}

}  // namespace

const action_entry* find_action(std::string_view target) {
    auto it = table().find(target);
    return it == table().end() ? nullptr : it->second;
}

bool known_service(std::string_view target) {
    auto dot = target.find('.');
    auto prefix = target.substr(0, dot);
    return prefix == "Kinesis_20131202" || prefix == "Firehose_20150804";
}

}  // namespace kinesd::actions
