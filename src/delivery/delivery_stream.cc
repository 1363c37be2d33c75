#include "delivery/delivery_stream.h"

namespace kinesd::delivery {

const char* to_string(delivery_status s) {
    switch (s) {
        case delivery_status::creating: return "CREATING";
        case delivery_status::active: return "ACTIVE";
        case delivery_status::deleting: return "DELETING";
    }
    return "ACTIVE";
}

delivery_status delivery_stream::status(std::int64_t now_ms) const {
    if (deleting_since_ms) return delivery_status::deleting;
    if (now_ms < active_at_ms) return delivery_status::creating;
    return delivery_status::active;
}

std::string delivery_stream::source_stream_name() const {
    auto pos = source_stream_arn.find(":stream/");
    if (pos == std::string::npos) return std::string();
    // The source is a stream of the delivery stream's own account, whose
    // registry keys share the "<account>/" of this one's name, if any.
    auto slash = name.find('/');
    return (slash == std::string::npos ? std::string() : name.substr(0, slash + 1)) + source_stream_arn.substr(pos + 8);
}

std::string delivery_stream::shown_name() const {
    auto slash = name.find('/');
    return slash == std::string::npos ? name : name.substr(slash + 1);
}

std::string bucket_of(const std::string& bucket_arn) {
    auto pos = bucket_arn.find(":::");
    return pos == std::string::npos ? bucket_arn : bucket_arn.substr(pos + 3);
}

s3_settings delivery_stream::s3() const {
    s3_settings s;
    const auto& d = destination;
    s.bucket = bucket_of(d.value("BucketARN", std::string()));
    s.prefix = d.value("Prefix", std::string());
    s.error_output_prefix = d.value("ErrorOutputPrefix", std::string());
    if (auto it = d.find("BufferingHints"); it != d.end()) {
        s.size_bytes = std::size_t(it->value("SizeInMBs", 5)) << 20;
        s.interval_ms = std::int64_t(it->value("IntervalInSeconds", 300)) * 1000;
    }
    s.compression = parse_compression_format(d.value("CompressionFormat", std::string("UNCOMPRESSED")))
                        .value_or(compression_format::uncompressed);
    s.extension = d.value("FileExtension", std::string());
    if (s.extension.empty()) s.extension = std::string(file_extension(s.compression));
    if (auto it = d.find("ProcessingConfiguration"); it != d.end() && it->value("Enabled", true)) {
        for (auto& p : it->value("Processors", nlohmann::json::array()))
            if (p.value("Type", std::string()) == "AppendDelimiterToRecord") s.append_newline = true;
    }
    s.lambda = lambda_settings_of(d);
    return s;
}

nlohmann::json delivery_stream::to_json() const {
    nlohmann::json j = {{"name", name},
                        {"uid", uid},
                        {"type", type},
                        {"created_ms", created_ms},
                        {"active_at_ms", active_at_ms},
                        {"last_update_ms", last_update_ms},
                        {"version", version},
                        {"source_stream_arn", source_stream_arn},
                        {"source_role_arn", source_role_arn},
                        {"encryption_status", encryption_status},
                        {"encryption_key_type", encryption_key_type},
                        {"encryption_key_arn", encryption_key_arn},
                        {"destination_id", destination_id},
                        {"destination", destination},
                        {"tags", tags}};
    if (deleting_since_ms) j["deleting_since_ms"] = *deleting_since_ms;
    if (throughput_hint_mbs) j["throughput_hint_mbs"] = *throughput_hint_mbs;
    return j;
}

delivery_stream delivery_stream::from_json(const nlohmann::json& j) {
    delivery_stream s;
    s.name = j.at("name").get<std::string>();
    s.uid = j.at("uid").get<std::uint64_t>();
    s.type = j.value("type", std::string(direct_put));
    s.created_ms = j.value("created_ms", std::int64_t(0));
    s.active_at_ms = j.value("active_at_ms", std::int64_t(0));
    s.last_update_ms = j.value("last_update_ms", std::int64_t(0));
    if (j.contains("deleting_since_ms")) s.deleting_since_ms = j["deleting_since_ms"].get<std::int64_t>();
    s.version = j.value("version", std::uint64_t(1));
    s.source_stream_arn = j.value("source_stream_arn", std::string());
    s.source_role_arn = j.value("source_role_arn", std::string());
    if (j.contains("throughput_hint_mbs")) s.throughput_hint_mbs = j["throughput_hint_mbs"].get<int>();
    s.encryption_status = j.value("encryption_status", std::string("DISABLED"));
    s.encryption_key_type = j.value("encryption_key_type", std::string());
    s.encryption_key_arn = j.value("encryption_key_arn", std::string());
    s.destination_id = j.value("destination_id", std::string(first_destination_id));
    s.destination = j.value("destination", nlohmann::json::object());
    s.tags = j.value("tags", std::map<std::string, std::string>{});
    return s;
}

}  // namespace kinesd::delivery
