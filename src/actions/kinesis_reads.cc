// Reads: GetShardIterator and GetRecords. Both run on worker threads: a read
// may touch disk, and I/O threads must not wait on it.
#include <algorithm>
#include <chrono>
#include <cstring>
#include <ctime>
#include <string_view>

#include "actions/handlers.h"
#include "actions/kinesis_common.h"
#include "actions/read_budget.h"
#include "actions/records_cbor.h"
#include "actions/records_json.h"
#include "codec/json_writer.h"
#include "common/base64.h"
#include "streams/encoding.h"

namespace kinesd::actions {

namespace {

using nlohmann::json;
using namespace kinesis;

// GetRecords returns at most 10 MiB per call.
constexpr std::size_t get_records_max_bytes = 10u << 20;

// Answer bytes that concurrent GetRecords answers share: one reader still
// gets a full 10 MiB of data (about 14 MiB as text); many at once share
// 16 MiB, at least 256 KiB each.
constexpr std::size_t answer_budget_bytes = 16u << 20;
// What a call asks for: a full answer's data in base64 and some room for the
// members around its records.
constexpr std::size_t full_answer_bytes = get_records_max_bytes / 3 * 4 + (1u << 20);
read_budget& answer_budget() {
    static read_budget budget(answer_budget_bytes, 256u << 10);
    return budget;
}

const shape get_shard_iterator_shape = {
    members::stream_name(),
    {.name = "ShardId", .required = true, .min_length = 1, .max_length = 128, .regex = &patterns::stream_name},
    {.name = "ShardIteratorType", .required = true,
     .enum_values = {"AFTER_SEQUENCE_NUMBER", "LATEST", "AT_TIMESTAMP", "AT_SEQUENCE_NUMBER", "TRIM_HORIZON"}},
    {.name = "StartingSequenceNumber", .regex = &patterns::sequence_number},
    {.name = "Timestamp", .type = field_type::timestamp},
    members::stream_arn(),
};

const std::string& account(const action_context& ctx) { return ctx.account(); }

void get_shard_iterator(action_context& ctx) {
    auto name = stream_name_of(ctx);
    auto s = ctx.svc.streams().find(name);
    const auto& shard_text = ctx.input["ShardId"].get_ref<const std::string&>();
    auto index = encoding::parse_shard_id(shard_text);
    if (!index)
        throw api_error::resource_not_found("Could not find shard " + shard_text + " in stream " + ctx.shown(name) +
                                            " under account " + account(ctx) + ".");
    // AWS names the shard, not the stream, when either is missing.
    const auto* shard = s ? s->find_shard(*index) : nullptr;
    if (!shard)
        throw api_error::resource_not_found("Shard " + encoding::shard_id(*index) + " in stream " + ctx.shown(name) +
                                            " under account " + account(ctx) + " does not exist");
    const auto& type = ctx.input["ShardIteratorType"].get_ref<const std::string&>();
    bool by_sequence = type == "AT_SEQUENCE_NUMBER" || type == "AFTER_SEQUENCE_NUMBER";
    bool has_sequence = ctx.input.contains("StartingSequenceNumber");
    if (by_sequence != has_sequence && type != "AT_TIMESTAMP")
        throw api_error::invalid_argument(
            "Must either specify (1) AT_SEQUENCE_NUMBER or AFTER_SEQUENCE_NUMBER and StartingSequenceNumber or (2) "
            "TRIM_HORIZON or LATEST and no StartingSequenceNumber. Request specified " + type +
            (has_sequence ? " and also a StartingSequenceNumber." : " and no StartingSequenceNumber."));

    auto& log = *shard->log;
    std::uint64_t position = 0;
    if (type == "TRIM_HORIZON") {
        position = 0;
    } else if (type == "LATEST") {
        ctx.svc.store().refresh_tip(log);
        position = log.committed.load() + 1;
    } else if (by_sequence) {
        const auto& text = ctx.input["StartingSequenceNumber"].get_ref<const std::string&>();
        auto seq = encoding::parse_sequence_number(text);
        if (!seq)
            throw api_error::invalid_argument("StartingSequenceNumber " + text + " used in GetShardIterator on shard " +
                                              encoding::shard_id(*index) + " in stream " + ctx.shown(name) + " under account " +
                                              account(ctx) + " is invalid.");
        if (seq->shard_index != *index)
            throw api_error::invalid_argument("Invalid StartingSequenceNumber. It encodes " +
                                              encoding::shard_id(seq->shard_index) +
                                              ", while it was used in a call to a shard with " +
                                              encoding::shard_id(*index));
        if (seq->shard_created_s != shard->created_s)
            throw api_error::invalid_argument("StartingSequenceNumber " + text + " used in GetShardIterator on shard " +
                                              encoding::shard_id(*index) + " in stream " + ctx.shown(name) + " under account " +
                                              account(ctx) + " is invalid because it did not come from this stream.");
        position = type == "AT_SEQUENCE_NUMBER" ? seq->counter : seq->counter + 1;
    } else {  // AT_TIMESTAMP
        if (!ctx.input.contains("Timestamp"))
            throw api_error::invalid_argument(
                "Must specify timestampInMillis parameter for iterator of type AT_TIMESTAMP. Current request has no "
                "timestamp parameter.");
        auto t = std::int64_t(ctx.input["Timestamp"].get<double>());
        if (t > ctx.now_ms)
            throw api_error::invalid_argument(
                "The timestampInMillis parameter cannot be greater than the currentTimestampInMillis. "
                "timestampInMillis: " + std::to_string(t) + ", currentTimestampInMillis: " + std::to_string(ctx.now_ms));
        position = ctx.svc.store().counter_at_time(log, t);
    }
    encoding::iterator_fields it{ctx.now_ms, s->uid, *index, position, name};
    ctx.reply->ok({{"ShardIterator", encoding::shard_iterator(it, ctx.svc.secret())}});
}

const shape get_records_shape = {
    {.name = "ShardIterator", .required = true, .min_length = 1, .max_length = 512},
    {.name = "Limit", .type = field_type::integer, .min_value = 1, .max_value = 10000},
    members::stream_arn(),
};

// Java's Date.toString() in UTC, which is how AWS prints iterator times.
std::string java_date(std::int64_t ms) {
    std::time_t t = ms / 1000;
    std::tm tm{};
    gmtime_r(&t, &tm);
    char buf[64];
    std::strftime(buf, sizeof buf, "%a %b %d %H:%M:%S UTC %Y", &tm);
    return buf;
}

// The whole answer around the Records text, members sorted like the general
// encoder's.
std::string get_records_json(const std::optional<json>& children, std::int64_t behind,
                             const std::string& next_iterator, std::string records) {
    std::string head = "{";
    if (children) {
        head.append("\"ChildShards\":");
        codec::write_json(*children, head);
        head.push_back(',');
    }
    head.append("\"MillisBehindLatest\":").append(std::to_string(behind));
    if (!children) {
        head.append(",\"NextShardIterator\":");
        codec::write_json_string(next_iterator, head);
    }
    head.append(",\"Records\":[");
    records.insert(0, head);
    records.append("]}");
    return records;
}

void get_records(action_context& ctx) {
    const auto started = std::chrono::steady_clock::now();
    const auto& text = ctx.input["ShardIterator"].get_ref<const std::string&>();
    auto it = encoding::parse_shard_iterator(text, ctx.svc.secret());
    if (!it) throw api_error::invalid_argument("Invalid ShardIterator.");
    if (ctx.now_ms - it->issued_ms > ctx.svc.settings().iterator_ttl_ms)
        throw api_error::expired_iterator("Iterator expired. The iterator was created at time " +
                                          java_date(it->issued_ms) + " while right now it is " +
                                          java_date(ctx.now_ms) +
                                          " which is further in the future than the tolerated delay of " +
                                          std::to_string(ctx.svc.settings().iterator_ttl_ms) + " milliseconds.");
    if (ctx.input.contains("StreamARN")) {
        const auto& arn = ctx.input["StreamARN"].get_ref<const std::string&>();
        if (stream_of_arn(ctx, arn) != it->stream_name)
            throw api_error::invalid_argument("StreamARN " + arn + " does not name the stream of the ShardIterator.");
    }
    // An iterator names its stream; another account's stream is not found.
    auto s = ctx.owns(it->stream_name) ? ctx.svc.streams().find(it->stream_name) : nullptr;
    const streams::shard_state* shard = s && s->uid == it->stream_uid ? s->find_shard(it->shard_index) : nullptr;
    if (!shard && ctx.owns(it->stream_name)) {
        // The iterator may come from another front end that knows a newer
        // stream or shard than this one yet.
        ctx.svc.catch_up();
        s = ctx.svc.streams().find(it->stream_name);
        shard = s && s->uid == it->stream_uid ? s->find_shard(it->shard_index) : nullptr;
    }
    if (!shard)
        throw api_error::resource_not_found("Shard " + encoding::shard_id(it->shard_index) + " in stream " +
                                            ctx.shown(it->stream_name) + " under account " + account(ctx) + " does not exist");

    std::size_t limit = ctx.input.value("Limit", 10000);
    auto& log = *shard->log;
    auto* limiter = ctx.svc.limiter();
    auto* metrics = s->metrics.get();
    if (limiter && !limiter->try_read_call(log.name)) {
        if (metrics) metrics->read_throughput_exceeded.add();
        throw api_error::throughput_exceeded("Rate exceeded for Shard - " + account(ctx) + "/" + ctx.shown(s->name) + "/" +
                                             encoding::shard_id(shard->index));
    }
    // Records older than the retention period are never returned, even before
    // the expiry worker has removed them.
    std::int64_t horizon = ctx.now_ms - s->retention_ms();
    std::uint64_t next = it->next_counter;
    std::int64_t last_arrival = 0;
    std::size_t bytes_returned = 0;
    std::size_t data_bytes = 0, records_returned = 0;
    // Answers are written record by record in the request's format.
    const bool as_text = ctx.format == codec::wire_format::json;
    std::string records_text;
    // Held until the connection has written the answer: released earlier,
    // slow readers let the answers waiting to be written grow past the
    // budget (64 readers: 450 MiB).
    auto budget = std::make_shared<read_budget::grant>(answer_budget(), full_answer_bytes);
    records_writer writer(records_text, *shard, limit, budget->bytes());
    cbor_records_writer cbor_writer(records_text, shard->created_s, shard->index, limit);
    std::size_t cost = 0;
    const auto visited = ctx.svc.store().read(log, next, limit, get_records_max_bytes, [&](const storage::record_view& r) {
        next = r.counter + 1;
        if (r.arrival_ms < horizon) return true;
        if (as_text)
            writer.add(r);
        else
            cbor_writer.add(r);
        bytes_returned += r.data.size() + r.partition_key.size();
        data_bytes += r.data.size();
        ++records_returned;
        last_arrival = r.arrival_ms;
        // The record that reaches the share is still returned: every call
        // makes progress, even with a record larger than its share.
        cost += answer_cost(r);
        return cost < budget->bytes();
    });
    if (as_text)
        writer.finish();
    else
        cbor_writer.finish();
    budget->shrink_to(cost);
    if (limiter) limiter->charge_read_bytes(log.name, bytes_returned);
    // A short read may have reached the tip: where the backend is shared,
    // others' appends count before the answer says so (and before
    // MillisBehindLatest is taken from last_arrival_ms).
    if (visited < limit) ctx.svc.store().refresh_tip(log);
    next = std::max(next, log.trimmed_below.load());
    bool at_tip = next > log.committed.load();
    std::int64_t behind =
        at_tip || last_arrival == 0 ? 0 : std::max<std::int64_t>(0, log.last_arrival_ms.load() - last_arrival);
    std::optional<json> children;
    std::string next_iterator;
    if (!shard->open() && at_tip) {
        children = child_shards_of(*s, *shard);
    } else {
        encoding::iterator_fields fresh{ctx.now_ms, s->uid, shard->index, next, s->name};
        next_iterator = encoding::shard_iterator(fresh, ctx.svc.secret());
    }
    if (metrics) {
        metrics->get_records_success.add();
        metrics->get_records_records.add(records_returned);
        metrics->get_records_bytes.add(data_bytes);
        metrics->get_records_iterator_age_ms.set(behind);
        metrics->get_records_latency.observe_since(started);
    }
    if (as_text)
        return ctx.reply->ok_encoded(get_records_json(children, behind, next_iterator, std::move(records_text)),
                                     std::move(budget));
    ctx.reply->ok_encoded(
        get_records_cbor(children, behind, next_iterator, std::move(records_text), cbor_writer.count()),
        std::move(budget));
}

}  // namespace

const action_entry get_shard_iterator_action{"Kinesis_20131202.GetShardIterator", &get_shard_iterator_shape,
                                             get_shard_iterator};
const action_entry get_records_action{"Kinesis_20131202.GetRecords", &get_records_shape, get_records};

}  // namespace kinesd::actions
