// Writes: PutRecord and PutRecords. Records are routed here and handed to the
// storage writer; the reply is sent from its completion, i.e. only once the
// records are durable.
#include "actions/handlers.h"
#include "actions/kinesis_common.h"
#include "streams/encoding.h"

namespace kinesd::actions {

namespace {

using nlohmann::json;
using namespace kinesis;

constexpr std::int64_t model_max_data_bytes = 10485760;
// PutRecords: at most 5 MiB of data and partition keys per request.
constexpr std::size_t put_records_max_bytes = 5u << 20;

const field data_field{.name = "Data", .type = field_type::blob, .required = true, .min_length = 0,
                       .max_length = model_max_data_bytes};
const field partition_key_field{.name = "PartitionKey", .required = true, .min_length = 1, .max_length = 256};
const field explicit_hash_key_field{.name = "ExplicitHashKey", .regex = &patterns::hash_key};

const shape put_record_shape = {
    members::stream_name(),
    data_field,
    partition_key_field,
    explicit_hash_key_field,
    {.name = "SequenceNumberForOrdering", .regex = &patterns::sequence_number},
    members::stream_arn(),
};

const shape put_records_entry_shape = {data_field, explicit_hash_key_field, partition_key_field};

const shape put_records_shape = {
    {.name = "Records", .type = field_type::list, .required = true, .min_length = 1, .max_length = 500,
     .members = &put_records_entry_shape, .java_class = "com.amazonaws.kinesis.v20131202.PutRecordsRequestEntry"},
    members::stream_name(),
    members::stream_arn(),
};

// The stream, if it takes writes (ACTIVE or UPDATING); AWS answers
// ResourceNotFoundException otherwise.
streams::stream_snapshot writable_stream(const action_context& ctx, const std::string& name) {
    auto s = require_stream(ctx, name);
    auto status = s->status(ctx.now_ms);
    if (status != streams::stream_status::active && status != streams::stream_status::updating)
        throw stream_not_found(ctx, name);
    return s;
}

uint128 hash_of(const json& record) {
    if (auto it = record.find("ExplicitHashKey"); it != record.end()) {
        const auto& text = it->get_ref<const std::string&>();
        auto v = parse_uint128(text);
        if (!v)
            throw api_error::invalid_argument(
                "Invalid ExplicitHashKey. ExplicitHashKey must be in the range: [0, 2^128-1]. Specified value was " +
                text);
        return *v;
    }
    return encoding::partition_hash(record["PartitionKey"].get_ref<const std::string&>());
}

std::string_view bytes_of(const json& blob) {
    const auto& b = blob.get_binary();
    return {reinterpret_cast<const char*>(b.data()), b.size()};
}

void check_record_size(const streams::stream_state& s, const json& record, const std::string& path) {
    auto data = bytes_of(record["Data"]);
    const auto& key = record["PartitionKey"].get_ref<const std::string&>();
    std::size_t limit = s.max_record_bytes();
    if (data.size() > limit)
        throw api_error::validation("1 validation error detected: Value 'java.nio.HeapByteBuffer[pos=0 lim=" +
                                    std::to_string(data.size()) + " cap=" + std::to_string(data.size()) + "]' at '" +
                                    path + "' failed to satisfy constraint: Member must have length less than or "
                                           "equal to " + std::to_string(limit));
    if (data.size() + key.size() > limit)
        throw api_error::invalid_argument("Record size (data plus partition key) of " +
                                          std::to_string(data.size() + key.size()) +
                                          " bytes exceeds the maximum record size of " + std::to_string(limit) +
                                          " bytes for stream " + s.name + ".");
}

std::string throttled_message(const action_context& ctx, const streams::stream_state& s,
                              const streams::shard_state& shard) {
    return "Rate exceeded for shard " + encoding::shard_id(shard.index) + " in stream " + s.name + " under account " +
           ctx.svc.settings().account_id + ".";
}

bool within_write_limit(const action_context& ctx, const streams::shard_state& shard, const json& record) {
    auto* limiter = ctx.svc.limiter();
    if (!limiter || !limiter->enabled()) return true;
    return limiter->try_write(shard.log->cf_name, record["Data"].get_binary().size() +
                                                      record["PartitionKey"].get_ref<const std::string&>().size());
}

std::string sequence_of(const streams::shard_state& shard, const storage::append_entry& e) {
    return encoding::sequence_number({shard.created_s, shard.index, e.counter, std::uint64_t(e.arrival_ms / 1000)});
}

// One put in flight: the records (the request itself for PutRecord, its
// Records for PutRecords), which of them the throughput limiter refused, and
// where the answer goes. Routing happens in submit(), which runs again when
// a reshard closed a target shard between routing and writing: the records
// then go to the children, so a reshard never fails or loses a put.
struct pending_put {
    service& svc;
    std::string stream;
    std::shared_ptr<json> input;
    std::vector<const json*> records;
    std::vector<uint128> hashes;         // computed once; re-routing reuses them
    std::vector<std::string> throttled;  // non-empty: refused with this message
    std::shared_ptr<responder> reply;
    bool batch = false;
    int attempt = 0;
};

// A reshard can close a shard only so many times in a row; past this the
// put fails retryably instead of chasing the stream for ever.
constexpr int max_routing_attempts = 16;

void answer(const pending_put& put, const streams::stream_state& s,
            const std::vector<const streams::shard_state*>& targets, const std::vector<std::size_t>& entry_of,
            const storage::append_request& req) {
    if (!put.batch) {
        put.reply->ok({{"ShardId", encoding::shard_id(targets[0]->index)},
                       {"SequenceNumber", sequence_of(*targets[0], req.entries[0])},
                       {"EncryptionType", s.encryption_type}});
        return;
    }
    json results = json::array();
    std::size_t failed = 0;
    for (std::size_t r = 0; r < entry_of.size(); ++r) {
        if (entry_of[r] == SIZE_MAX) {
            ++failed;
            results.push_back(
                {{"ErrorCode", "ProvisionedThroughputExceededException"}, {"ErrorMessage", put.throttled[r]}});
            continue;
        }
        results.push_back({{"SequenceNumber", sequence_of(*targets[r], req.entries[entry_of[r]])},
                           {"ShardId", encoding::shard_id(targets[r]->index)}});
    }
    put.reply->ok(
        {{"FailedRecordCount", failed}, {"Records", std::move(results)}, {"EncryptionType", s.encryption_type}});
}

void submit(std::shared_ptr<pending_put> put) {
    auto s = put->svc.streams().find(put->stream);
    if (!s)
        return put->reply->fail(api_error::resource_not_found("Stream " + put->stream + " under account " +
                                                              put->svc.settings().account_id + " not found."));
    std::vector<const streams::shard_state*> targets(put->records.size(), nullptr);
    std::vector<std::size_t> entry_of(put->records.size(), SIZE_MAX);
    auto request = std::make_shared<storage::append_request>();
    request->entries.reserve(put->records.size());
    for (std::size_t r = 0; r < put->records.size(); ++r) {
        if (!put->throttled[r].empty()) continue;
        const json& record = *put->records[r];
        targets[r] = s->route(put->hashes[r]);
        if (!targets[r]) return put->reply->fail(api_error::internal());
        entry_of[r] = request->entries.size();
        request->entries.push_back({.shard = targets[r]->log.get(),
                                    .partition_key = record["PartitionKey"].get_ref<const std::string&>(),
                                    .data = bytes_of(record["Data"]),
                                    .encrypted = s->encryption_type == "KMS"});
    }
    request->owner = put->input;
    auto* req = request.get();
    request->done = [put, s, targets = std::move(targets), entry_of = std::move(entry_of),
                     req](const rocksdb::Status& status) {
        if (status.IsAborted() && put->attempt + 1 < max_routing_attempts) {
            // This runs on the storage writer, which must not wait for the
            // registry: route again from a worker.
            ++put->attempt;
            put->svc.post([put] { submit(put); });
            return;
        }
        if (!status.ok()) return put->reply->fail(api_error::internal());
        answer(*put, *s, targets, entry_of, *req);
    };
    put->svc.store().append(std::move(request));
}

void put_record(action_context& ctx) {
    auto name = stream_name_of(ctx);
    auto s = writable_stream(ctx, name);
    auto input = std::make_shared<json>(std::move(ctx.input));
    check_record_size(*s, *input, "data");
    uint128 hash = hash_of(*input);
    if (auto it = input->find("SequenceNumberForOrdering"); it != input->end()) {
        // Ordering is already strict per shard (one writer hands out counters);
        // the number must still be one kinesd could have issued.
        const auto& text = it->get_ref<const std::string&>();
        auto parsed = encoding::parse_sequence_number(text);
        if (!parsed || std::int64_t(parsed->arrival_s) * 1000 > ctx.now_ms + 1000)
            throw api_error::invalid_argument("ExclusiveMinimumSequenceNumber " + text + " used in PutRecord on stream " +
                                              name + " under account " + ctx.svc.settings().account_id +
                                              " is invalid.");
    }
    const auto* shard = s->route(hash);
    if (!shard) throw api_error::internal();
    if (!within_write_limit(ctx, *shard, *input)) throw api_error::throughput_exceeded(throttled_message(ctx, *s, *shard));

    auto put = std::make_shared<pending_put>(
        pending_put{ctx.svc, name, input, {input.get()}, {hash}, {std::string()}, ctx.reply});
    submit(std::move(put));
}

void put_records(action_context& ctx) {
    auto name = stream_name_of(ctx);
    auto s = writable_stream(ctx, name);
    auto input = std::make_shared<json>(std::move(ctx.input));
    auto& records = (*input)["Records"];

    std::size_t total = 0;
    int i = 0;
    for (auto& record : records) {
        ++i;
        check_record_size(*s, record, "records." + std::to_string(i) + ".member.data");
        total += record["Data"].get_binary().size() + record["PartitionKey"].get_ref<const std::string&>().size();
    }
    if (total > put_records_max_bytes)
        throw api_error::invalid_argument("Records size exceeds 5 MB limit");

    // Records over their shard's limit fail on their own, inside a 200, as
    // on AWS; the rest are written.
    auto put = std::make_shared<pending_put>(pending_put{ctx.svc, name, input, {}, {}, {}, ctx.reply, true});
    put->records.reserve(records.size());
    put->hashes.reserve(records.size());
    put->throttled.resize(records.size());
    // An invalid ExplicitHashKey fails the whole call before anything is written.
    for (auto& record : records) put->hashes.push_back(hash_of(record));
    for (std::size_t r = 0; r < records.size(); ++r) {
        put->records.push_back(&records[r]);
        const auto* shard = s->route(put->hashes[r]);
        if (!shard) throw api_error::internal();
        if (!within_write_limit(ctx, *shard, records[r])) put->throttled[r] = throttled_message(ctx, *s, *shard);
    }
    submit(std::move(put));
}

}  // namespace

const action_entry put_record_action{"Kinesis_20131202.PutRecord", &put_record_shape, put_record};
const action_entry put_records_action{"Kinesis_20131202.PutRecords", &put_records_shape, put_records};

}  // namespace kinesd::actions
