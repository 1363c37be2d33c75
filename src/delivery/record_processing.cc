#include "delivery/record_processing.h"

#include "codec/kpl_aggregate.h"
#include "common/base64.h"

namespace kinesd::delivery {

namespace {

using nlohmann::json;

std::optional<std::string> parameter(const json& processor, std::string_view name) {
    for (auto& p : processor.value("Parameters", json::array()))
        if (p.value("ParameterName", std::string()) == name) return p.value("ParameterValue", std::string());
    return std::nullopt;
}

std::string decoded(const std::string& b64) {
    std::string out;
    if (!base64::decode(b64, out)) return b64;  // validated on the way in; keep going regardless
    return out;
}

bool space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

}  // namespace

processing_settings processing_settings::from(const json& d, bool kinesis_source) {
    processing_settings s;
    s.kpl = kinesis_source;
    if (auto it = d.find("ProcessingConfiguration"); it != d.end() && it->is_object() && it->value("Enabled", true)) {
        for (auto& p : it->value("Processors", json::array())) {
            auto type = p.value("Type", std::string());
            if (type == "RecordDeAggregation") {
                auto kind = parameter(p, "SubRecordType").value_or("JSON");
                s.split = kind == "DELIMITED" ? sub_record_type::delimited : sub_record_type::json;
                if (s.split == sub_record_type::delimited)
                    s.split_delimiter = decoded(parameter(p, "Delimiter").value_or(""));
            } else if (type == "Lambda") {
                s.lambda = true;
            } else if (type == "MetadataExtraction") {
                s.metadata_query = parameter(p, "MetadataExtractionQuery").value_or("");
            } else if (type == "AppendDelimiterToRecord") {
                auto delimiter = parameter(p, "Delimiter");
                s.record_delimiter = delimiter ? decoded(*delimiter) : std::string("\n");
            }
        }
    }
    if (auto it = d.find("DynamicPartitioningConfiguration"); it != d.end() && it->is_object())
        s.dynamic_partitioning = it->value("Enabled", false);
    if (s.dynamic_partitioning) {
        // The prefix was validated: every "!{" opens a well-formed expression.
        auto prefix = d.value("Prefix", std::string());
        for (std::size_t pos = prefix.find("!{"); pos != std::string::npos; pos = prefix.find("!{", pos + 2)) {
            auto close = prefix.find('}', pos);
            auto colon = prefix.find(':', pos);
            if (close == std::string::npos || colon == std::string::npos || colon > close) continue;
            auto ns = prefix.substr(pos + 2, colon - pos - 2);
            auto name = prefix.substr(colon + 1, close - colon - 1);
            if (ns == "partitionKeyFromQuery") s.prefix_keys.push_back({key_source::query, name});
            else if (ns == "partitionKeyFromLambda") s.prefix_keys.push_back({key_source::lambda, name});
        }
    }
    return s;
}

bool split_json_objects(std::string_view text, std::vector<std::string_view>& out) {
    out.clear();
    std::size_t i = 0;
    while (i < text.size()) {
        if (space(text[i])) {
            ++i;
            continue;
        }
        if (text[i] != '{') {
            out.clear();
            return false;
        }
        std::size_t start = i;
        int depth = 0;
        bool in_string = false;
        for (; i < text.size(); ++i) {
            char c = text[i];
            if (in_string) {
                if (c == '\\') ++i;
                else if (c == '"') in_string = false;
            } else if (c == '"') {
                in_string = true;
            } else if (c == '{' || c == '[') {
                ++depth;
            } else if (c == '}' || c == ']') {
                if (--depth == 0) break;
            }
        }
        if (i >= text.size()) {
            out.clear();
            return false;
        }
        out.push_back(text.substr(start, i + 1 - start));
        ++i;
    }
    return !out.empty();
}

void split_delimited(std::string_view text, std::string_view delimiter, std::vector<std::string_view>& out) {
    out.clear();
    if (delimiter.empty()) {
        out.push_back(text);
        return;
    }
    std::size_t pos = 0;
    for (;;) {
        auto next = text.find(delimiter, pos);
        if (next == std::string_view::npos) {
            if (pos < text.size() || out.empty()) out.push_back(text.substr(pos));
            return;
        }
        out.push_back(text.substr(pos, next - pos));
        pos = next + delimiter.size();
    }
}

void record_pipeline::run(const processing_settings& s, std::string_view data, std::int64_t arrival_ms,
                          std::string_view partition_key, std::vector<delivery_record>& out,
                          std::vector<failed_record>& failed) {
    out.clear();
    failed.clear();
    std::vector<codec::kpl_user_record> users;
    if (!s.kpl || !codec::kpl_deaggregate(data, users)) users.assign(1, {partition_key, std::nullopt, data});
    for (const auto& u : users) {
        if (s.split == sub_record_type::json) {
            if (!split_json_objects(u.data, parts_)) parts_.assign(1, u.data);
        } else if (s.split == sub_record_type::delimited) {
            split_delimited(u.data, s.split_delimiter, parts_);
        } else {
            parts_.assign(1, u.data);
        }
        for (auto part : parts_) {
            delivery_record r;
            r.data.assign(part);
            r.arrival_ms = arrival_ms;
            r.partition_key.assign(u.partition_key);
            out.push_back(std::move(r));
        }
    }
    // With a Lambda processor, steps 3 and 4 run on the sealed batch
    // (transformed_delivery.h): the function is invoked once per batch.
    if (s.lambda) return;
    if (!s.metadata_query.empty()) extract_metadata(s, out, failed);
}

void record_pipeline::extract_metadata(const processing_settings& s, std::vector<delivery_record>& records,
                                       std::vector<failed_record>& failed) {
    std::size_t kept = 0;
    for (auto& r : records) {
        auto result = jq_.run(s.metadata_query, r.data);
        if (result.failure) {
            failed.push_back({std::move(r.data), r.arrival_ms, std::string(partitioning_failed),
                              result.failure->code, result.failure->message});
            continue;
        }
        r.query_keys = std::move(result.keys);
        if (&records[kept] != &r) records[kept] = std::move(r);
        ++kept;
    }
    records.resize(kept);
}

std::optional<std::string> partition_of(const processing_settings& processing, const delivery_record& r,
                                        std::map<std::string, std::string>& keys, std::string& why) {
    keys.clear();
    if (!processing.dynamic_partitioning) return std::string();
    std::string id;
    for (const auto& ref : processing.prefix_keys) {
        const auto& from = ref.source == key_source::query ? r.query_keys : r.lambda_keys;
        auto it = from.find(ref.name);
        if (it == from.end()) {
            why = std::string(ref.source == key_source::query ? "partitionKeyFromQuery" : "partitionKeyFromLambda") +
                  ":" + ref.name + " is missing from the record's partition keys or is not a string.";
            return std::nullopt;
        }
        keys[ref.name] = it->second;
        // Values may hold any character: length-prefix them so that ids
        // of different key tuples never collide.
        id += std::to_string(it->second.size());
        id += ':';
        id += it->second;
    }
    return id;
}

std::string error_document(const failed_record& f, std::int64_t now_ms) {
    json doc = {{"attemptsMade", 1},
                {"arrivalTimestamp", f.arrival_ms},
                {"errorCode", f.code},
                {"errorMessage", f.message},
                {"attemptEndingTimestamp", now_ms},
                {"rawData", base64::encode(f.raw)}};
    return doc.dump() + "\n";
}

}  // namespace kinesd::delivery
