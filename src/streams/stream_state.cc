#include "streams/stream_state.h"

#include <algorithm>

namespace kinesd::streams {

const char* to_string(stream_status s) {
    switch (s) {
        case stream_status::creating: return "CREATING";
        case stream_status::active: return "ACTIVE";
        case stream_status::updating: return "UPDATING";
        case stream_status::deleting: return "DELETING";
    }
    return "ACTIVE";
}

stream_status stream_state::status(std::int64_t now_ms) const {
    if (deleting_since_ms) return stream_status::deleting;
    if (now_ms < active_at_ms) return stream_status::creating;
    if (now_ms < updating_until_ms) return stream_status::updating;
    return stream_status::active;
}

const shard_state* stream_state::find_shard(std::uint32_t index) const {
    auto it = std::lower_bound(shards.begin(), shards.end(), index,
                               [](const shard_state& s, std::uint32_t i) { return s.index < i; });
    return it != shards.end() && it->index == index ? &*it : nullptr;
}

std::size_t stream_state::open_shard_count() const {
    return std::size_t(std::count_if(shards.begin(), shards.end(), [](auto& s) { return s.open(); }));
}

const shard_state* stream_state::route(uint128 hash) const {
    for (auto& s : shards)
        if (s.open() && s.starting_hash <= hash && hash <= s.ending_hash) return &s;
    return nullptr;
}

std::vector<std::pair<uint128, uint128>> even_hash_ranges(std::uint32_t n) {
    std::vector<std::pair<uint128, uint128>> out;
    uint128 width = uint128_max / n + (uint128_max % n == n - 1 ? 1 : 0);  // floor(2^128 / n)
    for (std::uint32_t i = 0; i < n; ++i) {
        uint128 start = width * i;
        uint128 end = i + 1 == n ? uint128_max : width * (i + 1) - 1;
        out.emplace_back(start, end);
    }
    return out;
}

nlohmann::json stream_state::to_json() const {
    nlohmann::json shards_json = nlohmann::json::array();
    for (auto& s : shards) {
        nlohmann::json j = {{"index", s.index},
                            {"start", to_decimal(s.starting_hash)},
                            {"end", to_decimal(s.ending_hash)},
                            {"created_s", s.created_s}};
        if (s.parent) j["parent"] = *s.parent;
        if (s.adjacent_parent) j["adjacent_parent"] = *s.adjacent_parent;
        if (s.closed_ms) j["closed_ms"] = *s.closed_ms;
        shards_json.push_back(std::move(j));
    }
    nlohmann::json j = {{"name", name},
                        {"uid", uid},
                        {"created_ms", created_ms},
                        {"active_at_ms", active_at_ms},
                        {"updating_until_ms", updating_until_ms},
                        {"retention_hours", retention_hours},
                        {"stream_mode", stream_mode},
                        {"encryption_type", encryption_type},
                        {"key_id", key_id},
                        {"shard_level_metrics", shard_level_metrics},
                        {"tags", tags},
                        {"max_record_size_kib", max_record_size_kib},
                        {"next_shard_index", next_shard_index},
                        {"shards", std::move(shards_json)}};
    if (deleting_since_ms) j["deleting_since_ms"] = *deleting_since_ms;
    if (!resource_policy.empty()) j["resource_policy"] = resource_policy;
    if (!consumers.empty()) {
        auto& cj = j["consumers"] = nlohmann::json::array();
        for (auto& c : consumers) {
            cj.push_back({{"name", c.name}, {"created_ms", c.created_ms}, {"active_at_ms", c.active_at_ms}});
            if (c.deleting_since_ms) cj.back()["deleting_since_ms"] = *c.deleting_since_ms;
        }
    }
    if (warm_throughput_mibps) j["warm_throughput_mibps"] = *warm_throughput_mibps;
    if (record_distribution != "USER_PARTITION_KEY") j["record_distribution"] = record_distribution;
    return j;
}

stream_state stream_state::from_json(const nlohmann::json& j) {
    stream_state s;
    s.name = j.at("name").get<std::string>();
    s.uid = j.at("uid").get<std::uint64_t>();
    s.created_ms = j.at("created_ms").get<std::int64_t>();
    s.active_at_ms = j.value("active_at_ms", std::int64_t(0));
    s.updating_until_ms = j.value("updating_until_ms", std::int64_t(0));
    if (j.contains("deleting_since_ms")) s.deleting_since_ms = j["deleting_since_ms"].get<std::int64_t>();
    s.retention_hours = j.value("retention_hours", 24);
    s.stream_mode = j.value("stream_mode", std::string("PROVISIONED"));
    s.encryption_type = j.value("encryption_type", std::string("NONE"));
    s.key_id = j.value("key_id", std::string());
    s.shard_level_metrics = j.value("shard_level_metrics", std::vector<std::string>{});
    s.tags = j.value("tags", std::map<std::string, std::string>{});
    s.max_record_size_kib = j.value("max_record_size_kib", 1024);
    if (j.contains("warm_throughput_mibps")) s.warm_throughput_mibps = j["warm_throughput_mibps"].get<int>();
    s.next_shard_index = j.value("next_shard_index", 0u);
    s.record_distribution = j.value("record_distribution", std::string("USER_PARTITION_KEY"));
    s.resource_policy = j.value("resource_policy", std::string());
    if (j.contains("consumers"))
        for (auto& cj : j["consumers"]) {
            s.consumers.push_back({cj.at("name").get<std::string>(), cj.at("created_ms").get<std::int64_t>(),
                                   cj.value("active_at_ms", std::int64_t(0))});
            if (cj.contains("deleting_since_ms"))
                s.consumers.back().deleting_since_ms = cj["deleting_since_ms"].get<std::int64_t>();
        }
    for (auto& sj : j.at("shards")) {
        shard_state sh;
        sh.index = sj.at("index").get<std::uint32_t>();
        sh.starting_hash = parse_uint128(sj.at("start").get<std::string>()).value_or(0);
        sh.ending_hash = parse_uint128(sj.at("end").get<std::string>()).value_or(0);
        sh.created_s = sj.at("created_s").get<std::uint64_t>();
        if (sj.contains("parent")) sh.parent = sj["parent"].get<std::uint32_t>();
        if (sj.contains("adjacent_parent")) sh.adjacent_parent = sj["adjacent_parent"].get<std::uint32_t>();
        if (sj.contains("closed_ms")) sh.closed_ms = sj["closed_ms"].get<std::int64_t>();
        s.shards.push_back(std::move(sh));
    }
    return s;
}

}  // namespace kinesd::streams
