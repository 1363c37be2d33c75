#include "codec/codec.h"

#include "codec/cbor_scan.h"
#include "codec/cbor_writer.h"
#include "codec/json_scan.h"
#include "codec/json_writer.h"

namespace kinesd::codec {
namespace {

using json = nlohmann::json;

constexpr std::string_view json_type = "application/x-amz-json-1.1";
constexpr std::string_view cbor_type = "application/x-amz-cbor-1.1";

bool equals_ignoring_case(std::string_view a, std::string_view b) {
    if (a.size() != b.size()) return false;
    for (std::size_t i = 0; i < a.size(); ++i) {
        char c = a[i];
        if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
        if (c != b[i]) return false;
    }
    return true;
}

std::string_view trim(std::string_view s) {
    const auto blank = [](char c) { return c == ' ' || c == '\t'; };
    while (!s.empty() && blank(s.front())) s.remove_prefix(1);
    while (!s.empty() && blank(s.back())) s.remove_suffix(1);
    return s;
}

json parse_json(std::string_view body) {
    if (!json_prescan(body, max_nesting_depth)) return json(json::value_t::discarded);
    return json::parse(body.begin(), body.end(), nullptr, /*allow_exceptions=*/false);
}

json parse_cbor(std::string_view body) {
    std::string untagged;
    switch (scan_cbor(body, max_nesting_depth, untagged)) {
        case cbor_scan_result::malformed:
            return json(json::value_t::discarded);
        case cbor_scan_result::tags_removed:
            body = untagged;
            break;
        case cbor_scan_result::ok:
            break;
    }
    return json::from_cbor(body.begin(), body.end(), /*strict=*/true, /*allow_exceptions=*/false,
                           json::cbor_tag_handler_t::ignore);
}

}  // namespace

std::optional<wire_format> format_from_content_type(std::string_view content_type) {
    const auto semicolon = content_type.find(';');
    const std::string_view type = trim(content_type.substr(0, semicolon));
    if (equals_ignoring_case(type, json_type)) return wire_format::json;
    if (equals_ignoring_case(type, cbor_type)) return wire_format::cbor;
    return std::nullopt;
}

const char* content_type(wire_format f) { return f == wire_format::json ? json_type.data() : cbor_type.data(); }

json decode(wire_format f, std::string_view body) {
    if (body.empty()) throw api_error::serialization();
    json value;
    try {
        value = f == wire_format::json ? parse_json(body) : parse_cbor(body);
    } catch (const json::exception&) {
        // allow_exceptions=false covers syntax errors; this covers the rest
        // (e.g. an absurd declared container size).
        throw api_error::serialization();
    }
    if (!value.is_object()) throw api_error::serialization();
    return value;
}

void encode_to(wire_format f, const json& value, std::string& out) {
    if (f == wire_format::json) {
        out.reserve(out.size() + json_size_hint(value));
        write_json(value, out);
    } else {
        out.reserve(out.size() + cbor_size_hint(value));
        write_cbor(value, out);
    }
}

std::string encode(wire_format f, const json& value) {
    std::string out;
    encode_to(f, value, out);
    return out;
}

std::string encode_error(wire_format f, const api_error& e) {
    const char* message_key = e.capital_message_key() ? "Message" : "message";
    std::string out;
    if (f == wire_format::json) {
        out.reserve(32 + e.type().size() + e.message().size());
        out.append("{\"__type\":");
        write_json_string(e.type(), out);
        if (e.has_message()) {
            out.append(",\"").append(message_key).append("\":");
            write_json_string(e.message(), out);
        }
        out.push_back('}');
    } else {
        out.reserve(32 + e.type().size() + e.message().size());
        write_cbor_head(5, e.has_message() ? 2 : 1, out);
        write_cbor_text("__type", out);
        write_cbor_text(e.type(), out);
        if (e.has_message()) {
            write_cbor_text(message_key, out);
            write_cbor_text(e.message(), out);
        }
    }
    return out;
}

bool is_timestamp_key(std::string_view key) {
    switch (key.size()) {
        case 7: return key == "EndedAt";
        case 9: return key == "Timestamp" || key == "StartedAt";
        case 15: return key == "CreateTimestamp";
        case 19: return key == "LastUpdateTimestamp";
        case 20: return key == "EarliestAllowedEndAt";
        case 22: return key == "DeliveryStartTimestamp";
        case 23: return key == "StreamCreationTimestamp";
        case 24: return key == "ChannelCreationTimestamp";
        case 25: return key == "ConsumerCreationTimestamp";
        case 27: return key == "ApproximateArrivalTimestamp";
        default: return false;
    }
}

}  // namespace kinesd::codec
