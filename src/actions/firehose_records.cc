// Firehose writes: PutRecord and PutRecordBatch. A DirectPut delivery stream
// keeps its records in a shard log of its own; they are appended through the
// storage writer and the reply goes out from its completion, so a record is
// durable before the client hears of it. The delivery worker reads the log.
//
// As with Kinesis puts, a JSON body is first offered to
// codec::read_record_body; anything it or the checks here are unsure about
// takes the general path, which words every error.
#include "actions/firehose_common.h"
#include "actions/handlers.h"
#include "codec/json_writer.h"
#include "codec/record_body.h"
#include "common/base64.h"
#include "common/random.h"

namespace kinesd::actions {

namespace {

using nlohmann::json;
using namespace firehose;

constexpr std::int64_t max_record_bytes = 1024000;
constexpr std::size_t max_batch_bytes = 4u << 20;
constexpr std::size_t max_batch_records = 500;
constexpr std::size_t max_name_length = 64;

const shape record_shape = {
    {.name = "Data", .type = field_type::blob, .required = true, .min_length = 0, .max_length = max_record_bytes},
};

const shape put_record_shape = {
    delivery_stream_name(),
    {.name = "Record", .type = field_type::structure, .required = true, .members = &record_shape},
};

const shape put_record_batch_shape = {
    delivery_stream_name(),
    {.name = "Records", .type = field_type::list, .required = true, .min_length = 1,
     .max_length = max_batch_records, .members = &record_shape, .java_class = "com.amazonaws.firehose.v20150804.Record"},
};

std::string_view bytes_of(const json& blob) {
    const auto& b = blob.get_binary();
    return {reinterpret_cast<const char*>(b.data()), b.size()};
}

// The delivery stream, if it takes records; AWS's errors otherwise.
delivery::delivery_snapshot writable(const action_context& ctx, const std::string& name) {
    auto s = require(ctx, name);
    if (s->is_kinesis_source())
        throw api_error::invalid_argument("This operation is not permitted on KinesisStreamAsSource delivery stream type.");
    if (s->status(ctx.now_ms) != delivery::delivery_status::active || !s->log) throw not_found(ctx, name);
    return s;
}

// Opaque, unique per record: the incarnation, the record's position in the
// log and 32 random bytes (taken from `random`), base64 like AWS's.
std::string record_id(const delivery::delivery_stream& s, std::uint64_t counter, std::string_view random) {
    char raw[48];
    for (int i = 0; i < 8; ++i) {
        raw[i] = char((s.uid >> (56 - 8 * i)) & 0xff);
        raw[8 + i] = char((counter >> (56 - 8 * i)) & 0xff);
    }
    std::copy(random.begin(), random.begin() + 32, raw + 16);
    std::string out;
    base64::encode_to(out, raw, sizeof raw);
    return out;
}

// The batch answer as JSON text, members sorted like the general encoder's.
std::string batch_json(const delivery::delivery_stream& s, const storage::append_request& req, bool ok,
                       bool encrypted) {
    std::string random = ok ? random_bytes(32 * req.entries.size()) : std::string();
    std::string out;
    out.reserve(64 + req.entries.size() * 80);
    out.append("{\"Encrypted\":").append(encrypted ? "true" : "false");
    out.append(",\"FailedPutCount\":").append(std::to_string(ok ? 0 : req.entries.size()));
    out.append(",\"RequestResponses\":[");
    for (std::size_t i = 0; i < req.entries.size(); ++i) {
        if (i) out.push_back(',');
        if (!ok) {
            out.append("{\"ErrorCode\":\"ServiceUnavailableException\",\"ErrorMessage\":\"Slow down.\"}");
            continue;
        }
        out.append("{\"RecordId\":");
        codec::write_json_string(record_id(s, req.entries[i].counter, std::string_view(random).substr(32 * i)), out);
        out.push_back('}');
    }
    out.append("]}");
    return out;
}

void append(action_context& ctx, const delivery::delivery_snapshot& s, std::shared_ptr<void> owner,
            const std::vector<std::string_view>& records, bool batch) {
    auto request = std::make_shared<storage::append_request>();
    request->entries.reserve(records.size());
    for (auto data : records) request->entries.push_back({s->log.get(), {}, data});
    request->owner = std::move(owner);
    auto reply = ctx.reply;
    auto* req = request.get();
    bool encrypted = s->encryption_status == "ENABLED";
    bool as_text = ctx.format == codec::wire_format::json;
    request->done = [reply, s, req, batch, encrypted, as_text](const storage::status& status) {
        if (status.ok()) {
            std::size_t bytes = 0;
            for (const auto& e : req->entries) bytes += e.data.size();
            s->metrics->incoming_records.add(req->entries.size());
            s->metrics->incoming_bytes.add(bytes);
        }
        if (!batch) {
            if (!status.ok()) return reply->fail(api_error::service_unavailable("Slow down."));
            return reply->ok(
                {{"RecordId", record_id(*s, req->entries[0].counter, random_bytes(32))}, {"Encrypted", encrypted}});
        }
        // A storage failure fails every entry, inside a 200, as AWS reports
        // per-record failures.
        if (as_text) return reply->ok_encoded(batch_json(*s, *req, status.ok(), encrypted));
        std::string random = status.ok() ? random_bytes(32 * req->entries.size()) : std::string();
        json responses = json::array();
        for (std::size_t i = 0; i < req->entries.size(); ++i) {
            if (status.ok())
                responses.push_back(
                    {{"RecordId", record_id(*s, req->entries[i].counter, std::string_view(random).substr(32 * i))}});
            else
                responses.push_back({{"ErrorCode", "ServiceUnavailableException"}, {"ErrorMessage", "Slow down."}});
        }
        reply->ok({{"FailedPutCount", status.ok() ? 0 : req->entries.size()},
                   {"Encrypted", encrypted},
                   {"RequestResponses", std::move(responses)}});
    };
    ctx.svc.store().append(std::move(request));
}

void write_batch(action_context& ctx, const delivery::delivery_snapshot& s, std::shared_ptr<void> owner,
                 const std::vector<std::string_view>& records) {
    std::size_t total = 0;
    for (auto data : records) total += data.size();
    if (total > max_batch_bytes) throw api_error::invalid_argument("Records size exceeds 4 MB limit");
    append(ctx, s, std::move(owner), records, true);
}

void put_record(action_context& ctx) {
    auto s = writable(ctx, ctx.key(ctx.input["DeliveryStreamName"].get<std::string>()));
    auto input = std::make_shared<json>(std::move(ctx.input));
    append(ctx, s, input, {bytes_of((*input)["Record"]["Data"])}, false);
}

void put_record_batch(action_context& ctx) {
    auto name = ctx.key(ctx.input["DeliveryStreamName"].get<std::string>());
    auto input = std::make_shared<json>(std::move(ctx.input));
    // Looked up before the records are read, as errors come in that order.
    auto s = writable(ctx, name);
    std::vector<std::string_view> records;
    for (auto& r : (*input)["Records"]) records.push_back(bytes_of(r["Data"]));
    write_batch(ctx, s, input, records);
}

// ---- the fast path: bodies that certainly pass validation as they are.

enum { member_name };
const codec::body_layout batch_layout{
    .members = {{"DeliveryStreamName"}}, .records = "Records", .record_members = {{"Data", true}}};
const codec::body_layout single_layout{
    .members = {{"DeliveryStreamName"}}, .record = "Record", .record_members = {{"Data", true}}};

// The records' data when every constraint of the shapes holds, else nullopt.
std::optional<std::vector<std::string_view>> valid_records(const codec::record_body& in, std::size_t max_records) {
    const auto& name = in.members[member_name];
    if (!name || name->size() > max_name_length || !patterns::firehose_name.matches(*name) || !in.has_records ||
        in.records.empty() || in.records.size() > max_records)
        return std::nullopt;
    std::vector<std::string_view> records;
    records.reserve(in.records.size());
    for (const auto& r : in.records) {
        if (!r[0] || std::int64_t(r[0]->size()) > max_record_bytes) return std::nullopt;
        records.push_back(*r[0]);
    }
    return records;
}

bool put_fast(action_context& ctx, std::string& body, bool batch) {
    auto in = std::make_shared<codec::record_body>();
    in->text = std::move(body);
    const auto& layout = batch ? batch_layout : single_layout;
    if (!codec::read_record_body(layout, *in)) {
        body = std::move(in->text);
        return false;
    }
    auto records = valid_records(*in, batch ? max_batch_records : 1);
    if (!records) {
        codec::restore_text(layout, *in);
        body = std::move(in->text);
        return false;
    }
    auto s = writable(ctx, ctx.key(*in->members[member_name]));
    if (batch)
        write_batch(ctx, s, std::move(in), *records);
    else
        append(ctx, s, std::move(in), *records, false);
    return true;
}

bool put_record_fast(action_context& ctx, std::string& body) { return put_fast(ctx, body, false); }
bool put_record_batch_fast(action_context& ctx, std::string& body) { return put_fast(ctx, body, true); }

}  // namespace

const action_entry firehose_put_record_action{"Firehose_20150804.PutRecord", &put_record_shape, put_record,
                                              put_record_fast};
const action_entry firehose_put_record_batch_action{"Firehose_20150804.PutRecordBatch", &put_record_batch_shape,
                                                    put_record_batch, put_record_batch_fast};

}  // namespace kinesd::actions
