// Firehose writes: PutRecord and PutRecordBatch. A DirectPut delivery stream
// keeps its records in a shard log of its own; they are appended through the
// storage writer and the reply goes out from its completion, so a record is
// durable before the client hears of it. The delivery worker reads the log.
#include "actions/firehose_common.h"
#include "actions/handlers.h"
#include "common/base64.h"
#include "common/random.h"

namespace kinesd::actions {

namespace {

using nlohmann::json;
using namespace firehose;

constexpr std::int64_t max_record_bytes = 1024000;
constexpr std::size_t max_batch_bytes = 4u << 20;

const shape record_shape = {
    {.name = "Data", .type = field_type::blob, .required = true, .min_length = 0, .max_length = max_record_bytes},
};

const shape put_record_shape = {
    delivery_stream_name(),
    {.name = "Record", .type = field_type::structure, .required = true, .members = &record_shape},
};

const shape put_record_batch_shape = {
    delivery_stream_name(),
    {.name = "Records", .type = field_type::list, .required = true, .min_length = 1, .max_length = 500,
     .members = &record_shape, .java_class = "com.amazonaws.firehose.v20150804.Record"},
};

std::string_view bytes_of(const json& blob) {
    const auto& b = blob.get_binary();
    return {reinterpret_cast<const char*>(b.data()), b.size()};
}

// The delivery stream, if it takes records; AWS's errors otherwise.
delivery::delivery_snapshot writable(const action_context& ctx) {
    auto name = ctx.input["DeliveryStreamName"].get<std::string>();
    auto s = require(ctx, name);
    if (s->is_kinesis_source())
        throw api_error::invalid_argument("This operation is not permitted on KinesisStreamAsSource delivery stream type.");
    if (s->status(ctx.now_ms) != delivery::delivery_status::active || !s->log) throw not_found(ctx, name);
    return s;
}

// Opaque, unique per record: the incarnation, the record's position in the
// log and random bytes, base64 like AWS's.
std::string record_id(const delivery::delivery_stream& s, std::uint64_t counter) {
    std::string raw(16, '\0');
    for (int i = 0; i < 8; ++i) {
        raw[i] = char((s.uid >> (56 - 8 * i)) & 0xff);
        raw[8 + i] = char((counter >> (56 - 8 * i)) & 0xff);
    }
    return base64::encode(raw + random_bytes(32));
}

void append(action_context& ctx, const delivery::delivery_snapshot& s, const std::shared_ptr<json>& input,
            std::vector<const json*> records, bool batch) {
    auto request = std::make_shared<storage::append_request>();
    request->entries.reserve(records.size());
    for (auto* r : records) request->entries.push_back({s->log.get(), {}, bytes_of((*r)["Data"])});
    request->owner = input;
    auto reply = ctx.reply;
    auto* req = request.get();
    bool encrypted = s->encryption_status == "ENABLED";
    request->done = [reply, s, req, batch, encrypted](const rocksdb::Status& status) {
        if (!batch) {
            if (!status.ok()) return reply->fail(api_error::service_unavailable("Slow down."));
            return reply->ok({{"RecordId", record_id(*s, req->entries[0].counter)}, {"Encrypted", encrypted}});
        }
        // A storage failure fails every entry, inside a 200, as AWS reports
        // per-record failures.
        json responses = json::array();
        for (auto& e : req->entries) {
            if (status.ok())
                responses.push_back({{"RecordId", record_id(*s, e.counter)}});
            else
                responses.push_back({{"ErrorCode", "ServiceUnavailableException"}, {"ErrorMessage", "Slow down."}});
        }
        reply->ok({{"FailedPutCount", status.ok() ? 0 : req->entries.size()},
                   {"Encrypted", encrypted},
                   {"RequestResponses", std::move(responses)}});
    };
    ctx.svc.store().append(std::move(request));
}

void put_record(action_context& ctx) {
    auto s = writable(ctx);
    auto input = std::make_shared<json>(std::move(ctx.input));
    append(ctx, s, input, {&(*input)["Record"]}, false);
}

void put_record_batch(action_context& ctx) {
    auto s = writable(ctx);
    auto input = std::make_shared<json>(std::move(ctx.input));
    std::vector<const json*> records;
    std::size_t total = 0;
    for (auto& r : (*input)["Records"]) {
        total += r["Data"].get_binary().size();
        records.push_back(&r);
    }
    if (total > max_batch_bytes) throw api_error::invalid_argument("Records size exceeds 4 MB limit");
    append(ctx, s, input, std::move(records), true);
}

}  // namespace

const action_entry firehose_put_record_action{"Firehose_20150804.PutRecord", &put_record_shape, put_record};
const action_entry firehose_put_record_batch_action{"Firehose_20150804.PutRecordBatch", &put_record_batch_shape,
                                                    put_record_batch};

}  // namespace kinesd::actions
