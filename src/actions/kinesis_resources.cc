// ARN-addressed resource actions: TagResource, UntagResource,
// ListTagsForResource, PutResourcePolicy, GetResourcePolicy,
// DeleteResourcePolicy; and the account-level DescribeAccountSettings /
// UpdateAccountSettings.
#include "actions/handlers.h"
#include "actions/kinesis_channels.h"
#include "actions/kinesis_common.h"
#include "actions/kinesis_tags.h"

namespace kinesd::actions {

namespace {

using nlohmann::json;
using namespace kinesis;
using streams::stream_state;

field resource_arn() {
    return {.name = "ResourceARN", .required = true, .min_length = 1, .max_length = 2048,
            .regex = &patterns::resource_arn};
}

const std::string& resource_of(const action_context& ctx) { return ctx.input["ResourceARN"].get_ref<const std::string&>(); }

// The stream a ResourceARN names (a consumer ARN names its stream too).
// Channels have tags here (see kinesis_channels.h) but no resource
// policies; queues do not exist in kinesd.
std::string stream_of_resource(const action_context& ctx) {
    const auto& arn = resource_of(ctx);
    if (is_channel_arn(arn)) {
        channel_tags(ctx, arn);  // ResourceNotFoundException when there is no such channel
        throw api_error::invalid_argument("kinesd does not support resource policies on channels (" + arn + ").");
    }
    if (arn.find(":queue/") != std::string::npos) throw api_error::resource_not_found("Queue " + arn + " not found.");
    return stream_of_arn(ctx, arn);
}

const field tag_key_field{.name = "member", .min_length = 1, .max_length = 128};

const shape tag_resource_shape = {
    {.name = "Tags", .type = field_type::map, .required = true, .min_length = 1, .max_length = 200},
    resource_arn(),
};

void tag_resource(action_context& ctx) {
    if (is_channel_arn(resource_of(ctx))) {
        tag_channel(ctx, resource_of(ctx), checked_tags(ctx.input["Tags"]));
        return ctx.reply->ok_empty();
    }
    auto name = stream_of_resource(ctx);
    require_stream(ctx, name);
    auto tags = checked_tags(ctx.input["Tags"]);
    ctx.svc.streams().update(name, [&](stream_state& s) {
        auto merged = s.tags;
        for (auto& [k, v] : tags) merged[k] = v;
        if (merged.size() > 50)
            throw api_error::invalid_argument("Failed to add tags to resource " +
                                              ctx.input["ResourceARN"].get<std::string>() +
                                              " because a given resource cannot have more than 50 tags.");
        s.tags = std::move(merged);
    });
    ctx.reply->ok_empty();
}

const shape untag_resource_shape = {
    {.name = "TagKeys", .type = field_type::list, .required = true, .min_length = 1, .max_length = 50,
     .element = &tag_key_field},
    resource_arn(),
};

void untag_resource(action_context& ctx) {
    if (is_channel_arn(resource_of(ctx))) {
        untag_channel(ctx, resource_of(ctx), ctx.input["TagKeys"].get<std::vector<std::string>>());
        return ctx.reply->ok_empty();
    }
    auto name = stream_of_resource(ctx);
    require_stream(ctx, name);
    ctx.svc.streams().update(name, [&](stream_state& s) {
        for (auto& key : ctx.input["TagKeys"]) s.tags.erase(key.get<std::string>());
    });
    ctx.reply->ok_empty();
}

const shape resource_only_shape = {resource_arn()};

void list_tags_for_resource(action_context& ctx) {
    const auto all = is_channel_arn(resource_of(ctx)) ? channel_tags(ctx, resource_of(ctx))
                                                      : require_stream(ctx, stream_of_resource(ctx))->tags;
    json tags = json::array();
    for (auto& [k, v] : all) tags.push_back({{"Key", k}, {"Value", v}});
    ctx.reply->ok({{"Tags", std::move(tags)}});
}

const shape put_policy_shape = {resource_arn(), {.name = "Policy", .required = true}};

void put_resource_policy(action_context& ctx) {
    auto name = stream_of_resource(ctx);
    require_stream(ctx, name);
    auto policy = ctx.input["Policy"].get<std::string>();
    auto parsed = json::parse(policy, nullptr, false);
    if (parsed.is_discarded() || !parsed.is_object())
        throw api_error::invalid_argument("Policy is not a valid JSON document.");
    ctx.svc.streams().update(name, [&](stream_state& s) { s.resource_policy = policy; });
    ctx.reply->ok_empty();
}

void get_resource_policy(action_context& ctx) {
    auto s = require_stream(ctx, stream_of_resource(ctx));
    ctx.reply->ok({{"Policy", s->resource_policy.empty() ? "{}" : s->resource_policy}});
}

void delete_resource_policy(action_context& ctx) {
    auto name = stream_of_resource(ctx);
    auto s = require_stream(ctx, name);
    if (s->resource_policy.empty())
        throw api_error::resource_not_found("No resource policy found for resource " +
                                            ctx.input["ResourceARN"].get<std::string>() + ".");
    ctx.svc.streams().update(name, [&](stream_state& st) { st.resource_policy.clear(); });
    ctx.reply->ok_empty();
}

const shape describe_account_settings_shape = {};

void describe_account_settings(action_context& ctx) { ctx.reply->ok(account_settings(ctx)); }

const shape commitment_shape = {{.name = "Status", .required = true, .enum_values = {"ENABLED", "DISABLED"}}};
const shape update_account_settings_shape = {
    {.name = "MinimumThroughputBillingCommitment", .type = field_type::structure, .required = true,
     .members = &commitment_shape},
};

void update_account_settings(action_context& ctx) {
    auto status = ctx.input["MinimumThroughputBillingCommitment"]["Status"].get<std::string>();
    json current = account_settings(ctx);
    json commitment = current["MinimumThroughputBillingCommitment"];
    if (status == "ENABLED" && commitment.value("Status", "") != "ENABLED") {
        commitment = {{"Status", "ENABLED"},
                      {"StartedAt", ctx.now_ms},
                      // AWS keeps a commitment for at least a day.
                      {"EarliestAllowedEndAt", ctx.now_ms + 24 * 3600 * 1000}};
    } else if (status == "DISABLED" && commitment.value("Status", "") == "ENABLED") {
        commitment["Status"] = "DISABLED";
        commitment["EndedAt"] = ctx.now_ms;
    }
    json updated = {{"MinimumThroughputBillingCommitment", commitment}};
    if (!ctx.svc.store().put_meta(account_settings_key(ctx), updated.dump()).ok()) throw api_error::internal();
    ctx.reply->ok(std::move(updated));
}

}  // namespace

const action_entry tag_resource_action{"Kinesis_20131202.TagResource", &tag_resource_shape, tag_resource};
const action_entry untag_resource_action{"Kinesis_20131202.UntagResource", &untag_resource_shape, untag_resource};
const action_entry list_tags_for_resource_action{"Kinesis_20131202.ListTagsForResource", &resource_only_shape,
                                                 list_tags_for_resource};
const action_entry put_resource_policy_action{"Kinesis_20131202.PutResourcePolicy", &put_policy_shape,
                                              put_resource_policy};
const action_entry get_resource_policy_action{"Kinesis_20131202.GetResourcePolicy", &resource_only_shape,
                                              get_resource_policy};
const action_entry delete_resource_policy_action{"Kinesis_20131202.DeleteResourcePolicy", &resource_only_shape,
                                                 delete_resource_policy};
const action_entry describe_account_settings_action{"Kinesis_20131202.DescribeAccountSettings",
                                                    &describe_account_settings_shape, describe_account_settings};
const action_entry update_account_settings_action{"Kinesis_20131202.UpdateAccountSettings",
                                                  &update_account_settings_shape, update_account_settings};

}  // namespace kinesd::actions
