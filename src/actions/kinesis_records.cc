// Writes: PutRecord and PutRecords. Records are routed here and handed to the
// storage writer; the reply is sent from its completion, i.e. only once the
// records are durable.
//
// A JSON body goes through codec::read_record_body first (a CBOR one through
// codec::read_cbor_record_body): no DOM, blobs decoded once into one buffer
// (CBOR blobs are read where they stand), the answer written straight in the
// request's format. Whatever
// that reader or the checks below are unsure about takes the general path
// (decode, validate, handler), which words every error; past the request's
// own validity both paths share the same code.
#include <chrono>
#include <cstring>
#include <thread>

#include <spdlog/spdlog.h>

#include "actions/handlers.h"
#include "actions/kinesis_common.h"
#include "actions/records_cbor.h"
#include "codec/cbor_record_body.h"
#include "codec/json_writer.h"
#include "codec/record_body.h"
#include "common/random.h"
#include "streams/encoding.h"

namespace kinesd::actions {

namespace {

using nlohmann::json;
using namespace kinesis;

constexpr std::int64_t model_max_data_bytes = 10485760;
constexpr std::size_t max_partition_key_length = 256;
constexpr std::size_t max_stream_name_length = 128;
constexpr std::size_t max_put_records_entries = 500;
// PutRecords: at most 5 MiB of data and partition keys per request.
constexpr std::size_t put_records_max_bytes = 5u << 20;

const field data_field{.name = "Data", .type = field_type::blob, .required = true, .min_length = 0,
                       .max_length = model_max_data_bytes};
const field partition_key_field{.name = "PartitionKey", .required = true, .min_length = 1,
                                .max_length = max_partition_key_length};
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
    {.name = "Records", .type = field_type::list, .required = true, .min_length = 1,
     .max_length = max_put_records_entries, .members = &put_records_entry_shape,
     .java_class = "com.amazonaws.kinesis.v20131202.PutRecordsRequestEntry"},
    members::stream_name(),
    members::stream_arn(),
};

// One record to write, wherever it was read from; the bytes belong to the
// request, which the put keeps alive until the answer.
struct record_in {
    std::string_view data;
    std::string_view partition_key;
    std::optional<std::string_view> explicit_hash_key;
};

// The stream must take writes (ACTIVE or UPDATING); AWS answers
// ResourceNotFoundException otherwise.
void require_writable(const action_context& ctx, const streams::stream_snapshot& s, const std::string& name) {
    if (!s) throw stream_not_found(ctx, name);
    auto status = s->status(ctx.now_ms);
    if (status != streams::stream_status::active && status != streams::stream_status::updating)
        throw stream_not_found(ctx, name);
}

// The rest of a put, once its stream is known.
using put_continuation =
    std::function<void(action_context&, const std::string& name, const streams::stream_snapshot&)>;

// Looks the stream up and runs `then`. On an I/O thread the lookup must not
// wait (a metadata change holds the registry across its synced write): when
// the registry is busy, the lookup and the rest of the put move to
// a worker, which answers any error itself.
void with_writable_stream(action_context& ctx, std::string name, put_continuation then) {
    if (!ctx.io_thread) {
        auto s = ctx.svc.find_stream_caught_up(name);
        require_writable(ctx, s, name);
        return then(ctx, name, s);
    }
    // A stream not known here may be one another front end just created:
    // catching up waits, so that too moves to a worker.
    bool busy = false;
    auto s = ctx.svc.streams().try_find(name, busy);
    if (!busy && s) {
        require_writable(ctx, s, name);
        return then(ctx, name, s);
    }
    ctx.svc.post([&svc = ctx.svc, format = ctx.format, reply = ctx.reply, now_ms = ctx.now_ms, name = std::move(name),
                  account = ctx.account_id, then = std::move(then)]() mutable {
        action_context worker{svc, format, {}, reply, now_ms, false, std::move(account)};
        try {
            auto s = svc.find_stream_caught_up(name);
            require_writable(worker, s, name);
            then(worker, name, s);
        } catch (const api_error& e) {
            reply->fail(e);
        } catch (const std::exception& e) {
            spdlog::error("put to {} failed: {}", name, e.what());
            reply->fail(api_error::internal());
        }
    });
}

uint128 hash_of(const streams::stream_state& s, const record_in& record) {
    // AUTO spreads records over the whole hash space and ignores the keys.
    if (s.distributes_automatically()) {
        uint128 h = 0;
        auto bytes = id_bytes(sizeof h);
        std::memcpy(&h, bytes.data(), sizeof h);
        return h;
    }
    if (record.explicit_hash_key) {
        auto v = parse_uint128(*record.explicit_hash_key);
        if (!v)
            throw api_error::invalid_argument(
                "Invalid ExplicitHashKey. ExplicitHashKey must be in the range: [0, 2^128-1]. Specified value was " +
                std::string(*record.explicit_hash_key));
        return *v;
    }
    return encoding::partition_hash(record.partition_key);
}

std::string_view bytes_of(const json& blob) {
    const auto& b = blob.get_binary();
    return {reinterpret_cast<const char*>(b.data()), b.size()};
}

// From a validated request: Data is binary, the strings are strings.
record_in record_of(json& record) {
    record_in r{bytes_of(record["Data"]), record["PartitionKey"].get_ref<const std::string&>(), std::nullopt};
    if (auto it = record.find("ExplicitHashKey"); it != record.end())
        r.explicit_hash_key = it->get_ref<const std::string&>();
    return r;
}

// `entry` is the 1-based position in PutRecords, 0 for PutRecord.
void check_record_size(const streams::stream_state& s, const record_in& record, std::size_t entry) {
    std::size_t size = record.data.size();
    std::size_t limit = s.max_record_bytes();
    if (size > limit) {
        std::string path = entry ? "records." + std::to_string(entry) + ".member.data" : "data";
        throw api_error::validation("1 validation error detected: Value 'java.nio.HeapByteBuffer[pos=0 lim=" +
                                    std::to_string(size) + " cap=" + std::to_string(size) + "]' at '" + path +
                                    "' failed to satisfy constraint: Member must have length less than or "
                                    "equal to " + std::to_string(limit));
    }
    if (size + record.partition_key.size() > limit)
        throw api_error::invalid_argument("Record size (data plus partition key) of " +
                                          std::to_string(size + record.partition_key.size()) +
                                          " bytes exceeds the maximum record size of " + std::to_string(limit) +
                                          " bytes for stream " + action_context::shown(s.name) + ".");
}

std::string throttled_message(const action_context& ctx, const streams::stream_state& s,
                              const streams::shard_state& shard) {
    return "Rate exceeded for shard " + encoding::shard_id(shard.index) + " in stream " + ctx.shown(s.name) + " under account " +
           ctx.account() + ".";
}

bool within_write_limit(const action_context& ctx, const streams::shard_state& shard, const record_in& record) {
    auto* limiter = ctx.svc.limiter();
    if (!limiter || !limiter->enabled()) return true;
    return limiter->try_write(shard.log->name, record.data.size() + record.partition_key.size());
}

// A full or failing disk is the server's trouble and passes: a 503 that
// SDKs retry, saying so. Anything else stays an internal failure.
api_error storage_failure(const storage::status& status) {
    if (status.is_unavailable())
        return api_error::service_unavailable(
            "Storage is full or unavailable; the records were not written. Retry later.");
    return api_error::internal();
}

std::string sequence_of(const streams::shard_state& shard, const storage::append_entry& e) {
    return encoding::sequence_number({shard.created_s, shard.index, e.counter, std::uint64_t(e.arrival_ms / 1000)});
}

// One put in flight: the records (one for PutRecord), which of them the
// throughput limiter refused, and where the answer goes. Routing happens in
// submit(), which runs again when a reshard closed a target shard between
// routing and writing: the records then go to the children, so a reshard
// never fails or loses a put.
struct pending_put {
    service& svc;
    std::string stream;
    std::shared_ptr<void> owner;  // keeps the records' bytes alive
    std::vector<record_in> records;
    std::vector<uint128> hashes;         // computed once; re-routing reuses them
    std::vector<std::string> throttled;  // non-empty: refused with this message
    std::shared_ptr<responder> reply;
    codec::wire_format format = codec::wire_format::json;
    bool batch = false;
    int attempt = 0;
    // When the handler took the put, for the latency figures (unset when
    // the stream keeps no metrics).
    std::chrono::steady_clock::time_point started{};
};

// A reshard can close a shard only so many times in a row; past this the
// put fails retryably instead of chasing the stream for ever.
constexpr int max_routing_attempts = 16;

// shard_id() of the few shards a put touches, each printed once.
class shard_ids {
public:
    const std::string& operator()(std::uint32_t index) {
        for (auto& [i, text] : cache_)
            if (i == index) return text;
        return cache_.emplace_back(index, encoding::shard_id(index)).second;
    }

private:
    std::vector<std::pair<std::uint32_t, std::string>> cache_;
};

// The answer as JSON text, members in the order the general encoder writes
// them (sorted), without building a value per record.
std::string put_records_json(const pending_put& put, const streams::stream_state& s,
                             const std::vector<const streams::shard_state*>& targets,
                             const std::vector<std::size_t>& entry_of, const storage::append_request& req) {
    std::size_t failed = 0;
    for (auto e : entry_of) failed += e == SIZE_MAX;
    std::string out;
    out.reserve(64 + entry_of.size() * 110);
    out.append("{\"EncryptionType\":");
    codec::write_json_string(s.encryption_type, out);
    out.append(",\"FailedRecordCount\":").append(std::to_string(failed)).append(",\"Records\":[");
    shard_ids ids;
    for (std::size_t r = 0; r < entry_of.size(); ++r) {
        if (r) out.push_back(',');
        if (entry_of[r] == SIZE_MAX) {
            out.append("{\"ErrorCode\":\"ProvisionedThroughputExceededException\",\"ErrorMessage\":");
            codec::write_json_string(put.throttled[r], out);
            out.push_back('}');
            continue;
        }
        out.append("{\"SequenceNumber\":\"")
            .append(sequence_of(*targets[r], req.entries[entry_of[r]]))
            .append("\",\"ShardId\":\"")
            .append(ids(targets[r]->index))
            .append("\"}");
    }
    out.append("]}");
    return out;
}

// The same answer in CBOR (records_cbor.h).
std::string put_records_cbor(const pending_put& put, const streams::stream_state& s,
                             const std::vector<const streams::shard_state*>& targets,
                             const std::vector<std::size_t>& entry_of, const storage::append_request& req) {
    std::size_t failed = 0;
    for (auto e : entry_of) failed += e == SIZE_MAX;
    std::string out;
    out.reserve(64 + entry_of.size() * 100);
    put_records_cbor_head(s.encryption_type, failed, entry_of.size(), out);
    shard_ids ids;
    for (std::size_t r = 0; r < entry_of.size(); ++r) {
        if (entry_of[r] == SIZE_MAX)
            put_records_cbor_failure("ProvisionedThroughputExceededException", put.throttled[r], out);
        else
            put_records_cbor_success(sequence_of(*targets[r], req.entries[entry_of[r]]), ids(targets[r]->index), out);
    }
    return out;
}

void answer(const pending_put& put, const streams::stream_state& s,
            const std::vector<const streams::shard_state*>& targets, const std::vector<std::size_t>& entry_of,
            const storage::append_request& req) {
    const bool as_json = put.format == codec::wire_format::json;
    if (put.batch)
        return put.reply->ok_encoded(as_json ? put_records_json(put, s, targets, entry_of, req)
                                             : put_records_cbor(put, s, targets, entry_of, req));
    const std::string sequence = sequence_of(*targets[0], req.entries[0]);
    const std::string shard = encoding::shard_id(targets[0]->index);
    if (!as_json) return put.reply->ok_encoded(put_record_cbor(s.encryption_type, sequence, shard));
    std::string out = "{\"EncryptionType\":";
    codec::write_json_string(s.encryption_type, out);
    out.append(",\"SequenceNumber\":\"").append(sequence).append("\",\"ShardId\":\"").append(shard).append("\"}");
    put.reply->ok_encoded(std::move(out));
}

// The stream's CloudWatch figures for a put that has its final answer:
// a handful of relaxed adds, once per request.
void count_put(const pending_put& put, const streams::stream_state& s, const std::vector<std::size_t>& entry_of,
               const storage::status& status) {
    auto* m = s.metrics.get();
    if (!m) return;
    std::size_t written = 0, bytes = 0;
    for (std::size_t r = 0; r < entry_of.size(); ++r)
        if (entry_of[r] != SIZE_MAX) {
            ++written;
            bytes += put.records[r].data.size();
        }
    if (status.ok()) {
        m->incoming_records.add(written);
        m->incoming_bytes.add(bytes);
    }
    if (!put.batch) {
        if (status.ok()) m->put_record_success.add();
        m->put_record_latency.observe_since(put.started);
        return;
    }
    m->put_records_total_records.add(put.records.size());
    (status.ok() ? m->put_records_successful_records : m->put_records_failed_records).add(written);
    if (status.ok() && written) m->put_records_success.add();
    m->put_records_latency.observe_since(put.started);
}

// The stream to route a put again with: read afresh from the store until a
// target of the last routing no longer shows open, waiting up to about a
// second for the front end that closed it to publish the change.
streams::stream_snapshot reroute_snapshot(const pending_put& put) {
    auto& registry = put.svc.streams();
    streams::stream_snapshot s;
    for (int i = 0; i < 40; ++i) {
        s = registry.reload(put.stream);
        if (!s) return s;
        bool routes_to_closed = false;
        for (std::size_t r = 0; r < put.records.size() && !routes_to_closed; ++r) {
            if (!put.throttled[r].empty()) continue;
            const auto* target = s->route(put.hashes[r]);
            routes_to_closed = target && target->log && target->log->closed.load();
        }
        if (!routes_to_closed) return s;
        std::this_thread::sleep_for(std::chrono::milliseconds(25));
    }
    return s;
}

void submit(std::shared_ptr<pending_put> put) {
    // Again after a shard refused the records as closed: on a store shared
    // with other front ends, the reshard may have been made by one of them
    // and not reached this registry yet. This runs on a worker.
    auto s = put->attempt == 0 ? put->svc.find_stream_caught_up(put->stream) : reroute_snapshot(*put);
    if (!s)
        return put->reply->fail(api_error::resource_not_found(
            "Stream " + std::string(service::name_of_key(put->stream)) + " under account " +
            std::string(put->svc.account_of_key(put->stream)) + " not found."));
    std::vector<const streams::shard_state*> targets(put->records.size(), nullptr);
    std::vector<std::size_t> entry_of(put->records.size(), SIZE_MAX);
    auto request = std::make_shared<storage::append_request>();
    request->entries.reserve(put->records.size());
    const bool encrypted = s->encryption_type == "KMS";
    for (std::size_t r = 0; r < put->records.size(); ++r) {
        if (!put->throttled[r].empty()) continue;
        const record_in& record = put->records[r];
        targets[r] = s->route(put->hashes[r]);
        if (!targets[r]) return put->reply->fail(api_error::internal());
        entry_of[r] = request->entries.size();
        request->entries.push_back({.shard = targets[r]->log.get(),
                                    .partition_key = record.partition_key,
                                    .data = record.data,
                                    .encrypted = encrypted});
    }
    request->owner = put->owner;
    auto* req = request.get();
    request->done = [put, s, targets = std::move(targets), entry_of = std::move(entry_of),
                     req](const storage::status& status) {
        if (status.is_aborted() && put->attempt + 1 < max_routing_attempts) {
            // This runs on an I/O thread (or the storage writer), which must
            // not wait for the registry: route again from a worker.
            ++put->attempt;
            put->svc.post([put] { submit(put); });
            return;
        }
        count_put(*put, *s, entry_of, status);
        if (!status.ok()) return put->reply->fail(storage_failure(status));
        answer(*put, *s, targets, entry_of, *req);
    };
    put->svc.store().append(std::move(request));
}

void write_one(action_context& ctx, const std::string& name, const streams::stream_snapshot& s,
               std::shared_ptr<void> owner, const record_in& record,
               std::optional<std::string_view> sequence_for_ordering) {
    check_record_size(*s, record, 0);
    uint128 hash = hash_of(*s, record);
    if (sequence_for_ordering) {
        // Ordering is already strict per shard (one writer hands out counters);
        // the number must still be one kinesd could have issued.
        auto text = *sequence_for_ordering;
        auto parsed = encoding::parse_sequence_number(text);
        if (!parsed || std::int64_t(parsed->arrival_s) * 1000 > ctx.now_ms + 1000)
            throw api_error::invalid_argument("ExclusiveMinimumSequenceNumber " + std::string(text) +
                                              " used in PutRecord on stream " + ctx.shown(name) + " under account " +
                                              ctx.account() + " is invalid.");
    }
    const auto* shard = s->route(hash);
    if (!shard) throw api_error::internal();
    if (!within_write_limit(ctx, *shard, record)) {
        if (s->metrics) s->metrics->write_throughput_exceeded.add();
        throw api_error::throughput_exceeded(throttled_message(ctx, *s, *shard));
    }

    auto put = std::make_shared<pending_put>(pending_put{
        ctx.svc, name, std::move(owner), {record}, {hash}, {std::string()}, ctx.reply, ctx.format});
    if (s->metrics) put->started = std::chrono::steady_clock::now();
    submit(std::move(put));
}

void write_batch(action_context& ctx, const std::string& name, const streams::stream_snapshot& s,
                 std::shared_ptr<void> owner, std::vector<record_in> records) {
    std::size_t total = 0;
    for (std::size_t i = 0; i < records.size(); ++i) {
        check_record_size(*s, records[i], i + 1);
        total += records[i].data.size() + records[i].partition_key.size();
    }
    if (total > put_records_max_bytes)
        throw api_error::invalid_argument("Records size exceeds 5 MB limit");

    // Records over their shard's limit fail on their own, inside a 200, as
    // on AWS; the rest are written.
    auto put = std::make_shared<pending_put>(
        pending_put{ctx.svc, name, std::move(owner), std::move(records), {}, {}, ctx.reply, ctx.format, true});
    const auto& rs = put->records;
    put->hashes.reserve(rs.size());
    put->throttled.resize(rs.size());
    // An invalid ExplicitHashKey fails the whole call before anything is written.
    for (const auto& record : rs) put->hashes.push_back(hash_of(*s, record));
    std::size_t throttled = 0;
    for (std::size_t r = 0; r < rs.size(); ++r) {
        const auto* shard = s->route(put->hashes[r]);
        if (!shard) throw api_error::internal();
        if (!within_write_limit(ctx, *shard, rs[r])) {
            put->throttled[r] = throttled_message(ctx, *s, *shard);
            ++throttled;
        }
    }
    if (auto* m = s->metrics.get()) {
        put->started = std::chrono::steady_clock::now();
        if (throttled) {
            m->put_records_throttled_records.add(throttled);
            m->write_throughput_exceeded.add(throttled);
        }
    }
    submit(std::move(put));
}

void put_record(action_context& ctx) {
    auto name = stream_name_of(ctx);
    auto input = std::make_shared<json>(std::move(ctx.input));
    auto record = record_of(*input);
    std::optional<std::string_view> ordering;
    if (auto it = input->find("SequenceNumberForOrdering"); it != input->end())
        ordering = it->get_ref<const std::string&>();
    with_writable_stream(ctx, std::move(name),
                         [input, record, ordering](action_context& c, const std::string& name,
                                                   const streams::stream_snapshot& s) {
                             write_one(c, name, s, input, record, ordering);
                         });
}

void put_records(action_context& ctx) {
    auto name = stream_name_of(ctx);
    auto input = std::make_shared<json>(std::move(ctx.input));
    auto& entries = (*input)["Records"];
    std::vector<record_in> records;
    records.reserve(entries.size());
    for (auto& record : entries) records.push_back(record_of(record));
    with_writable_stream(ctx, std::move(name),
                         [input, records = std::move(records)](action_context& c, const std::string& name,
                                                               const streams::stream_snapshot& s) mutable {
                             write_batch(c, name, s, input, std::move(records));
                         });
}

// ---- the fast path: bodies that certainly pass validation as they are.

// Constraints of the shapes above, for the plain ASCII values the readers
// accept (where a length in characters is a length in bytes).
bool valid_stream_name(std::string_view name) {
    return name.size() <= max_stream_name_length && patterns::stream_name.matches(name);
}

// A missing PartitionKey passes here; the callers decide whether it may be
// missing (see partition_key_rule).
bool valid_record(const std::optional<std::string_view>& data, const std::optional<std::string_view>& key,
                  const std::optional<std::string_view>& hash_key) {
    return data && std::int64_t(data->size()) <= model_max_data_bytes && (!key || !key->empty()) &&
           (!key || key->size() <= max_partition_key_length) && (!hash_key || patterns::hash_key.matches(*hash_key));
}

// Records may leave PartitionKey out only on a stream that places them
// itself (AUTO record distribution). Elsewhere the general path answers
// with the shape's ValidationException, as before. When the registry is
// busy the question waits for the write's own lookup (missing_key_error).
enum class key_rule { required, optional, undecided };
key_rule partition_key_rule(action_context& ctx, const std::string& key) {
    bool busy = false;
    auto s = ctx.io_thread ? ctx.svc.streams().try_find(key, busy) : ctx.svc.streams().find(key);
    if (busy) return key_rule::undecided;
    return s && s->distributes_automatically() ? key_rule::optional : key_rule::required;
}

// The shape's answer to missing PartitionKeys (1-based record positions,
// empty for PutRecord), for a stream found not to be AUTO after all.
api_error missing_key_error(const std::vector<std::size_t>& positions) {
    std::vector<std::string> items;
    auto item = [](const std::string& path) {
        return "Value null at '" + path + "' failed to satisfy constraint: Member must not be null";
    };
    if (positions.empty()) items.push_back(item("partitionKey"));
    for (auto p : positions)
        if (items.size() < 10) items.push_back(item("records." + std::to_string(p) + ".member.partitionKey"));
    std::string message = std::to_string(items.size()) +
                          (items.size() == 1 ? " validation error detected: " : " validation errors detected: ");
    for (std::size_t i = 0; i < items.size(); ++i) message += (i ? "; " : "") + items[i];
    return api_error::validation(std::move(message));
}

// Layout positions: members first, then record members.
enum { put_records_stream_name, put_records_stream_arn };
enum { entry_data, entry_partition_key, entry_explicit_hash_key };
const codec::body_layout put_records_layout{
    .members = {{"StreamName"}, {"StreamARN"}},
    .records = "Records",
    .record_members = {{"Data", true}, {"PartitionKey"}, {"ExplicitHashKey"}},
};

enum { put_record_stream_name, put_record_data, put_record_partition_key, put_record_explicit_hash_key,
       put_record_ordering, put_record_stream_arn };
const codec::body_layout put_record_layout{
    .members = {{"StreamName"}, {"Data", true}, {"PartitionKey"}, {"ExplicitHashKey"},
                {"SequenceNumberForOrdering"}, {"StreamARN"}},
};

// Reads the body into a record_body it owns, or gives the body back untouched.
std::shared_ptr<codec::record_body> read_body(const codec::body_layout& layout, codec::wire_format format,
                                              std::string& body) {
    auto in = std::make_shared<codec::record_body>();
    in->text = std::move(body);
    const bool read = format == codec::wire_format::json ? codec::read_record_body(layout, *in)
                                                         : codec::read_cbor_record_body(layout, *in);
    if (read) return in;
    body = std::move(in->text);
    return nullptr;
}

// Hands a body that was read but will not be taken after all back to the
// general path, as it came in.
bool give_back(const codec::body_layout& layout, codec::wire_format format, codec::record_body& in,
               std::string& body) {
    if (format == codec::wire_format::json) codec::restore_text(layout, in);
    body = std::move(in.text);
    return false;
}

bool put_records_fast(action_context& ctx, std::string& body) {
    auto in = read_body(put_records_layout, ctx.format, body);
    if (!in) return false;
    const auto& name = in->members[put_records_stream_name];
    bool valid = name && !in->members[put_records_stream_arn] && valid_stream_name(*name) && in->has_records &&
                 !in->records.empty() && in->records.size() <= max_put_records_entries;
    std::vector<std::size_t> keyless;  // 1-based positions
    for (std::size_t i = 0; valid && i < in->records.size(); ++i) {
        const auto& r = in->records[i];
        valid = valid_record(r[entry_data], r[entry_partition_key], r[entry_explicit_hash_key]);
        if (!r[entry_partition_key]) keyless.push_back(i + 1);
    }
    if (valid && !keyless.empty() && partition_key_rule(ctx, ctx.key(*name)) == key_rule::required) valid = false;
    if (!valid) return give_back(put_records_layout, ctx.format, *in, body);
    std::vector<record_in> records;
    records.reserve(in->records.size());
    for (const auto& r : in->records)
        records.push_back({*r[entry_data], r[entry_partition_key].value_or(std::string_view()),
                           r[entry_explicit_hash_key]});
    with_writable_stream(ctx, ctx.key(*name),
                         [in = std::move(in), records = std::move(records), keyless = std::move(keyless)](
                             action_context& c, const std::string& name, const streams::stream_snapshot& s) mutable {
                             if (!keyless.empty() && !s->distributes_automatically()) throw missing_key_error(keyless);
                             write_batch(c, name, s, std::move(in), std::move(records));
                         });
    return true;
}

bool put_record_fast(action_context& ctx, std::string& body) {
    auto in = read_body(put_record_layout, ctx.format, body);
    if (!in) return false;
    const auto& m = in->members;
    const auto& name = m[put_record_stream_name];
    if (!name || m[put_record_stream_arn] || !valid_stream_name(*name) ||
        !valid_record(m[put_record_data], m[put_record_partition_key], m[put_record_explicit_hash_key]) ||
        (m[put_record_ordering] && !patterns::sequence_number.matches(*m[put_record_ordering])))
        return give_back(put_record_layout, ctx.format, *in, body);
    const bool keyless = !m[put_record_partition_key];
    if (keyless && partition_key_rule(ctx, ctx.key(*name)) == key_rule::required)
        return give_back(put_record_layout, ctx.format, *in, body);
    record_in record{*m[put_record_data], m[put_record_partition_key].value_or(std::string_view()),
                     m[put_record_explicit_hash_key]};
    auto ordering = m[put_record_ordering];
    with_writable_stream(ctx, ctx.key(*name),
                         [in = std::move(in), record, ordering, keyless](
                             action_context& c, const std::string& name, const streams::stream_snapshot& s) {
                             if (keyless && !s->distributes_automatically()) throw missing_key_error({});
                             write_one(c, name, s, in, record, ordering);
                         });
    return true;
}

}  // namespace

// Neither waits: the stream lookup moves to a worker when it would (see
// with_writable_stream) and the write is queued to the storage writer.
const action_entry put_record_action{"Kinesis_20131202.PutRecord", &put_record_shape, put_record, put_record_fast,
                                     true, put_record_fast};
const action_entry put_records_action{"Kinesis_20131202.PutRecords", &put_records_shape, put_records,
                                      put_records_fast, true, put_records_fast};

}  // namespace kinesd::actions
