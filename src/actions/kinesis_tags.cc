// Stream tags: AddTagsToStream, RemoveTagsFromStream, ListTagsForStream.
#include "actions/kinesis_tags.h"

#include "actions/handlers.h"
#include "actions/kinesis_common.h"

namespace kinesd::actions {

namespace kinesis {

namespace {
// Unicode letters, digits, white space, _ . / = + - % @ (non-ASCII bytes are
// taken as letters).
bool valid_tag_text(const std::string& s) {
    for (unsigned char c : s) {
        if (c >= 0x80) continue;
        if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) continue;
        if (c == ' ' || c == '\t' || c == '\n' || c == '_' || c == '.' || c == '/' || c == '=' || c == '+' ||
            c == '-' || c == '%' || c == '@')
            continue;
        return false;
    }
    return true;
}
}  // namespace

std::map<std::string, std::string> checked_tags(const nlohmann::json& tags) {
    std::map<std::string, std::string> out;
    for (auto& [key, value] : tags.items()) {
        std::string v = value.is_string() ? value.get<std::string>() : std::string();
        if (!valid_tag_text(key) || !valid_tag_text(v))
            throw api_error::invalid_argument(
                "Some tags contain invalid characters. Valid characters: Unicode letters, digits, white space, _ . / "
                "= + - % @.");
        out[key] = v;
    }
    return out;
}

}  // namespace kinesis

namespace {

using nlohmann::json;
using namespace kinesis;

constexpr std::size_t max_tags_per_stream = 50;

const field tag_key_field{.name = "TagKey", .min_length = 1, .max_length = 128};

const shape add_tags_shape = {
    members::stream_name(),
    {.name = "Tags", .type = field_type::map, .required = true, .min_length = 1, .max_length = 200},
    members::stream_arn(),
};

void add_tags_to_stream(action_context& ctx) {
    auto name = stream_name_of(ctx);
    require_stream(ctx, name);
    auto tags = checked_tags(ctx.input["Tags"]);
    for (auto& [k, v] : tags)
        if (k.empty() || k.size() > 128 || v.size() > 256)
            throw api_error::invalid_argument("Tag keys must be 1 to 128 characters and values at most 256.");
    ctx.svc.streams().update(name, [&](streams::stream_state& s) {
        auto merged = s.tags;
        for (auto& [k, v] : tags) merged[k] = v;
        if (merged.size() > max_tags_per_stream)
            throw api_error::invalid_argument("Failed to add tags to stream " + ctx.shown(name) + " under account " +
                                              ctx.account() +
                                              " because a given stream cannot have more than " +
                                              std::to_string(max_tags_per_stream) + " tags.");
        s.tags = std::move(merged);
    });
    ctx.reply->ok_empty();
}

const shape remove_tags_shape = {
    members::stream_name(),
    {.name = "TagKeys", .type = field_type::list, .required = true, .min_length = 1, .max_length = 50,
     .element = &tag_key_field},
    members::stream_arn(),
};

void remove_tags_from_stream(action_context& ctx) {
    auto name = stream_name_of(ctx);
    require_stream(ctx, name);
    ctx.svc.streams().update(name, [&](streams::stream_state& s) {
        for (auto& key : ctx.input["TagKeys"])
            if (key.is_string()) s.tags.erase(key.get<std::string>());
    });
    ctx.reply->ok_empty();
}

const shape list_tags_shape = {
    members::stream_name(),
    {.name = "ExclusiveStartTagKey", .min_length = 1, .max_length = 128},
    {.name = "Limit", .type = field_type::integer, .min_value = 1, .max_value = 50},
    members::stream_arn(),
};

void list_tags_for_stream(action_context& ctx) {
    auto s = require_stream(ctx, stream_name_of(ctx));
    std::size_t limit = ctx.input.value("Limit", 50);
    std::string after = ctx.input.value("ExclusiveStartTagKey", std::string());
    json tags = json::array();
    bool more = false;
    for (auto& [k, v] : s->tags) {
        if (!after.empty() && k <= after) continue;
        if (tags.size() == limit) {
            more = true;
            break;
        }
        tags.push_back({{"Key", k}, {"Value", v}});
    }
    ctx.reply->ok({{"Tags", std::move(tags)}, {"HasMoreTags", more}});
}

}  // namespace

const action_entry add_tags_to_stream_action{"Kinesis_20131202.AddTagsToStream", &add_tags_shape, add_tags_to_stream};
const action_entry remove_tags_from_stream_action{"Kinesis_20131202.RemoveTagsFromStream", &remove_tags_shape,
                                                  remove_tags_from_stream};
const action_entry list_tags_for_stream_action{"Kinesis_20131202.ListTagsForStream", &list_tags_shape,
                                               list_tags_for_stream};

}  // namespace kinesd::actions
