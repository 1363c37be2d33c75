#pragma once
// What the JSON and CBOR request fuzzers share: after a body decodes, the
// document goes through the same steps the router takes (member types and
// constraints of an action's shape) and through both response writers, and
// the postconditions handlers rely on are checked.
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <string_view>

#include <nlohmann/json.hpp>

#include "actions/action.h"
#include "codec/codec.h"
#include "kinesd/api_error.h"

namespace kinesd::fuzz {

inline constexpr std::string_view action_targets[] = {
    // The hot path first: these are validated for every input.
    "Kinesis_20131202.PutRecords",
    "Kinesis_20131202.PutRecord",
    "Kinesis_20131202.GetRecords",
    "Kinesis_20131202.GetShardIterator",
    "Kinesis_20131202.CreateStream",
    "Kinesis_20131202.ListShards",
    "Firehose_20150804.PutRecordBatch",
    "Firehose_20150804.PutRecord",
    // The rest: one of them per input, picked by the input's size.
    "Kinesis_20131202.AddTagsToStream",
    "Kinesis_20131202.DecreaseStreamRetentionPeriod",
    "Kinesis_20131202.DeleteResourcePolicy",
    "Kinesis_20131202.DeleteStream",
    "Kinesis_20131202.DeregisterStreamConsumer",
    "Kinesis_20131202.DescribeAccountSettings",
    "Kinesis_20131202.DescribeLimits",
    "Kinesis_20131202.DescribeStream",
    "Kinesis_20131202.DescribeStreamConsumer",
    "Kinesis_20131202.DescribeStreamSummary",
    "Kinesis_20131202.DisableEnhancedMonitoring",
    "Kinesis_20131202.EnableEnhancedMonitoring",
    "Kinesis_20131202.GetResourcePolicy",
    "Kinesis_20131202.IncreaseStreamRetentionPeriod",
    "Kinesis_20131202.ListStreamConsumers",
    "Kinesis_20131202.ListStreams",
    "Kinesis_20131202.ListTagsForResource",
    "Kinesis_20131202.ListTagsForStream",
    "Kinesis_20131202.MergeShards",
    "Kinesis_20131202.PutResourcePolicy",
    "Kinesis_20131202.RegisterStreamConsumer",
    "Kinesis_20131202.RemoveTagsFromStream",
    "Kinesis_20131202.SplitShard",
    "Kinesis_20131202.StartStreamEncryption",
    "Kinesis_20131202.StopStreamEncryption",
    "Kinesis_20131202.TagResource",
    "Kinesis_20131202.UntagResource",
    "Kinesis_20131202.UpdateAccountSettings",
    "Kinesis_20131202.UpdateMaxRecordSize",
    "Kinesis_20131202.UpdateShardCount",
    "Kinesis_20131202.UpdateStreamMode",
    "Kinesis_20131202.UpdateStreamWarmThroughput",
    "Firehose_20150804.CreateDeliveryStream",
    "Firehose_20150804.DeleteDeliveryStream",
    "Firehose_20150804.DescribeDeliveryStream",
    "Firehose_20150804.ListDeliveryStreams",
    "Firehose_20150804.UpdateDestination",
    "Firehose_20150804.TagDeliveryStream",
    "Firehose_20150804.UntagDeliveryStream",
    "Firehose_20150804.ListTagsForDeliveryStream",
    "Firehose_20150804.StartDeliveryStreamEncryption",
    "Firehose_20150804.StopDeliveryStreamEncryption",
};
inline constexpr std::size_t hot_actions = 8;

[[noreturn]] inline void finding(const char* what, std::string_view detail = {}) {
    std::fprintf(stderr, "FINDING: %s %.*s\n", what, int(detail.size()), detail.data());
    std::abort();
}

// Handlers read validated members without further checks (e.g. a timestamp
// as std::int64_t(get<double>())), so these must hold after validate().
inline void check_normalised(const actions::shape& s, const nlohmann::json& obj) {
    if (!obj.is_object()) return;
    for (const auto& f : s) {
        auto it = obj.find(std::string(f.name));
        if (it == obj.end()) continue;
        const auto& v = *it;
        if (v.is_null()) finding("null member survived validation", f.name);
        switch (f.type) {
            case actions::field_type::integer:
            case actions::field_type::long_integer:
                if (!v.is_number_integer()) finding("integer member is not an integer", f.name);
                if (f.type == actions::field_type::integer) {
                    auto n = v.get<std::int64_t>();
                    if (n < INT32_MIN || n > INT32_MAX) finding("integer member out of int32 range", f.name);
                }
                break;
            case actions::field_type::timestamp: {
                if (!v.is_number()) finding("timestamp member is not a number", f.name);
                double d = v.get<double>();
                // The range std::int64_t(d) is defined for.
                if (!std::isfinite(d) || d < -9.2e18 || d > 9.2e18)
                    finding("timestamp member does not fit std::int64_t", f.name);
                break;
            }
            case actions::field_type::blob:
                if (!v.is_binary()) finding("blob member is not binary", f.name);
                break;
            case actions::field_type::structure:
                if (f.members) check_normalised(*f.members, v);
                break;
            case actions::field_type::list:
                if (f.members)
                    for (const auto& e : v) check_normalised(*f.members, e);
                break;
            default:
                break;
        }
    }
}

// Both writers must turn any document into a body their own decoder reads
// back: a response that a client cannot parse is a bug even when the
// request was nonsense.
inline void check_writers(const nlohmann::json& doc) {
    for (auto f : {codec::wire_format::json, codec::wire_format::cbor}) {
        std::string body = codec::encode(f, doc);
        try {
            codec::decode(f, body);
        } catch (const api_error&) {
            finding(f == codec::wire_format::json ? "JSON writer output does not decode"
                                                  : "CBOR writer output does not decode",
                    body);
        }
    }
}

inline void validate_as(std::string_view target, const nlohmann::json& doc, codec::wire_format format) {
    const actions::action_entry* action = actions::find_action(target);
    if (!action) finding("action missing from the table", target);
    nlohmann::json input = doc;
    try {
        actions::validate(*action->request_shape, input, format);
    } catch (const api_error& e) {
        if (e.status() != 400) finding("validation answered a non-400 status", e.type());
        // The message is echoed into a response: it must encode.
        codec::encode_error(format, e);
        return;
    }
    check_normalised(*action->request_shape, input);
    check_writers(input);
}

// The whole path after the transport: decode, then every hot action's
// validation and one more action's.
inline void exercise_request(codec::wire_format format, std::string_view body) {
    nlohmann::json doc;
    try {
        doc = codec::decode(format, body);
    } catch (const api_error& e) {
        if (e.type() != "SerializationException") finding("decode threw an unexpected api_error", e.type());
        return;
    }
    if (!doc.is_object()) finding("decode returned a non-object");
    check_writers(doc);
    for (std::size_t i = 0; i < hot_actions; ++i) validate_as(action_targets[i], doc, format);
    constexpr std::size_t rest = std::size(action_targets) - hot_actions;
    validate_as(action_targets[hot_actions + body.size() % rest], doc, format);
}

}  // namespace kinesd::fuzz
