#include "delivery/lambda_processor.h"

#include <set>
#include <stdexcept>
#include <unordered_map>

#include "common/base64.h"
#include "functions/function_registry.h"
#include "functions/invoker.h"
#include "streams/encoding.h"

namespace kinesd::delivery {

namespace {

using json = nlohmann::json;

// Parameters a Lambda processor takes; the model allows more names, which
// belong to other processor types.
const std::set<std::string> lambda_parameters = {"LambdaArn", "NumberOfRetries", "RoleArn", "BufferSizeInMBs",
                                                 "BufferIntervalInSeconds"};

bool parse_int(const std::string& text, long long& out) {
    if (text.empty() || text.size() > 9 || text.find_first_not_of("0123456789") != std::string::npos) return false;
    out = std::stoll(text);
    return true;
}

bool parse_decimal(const std::string& text, double& out) {
    if (text.empty() || text.size() > 12 || text.find_first_not_of("0123456789.") != std::string::npos ||
        text.front() == '.' || text.back() == '.' || text.find('.') != text.rfind('.'))
        return false;
    out = std::stod(text);
    return true;
}

std::map<std::string, std::string> parameters_of(const json& processor) {
    std::map<std::string, std::string> out;
    for (auto& p : processor.value("Parameters", json::array())) {
        auto name = p.value("ParameterName", std::string());
        if (out.contains(name))
            throw std::invalid_argument("Duplicate ProcessorParameter " + name + " for processor type " +
                                        processor.value("Type", std::string()) + ".");
        out[name] = p.value("ParameterValue", std::string());
    }
    return out;
}

lambda_settings settings_from(const std::map<std::string, std::string>& params) {
    lambda_settings s;
    auto arn = params.find("LambdaArn");
    if (arn == params.end())
        throw std::invalid_argument("ProcessorParameter LambdaArn is required for processor type Lambda.");
    auto ref = functions::parse_function_name(arn->second);
    if (!ref || ref->region.empty())
        throw std::invalid_argument("Invalid ProcessorParameter LambdaArn: " + arn->second +
                                    " is not the ARN of a Lambda function.");
    s.lambda_arn = arn->second;
    for (auto& [name, value] : params) {
        long long n = 0;
        double d = 0;
        if (!lambda_parameters.contains(name))
            throw std::invalid_argument("ProcessorParameter " + name + " is not valid for processor type Lambda.");
        if (name == "NumberOfRetries") {
            if (!parse_int(value, n) || n > 300)
                throw std::invalid_argument("ProcessorParameter NumberOfRetries must be an integer between 0 and 300.");
            s.retries = int(n);
        } else if (name == "BufferSizeInMBs") {
            if (!parse_decimal(value, d) || d < 0.2 || d > 3)
                throw std::invalid_argument("ProcessorParameter BufferSizeInMBs must be a number between 0.2 and 3.");
            s.buffer_bytes = std::size_t(d * (1u << 20));
        } else if (name == "BufferIntervalInSeconds") {
            if (!parse_int(value, n) || n > 900)
                throw std::invalid_argument(
                    "ProcessorParameter BufferIntervalInSeconds must be an integer between 0 and 900.");
            s.buffer_interval_ms = n * 1000;
        } else if (name == "RoleArn") {
            if (!value.starts_with("arn:") || value.find(":iam::") == std::string::npos)
                throw std::invalid_argument("Invalid ProcessorParameter RoleArn: " + value + ".");
            s.role_arn = value;
        }
    }
    return s;
}

const json* enabled_processors(const json& destination) {
    auto it = destination.find("ProcessingConfiguration");
    if (it == destination.end() || !it->is_object() || !it->value("Enabled", true)) return nullptr;
    auto p = it->find("Processors");
    return p == it->end() || !p->is_array() ? nullptr : &*p;
}

std::string shorten(std::string text) {
    if (text.size() > 1024) text.resize(1024);
    return text;
}

// The failure of a whole invocation, as the error document names it.
struct invocation_failure {
    std::string code;
    std::string message;
    bool retryable = true;
};

invocation_failure failure_of(const functions::invoke_result& r) {
    using functions::invoke_outcome;
    switch (r.outcome) {
        case invoke_outcome::function_error: {
            std::string message = r.body;
            auto j = json::parse(r.body, nullptr, false);
            if (j.is_object() && j.contains("errorMessage") && j["errorMessage"].is_string())
                message = j.value("errorType", std::string("Error")) + ": " + j["errorMessage"].get<std::string>();
            bool timed_out = r.body.starts_with("Task timed out") ||
                             message.find("Task timed out") != std::string::npos;
            return {timed_out ? "Lambda.FunctionTimedOut" : "Lambda.FunctionError", shorten(message)};
        }
        case invoke_outcome::throttled: return {"Lambda.InvokeLimitExceeded", shorten(r.message + " " + r.body)};
        case invoke_outcome::timeout: return {"Lambda.FunctionTimedOut", r.message};
        case invoke_outcome::not_found:
            return {"Lambda.ResourceNotFound", r.message, false};
        case invoke_outcome::request_error:
            return {"Lambda.InvalidRequest", shorten(r.message + " " + r.body), false};
        default: return {"Lambda.ServiceUnavailable", shorten(r.message + " " + r.body)};
    }
}

std::string error_document(const source_record& r, int attempts, const std::string& code, const std::string& message,
                           std::int64_t ended_ms, const std::string& lambda_arn) {
    json doc = {{"attemptsMade", attempts},
                {"arrivalTimestamp", r.arrival_ms},
                {"errorCode", code},
                {"errorMessage", message},
                {"attemptEndingTimestamp", ended_ms},
                {"rawData", base64::encode(r.data)},
                {"lambdaArn", lambda_arn}};
    return doc.dump(-1, ' ', false, json::error_handler_t::replace) + "\n";
}

// Roughly how many bytes a record adds to the request.
std::size_t request_cost(const source_record& r) {
    return base64::encoded_size(r.data.size()) + 96 +
           (r.from_stream ? 200 + r.partition_key.size() * 2 + r.shard_id.size() : 0);
}

}  // namespace

std::optional<lambda_settings> lambda_settings_of(const json& destination) {
    const json* processors = enabled_processors(destination);
    if (!processors) return std::nullopt;
    for (auto& p : *processors)
        if (p.value("Type", std::string()) == "Lambda") {
            try {
                return settings_from(parameters_of(p));
            } catch (const std::invalid_argument&) {
                return std::nullopt;  // refused when it was set; not reached
            }
        }
    return std::nullopt;
}

void validate_processing_configuration(const json& processing) {
    if (!processing.is_object()) return;
    std::set<std::string> types;
    for (auto& p : processing.value("Processors", json::array())) {
        auto type = p.value("Type", std::string());
        if (!types.insert(type).second)
            throw std::invalid_argument("Duplicate processor type " + type + " in ProcessingConfiguration.");
        auto params = parameters_of(p);
        if (type == "Lambda") settings_from(params);
    }
    if (processing.value("Enabled", true) && processing.contains("Processors") && processing["Processors"].empty())
        throw std::invalid_argument("ProcessingConfiguration is enabled but has no Processors.");
}

std::string build_request(const transform_context& ctx, const std::string& invocation_id,
                          const std::vector<source_record>& records, std::size_t first, std::size_t last,
                          const std::vector<std::string>& ids) {
    json list = json::array();
    for (std::size_t i = first; i < last; ++i) {
        const auto& r = records[i];
        json item = {{"recordId", ids[i - first]},
                     {"approximateArrivalTimestamp", r.arrival_ms},
                     {"data", base64::encode(r.data)}};
        if (r.from_stream)
            item["kinesisRecordMetadata"] = {{"shardId", r.shard_id},
                                             {"partitionKey", r.partition_key},
                                             {"approximateArrivalTimestamp", r.arrival_ms},
                                             {"sequenceNumber", r.sequence_number},
                                             {"subsequenceNumber", r.subsequence_number}};
        list.push_back(std::move(item));
    }
    json event = {{"invocationId", invocation_id}, {"deliveryStreamArn", ctx.delivery_stream_arn}};
    if (!ctx.source_stream_arn.empty()) event["sourceKinesisStreamArn"] = ctx.source_stream_arn;
    event["region"] = ctx.region;
    event["records"] = std::move(list);
    return event.dump(-1, ' ', false, json::error_handler_t::replace);
}

parsed_answer parse_answer(const std::string& body, const std::vector<std::string>& ids) {
    parsed_answer out;
    auto fail = [&](std::string code, std::string message) {
        out.error_code = std::move(code);
        out.error_message = std::move(message);
        out.records.clear();
        return out;
    };
    auto j = json::parse(body, nullptr, false);
    if (!j.is_object() || !j.contains("records") || !j["records"].is_array())
        return fail("Lambda.JsonProcessingException", "The function's answer is not an object with a records list: " +
                                                          shorten(body));
    std::unordered_map<std::string, std::size_t> position;
    for (std::size_t i = 0; i < ids.size(); ++i) position[ids[i]] = i;
    std::vector<bool> seen(ids.size(), false);
    out.records.resize(ids.size());
    for (auto& item : j["records"]) {
        if (!item.is_object() || !item.contains("recordId") || !item["recordId"].is_string())
            return fail("Lambda.MissingRecordId", "A record of the function's answer has no recordId.");
        auto id = item["recordId"].get<std::string>();
        auto at = position.find(id);
        if (at == position.end())
            return fail("Lambda.MissingRecordId", "The function's answer names recordId " + shorten(id) +
                                                      ", which was not in the request.");
        if (seen[at->second])
            return fail("Lambda.DuplicatedRecordId", "The function's answer repeats recordId " + id + ".");
        seen[at->second] = true;
        auto& rec = out.records[at->second];
        auto result = item.value("result", json()).is_string() ? item["result"].get<std::string>() : std::string();
        if (result == "Ok") {
            rec.outcome = record_answer::result::ok;
            if (!item.contains("data") || !item["data"].is_string() ||
                !base64::decode(item["data"].get<std::string>(), rec.data))
                return fail("Lambda.InvalidData", "The data of recordId " + id + " is not base64.");
        } else if (result == "Dropped") {
            rec.outcome = record_answer::result::dropped;
        } else if (result == "ProcessingFailed") {
            rec.outcome = record_answer::result::processing_failed;
        } else {
            return fail("Lambda.InvalidResult", "recordId " + id + " has result '" + shorten(result) +
                                                    "' (Ok, Dropped or ProcessingFailed).");
        }
        if (auto m = item.find("metadata"); m != item.end() && m->is_object()) {
            if (auto k = m->find("partitionKeys"); k != m->end() && k->is_object())
                for (auto& [key, value] : k->items())
                    rec.partition_keys[key] = value.is_string() ? value.get<std::string>() : value.dump();
        }
    }
    for (std::size_t i = 0; i < ids.size(); ++i)
        if (!seen[i]) return fail("Lambda.MissingRecordId", "The function's answer has no record " + ids[i] + ".");
    return out;
}

transform_result transform(const transform_context& ctx, const lambda_settings& settings,
                           const std::vector<source_record>& records) {
    transform_result out;
    // Invocations of at most BufferSizeInMBs of data and within Lambda's
    // payload limit; every invocation has at least one record.
    std::size_t first = 0;
    while (first < records.size()) {
        std::size_t last = first, data = 0, cost = 512;
        while (last < records.size()) {
            auto extra = request_cost(records[last]);
            if (last > first && (data + records[last].data.size() > settings.buffer_bytes ||
                                 cost + extra > max_invoke_payload))
                break;
            data += records[last].data.size();
            cost += extra;
            ++last;
        }
        std::vector<std::string> ids;
        ids.reserve(last - first);
        for (std::size_t i = first; i < last; ++i) ids.push_back(ctx.new_id());

        parsed_answer answer;
        invocation_failure failure;
        int attempts = 0;
        for (;;) {
            ++attempts;
            ++out.invocations;
            auto payload = build_request(ctx, ctx.new_id(), records, first, last, ids);
            auto r = ctx.invoker
                         ? ctx.invoker->invoke(settings.lambda_arn, payload,
                                               std::chrono::milliseconds(ctx.invoke_timeout_ms))
                         : functions::invoke_result{functions::invoke_outcome::not_found, 0, {}, {},
                                                    "no functions are configured"};
            if (r.ok()) {
                answer = parse_answer(r.body, ids);
                if (answer.error_code.empty()) break;
                failure = {answer.error_code, answer.error_message, true};
            } else {
                failure = failure_of(r);
            }
            if (!failure.retryable || attempts > settings.retries) break;
        }
        const auto ended = ctx.now_ms();
        if (!answer.error_code.empty() || answer.records.size() != last - first) {
            for (std::size_t i = first; i < last; ++i)
                out.error_documents +=
                    error_document(records[i], attempts, failure.code, failure.message, ended, settings.lambda_arn);
            out.failed += last - first;
        } else {
            for (std::size_t i = first; i < last; ++i) {
                auto& a = answer.records[i - first];
                switch (a.outcome) {
                    case record_answer::result::ok:
                        out.records.push_back({std::move(a.data), std::move(a.partition_keys)});
                        break;
                    case record_answer::result::dropped: ++out.dropped; break;
                    case record_answer::result::processing_failed:
                        out.error_documents += error_document(records[i], attempts, "Lambda.ProcessingFailedStatus",
                                                              "The function reported ProcessingFailed for this record.",
                                                              ended, settings.lambda_arn);
                        ++out.failed;
                        break;
                }
            }
        }
        first = last;
    }
    return out;
}

void batch_transform::run(std::string& body) {
    if (done) return;
    auto result = transform(ctx, settings, sources);
    body.clear();
    partition_keys.clear();
    for (auto& r : result.records) {
        body += r.data;
        if (append_newline) body.push_back('\n');
        partition_keys.push_back(std::move(r.partition_keys));
    }
    delivered = result.records.size();
    error_documents = std::move(result.error_documents);
    sources = {};
    done = true;
}

bool batch_transform::run_and_write_errors(std::string& body, s3_client& s3, const std::string& bucket,
                                           s3_result& result) {
    run(body);
    if (error_documents.empty() || errors_written) return true;
    result = s3.put_object(bucket, failed_key, error_documents, "application/octet-stream", "");
    if (!result.ok()) return false;
    errors_written = true;
    return true;
}

void collect_sources(std::vector<source_record>& out, bool from_stream, std::uint32_t shard_index,
                     std::uint64_t shard_created_s, std::uint64_t counter, std::int64_t arrival_ms,
                     std::string_view partition_key, const std::vector<std::string_view>& parts) {
    std::string sequence;
    if (from_stream)
        sequence = encoding::sequence_number({shard_created_s, shard_index, counter, std::uint64_t(arrival_ms / 1000)});
    for (std::size_t i = 0; i < parts.size(); ++i) {
        source_record r;
        r.data = parts[i];
        r.arrival_ms = arrival_ms;
        if (from_stream) {
            r.from_stream = true;
            r.shard_id = encoding::shard_id(shard_index);
            r.partition_key = partition_key;
            r.sequence_number = sequence;
            r.subsequence_number = i;
        }
        out.push_back(std::move(r));
    }
}

}  // namespace kinesd::delivery
