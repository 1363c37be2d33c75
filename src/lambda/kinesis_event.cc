#include "lambda/kinesis_event.h"

#include <ctime>

#include "common/base64.h"
#include "common/random.h"

namespace kinesd::lambda {

namespace {

std::tm utc(std::int64_t epoch_ms) {
    std::time_t t = std::time_t(epoch_ms / 1000);
    std::tm tm{};
    gmtime_r(&t, &tm);
    return tm;
}

}  // namespace

std::string iso_ms(std::int64_t epoch_ms) {
    auto tm = utc(epoch_ms);
    char buf[64];
    std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1,
                  tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, int(epoch_ms % 1000));
    return buf;
}

nlohmann::json event_record(const event_context& ctx, const source_record& r) {
    // Seconds with a millisecond fraction, as Lambda sends them. One
    // correctly rounded division prints back as exactly three decimals.
    const double arrival = double(r.arrival_ms) / 1000.0;
    return {
        {"kinesis",
         {{"kinesisSchemaVersion", "1.0"},
          {"partitionKey", r.partition_key},
          {"sequenceNumber", r.sequence_number},
          {"data", base64::encode(r.data)},
          {"approximateArrivalTimestamp", arrival}}},
        {"eventSource", "aws:kinesis"},
        {"eventVersion", "1.0"},
        {"eventID", ctx.shard_id + ":" + r.sequence_number},
        {"eventName", "aws:kinesis:record"},
        {"invokeIdentityArn", ctx.identity_arn},
        {"awsRegion", ctx.region},
        {"eventSourceARN", ctx.stream_arn},
    };
}

nlohmann::json kinesis_event(const event_context& ctx, const std::vector<source_record>& records) {
    nlohmann::json list = nlohmann::json::array();
    for (const auto& r : records) list.push_back(event_record(ctx, r));
    return {{"Records", std::move(list)}};
}

nlohmann::json filter_view(const event_context& ctx, const source_record& r) {
    nlohmann::json view = {
        {"partitionKey", r.partition_key},
        {"sequenceNumber", r.sequence_number},
        {"approximateArrivalTimestamp", double(r.arrival_ms) / 1000.0},
        {"kinesisSchemaVersion", "1.0"},
        {"eventSource", "aws:kinesis"},
        {"awsRegion", ctx.region},
        {"eventSourceARN", ctx.stream_arn},
    };
    auto data = nlohmann::json::parse(r.data, nullptr, false);
    if (!data.is_discarded()) view["data"] = std::move(data);
    return view;
}

nlohmann::json failure_document(const event_context& ctx, const std::vector<source_record>& records,
                                const failure_info& info, const std::string& payload) {
    nlohmann::json response = {{"statusCode", info.status_code}, {"executedVersion", "$LATEST"}};
    if (!info.function_error.empty()) response["functionError"] = info.function_error;
    nlohmann::json batch = {
        {"shardId", ctx.shard_id},
        {"startSequenceNumber", records.empty() ? "" : records.front().sequence_number},
        {"endSequenceNumber", records.empty() ? "" : records.back().sequence_number},
        {"approximateArrivalOfFirstRecord", records.empty() ? "" : iso_ms(records.front().arrival_ms)},
        {"approximateArrivalOfLastRecord", records.empty() ? "" : iso_ms(records.back().arrival_ms)},
        {"batchSize", records.size()},
        {"streamArn", ctx.stream_arn},
    };
    return {
        {"requestContext",
         {{"requestId", id_uuid()},
          {"functionArn", info.function_arn},
          {"condition", info.condition},
          {"approximateInvokeCount", info.approximate_invoke_count}}},
        {"responseContext", std::move(response)},
        {"version", "1.0"},
        {"timestamp", iso_ms(info.now_ms)},
        {"KinesisBatchInfo", std::move(batch)},
        {"payload", payload},
    };
}

std::string failure_object_key(const std::string& mapping_uuid, const std::string& shard_id, std::int64_t now_ms) {
    auto tm = utc(now_ms);
    char date[64], stamp[64];
    std::snprintf(date, sizeof date, "%04d/%02d/%02d", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday);
    std::snprintf(stamp, sizeof stamp, "%04d-%02d-%02dT%02d.%02d.%02d", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
                  tm.tm_hour, tm.tm_min, tm.tm_sec);
    return "aws/lambda/" + mapping_uuid + "/" + shard_id + "/" + date + "/" + stamp + "-" + id_uuid();
}

}  // namespace kinesd::lambda
