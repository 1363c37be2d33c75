#include "delivery/channel_format.h"

#include <array>
#include <ctime>

#include "codec/utf8.h"
#include "common/base64.h"

namespace kinesd::delivery {

namespace {

std::string bucket_of_arn(const std::string& arn) {
    auto pos = arn.find(":::");
    return pos == std::string::npos ? arn : arn.substr(pos + 3);
}

std::string two(int v) {
    std::string s = std::to_string(v);
    return s.size() < 2 ? "0" + s : s;
}

struct time_parts {
    std::string yyyy, yy, mm_month, dd, hh, mm_minute;
};

time_parts parts_of(std::chrono::system_clock::time_point when) {
    std::time_t t = std::chrono::system_clock::to_time_t(when);
    std::tm tm{};
    gmtime_r(&t, &tm);
    auto year = std::to_string(tm.tm_year + 1900);
    return {year, year.substr(year.size() - 2), two(tm.tm_mon + 1), two(tm.tm_mday), two(tm.tm_hour), two(tm.tm_min)};
}

constexpr std::array<std::string_view, 9> variables = {"channel-name", "channel-id", "yyyy", "YY", "MM",
                                                      "dd",           "HH",         "mm",   "extension"};

// The model's OutputKeyTemplate characters, less the variable syntax.
bool literal_char(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           std::string_view("/_-.'*()=:").find(c) != std::string_view::npos;
}

// Expands the template; `unique` goes before a final !{extension}, else last.
std::string expand(const channel_settings& c, std::string_view tpl, std::chrono::system_clock::time_point when,
                   std::string_view unique, std::string_view extension) {
    auto t = parts_of(when);
    std::string out;
    bool placed = false;
    for (std::size_t i = 0; i < tpl.size();) {
        if (tpl.compare(i, 2, "!{") != 0) {
            out.push_back(tpl[i++]);
            continue;
        }
        auto end = tpl.find('}', i);
        auto name = tpl.substr(i + 2, end - i - 2);
        i = end + 1;
        if (name == "channel-name") out += c.name;
        else if (name == "channel-id") out += c.id;
        else if (name == "yyyy") out += t.yyyy;
        else if (name == "YY") out += t.yy;
        else if (name == "MM") out += t.mm_month;
        else if (name == "dd") out += t.dd;
        else if (name == "HH") out += t.hh;
        else if (name == "mm") out += t.mm_minute;
        else if (name == "extension") {
            if (i == tpl.size()) {
                out += unique;
                placed = true;
            }
            out += extension;
        }
    }
    if (!placed) out += unique;
    return out;
}

}  // namespace

std::optional<record_format> parse_record_format(std::string_view name) {
    if (name == "JSON") return record_format::json;
    if (name == "STRING") return record_format::string;
    if (name == "BYTE_ARRAY") return record_format::byte_array;
    return std::nullopt;
}

channel_settings channel_settings_of(const nlohmann::json& channel) {
    channel_settings c;
    c.name = channel.value("ChannelName", std::string());
    c.id = channel.value("ChannelId", std::string());
    const auto& streams = channel.value("StreamConfigurationList", nlohmann::json::array());
    if (!streams.empty())
        c.format = parse_record_format(streams[0]["RecordConfiguration"].value("RecordFormatType", std::string()))
                       .value_or(record_format::byte_array);
    const auto& dest = channel.value("S3DestinationConfiguration", nlohmann::json::object());
    const auto& storage = dest.value("StorageConfiguration", nlohmann::json::object());
    c.key_template = storage.value("OutputKeyTemplate", std::string());
    if (c.key_template.empty()) c.key_template = std::string(default_key_template);
    const auto& dlq = dest.value("DeadLetterQueueS3Configuration", nlohmann::json::object());
    c.dlq_bucket = bucket_of_arn(dlq.value("BucketARN", storage.value("BucketARN", std::string())));
    c.dlq_prefix = dlq.value("ErrorOutputPrefix", std::string(default_error_output_prefix));
    return c;
}

bool accepts(record_format format, std::string_view record) {
    switch (format) {
        case record_format::json: return nlohmann::json::accept(record);
        case record_format::string: return codec::utf8_valid_prefix(record) == record.size();
        case record_format::byte_array: return true;
    }
    return true;
}

std::string dead_letter_line(const channel_settings& c, std::string_view record, std::int64_t arrival_ms) {
    const bool json = c.format == record_format::json;
    nlohmann::json line = {
        {"channelName", c.name},
        {"channelId", c.id},
        {"errorCode", json ? "InvalidJson" : "InvalidUtf8"},
        {"errorMessage", json ? "The record is not a valid JSON document."
                              : "The record is not a valid UTF-8 string."},
        {"approximateArrivalTimestamp", arrival_ms},
        {"rawData", base64::encode(record)},
    };
    return line.dump() + "\n";
}

std::optional<std::string> key_template_error(std::string_view tpl) {
    if (tpl.empty()) return "OutputKeyTemplate must not be empty.";
    if (tpl.size() > max_key_template_length)
        return "OutputKeyTemplate must be at most " + std::to_string(max_key_template_length) + " characters long.";
    if (tpl.front() == '/' || tpl.back() == '/') return "OutputKeyTemplate must not start or end with '/'.";
    if (tpl.find("..") != std::string_view::npos || tpl.find("./") != std::string_view::npos)
        return "OutputKeyTemplate must not contain '..' or './'.";
    bool variable = false;
    for (std::size_t i = 0; i < tpl.size();) {
        if (tpl.compare(i, 2, "!{") == 0) {
            auto end = tpl.find('}', i);
            if (end == std::string_view::npos) return "OutputKeyTemplate has a '!{' without a matching '}'.";
            auto name = tpl.substr(i + 2, end - i - 2);
            bool known = false;
            for (auto v : variables) known = known || v == name;
            if (!known) return "OutputKeyTemplate uses the unknown variable !{" + std::string(name) + "}.";
            variable = true;
            i = end + 1;
            continue;
        }
        if (!literal_char(tpl[i]))
            return "OutputKeyTemplate may hold only letters, digits and / _ - . ' * ( ) = : outside variables, not '" +
                   std::string(1, tpl[i]) + "'.";
        ++i;
    }
    if (!variable) return "OutputKeyTemplate must use at least one variable.";
    return std::nullopt;
}

std::string channel_object_key(const channel_settings& c, std::chrono::system_clock::time_point when,
                               std::string_view unique, std::string_view extension) {
    return expand(c, c.key_template, when, unique, extension);
}

std::string channel_dead_letter_key(const channel_settings& c, std::chrono::system_clock::time_point when,
                                    std::string_view unique) {
    return c.dlq_prefix + expand(c, "!{channel-name}/!{channel-id}/!{yyyy}/!{MM}/!{dd}/!{HH}/!{channel-name}-!{channel-id}-!{yyyy}-!{MM}-!{dd}-!{HH}-!{mm}", when, unique, {}) + ".json";
}

}  // namespace kinesd::delivery
