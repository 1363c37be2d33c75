#include "lambda/lambda_api.h"

#include <boost/asio/post.hpp>
#include <spdlog/spdlog.h>

#include <algorithm>

#include "common/random.h"
#include "lambda/mapping_params.h"

namespace kinesd::lambda {

namespace {

constexpr std::string_view base_path = "/2015-03-31/event-source-mappings";

using query_list = std::vector<std::pair<std::string, std::string>>;

std::string percent_decode(std::string_view s) {
    std::string out;
    out.reserve(s.size());
    for (std::size_t i = 0; i < s.size(); ++i) {
        if (s[i] == '%' && i + 2 < s.size() && std::isxdigit(static_cast<unsigned char>(s[i + 1])) &&
            std::isxdigit(static_cast<unsigned char>(s[i + 2]))) {
            out.push_back(char(std::stoi(std::string(s.substr(i + 1, 2)), nullptr, 16)));
            i += 2;
        } else if (s[i] == '+') {
            out.push_back(' ');
        } else {
            out.push_back(s[i]);
        }
    }
    return out;
}

query_list parse_query(std::string_view q) {
    query_list out;
    while (!q.empty()) {
        auto amp = q.find('&');
        auto pair = q.substr(0, amp);
        auto eq = pair.find('=');
        if (!pair.empty())
            out.emplace_back(percent_decode(pair.substr(0, eq)),
                             eq == std::string_view::npos ? std::string() : percent_decode(pair.substr(eq + 1)));
        if (amp == std::string_view::npos) break;
        q.remove_prefix(amp + 1);
    }
    return out;
}

const std::string* query_value(const query_list& q, std::string_view name) {
    for (const auto& [n, v] : q)
        if (n == name) return &v;
    return nullptr;
}

http::reply json_reply(unsigned status, const nlohmann::json& body) {
    http::reply r;
    r.status = status;
    r.headers.emplace_back("Content-Type", "application/json");
    r.headers.emplace_back("x-amzn-RequestId", id_uuid());
    r.body = body.dump();
    return r;
}

http::reply error_reply(const api_error& e) {
    http::reply r;
    r.status = e.status();
    r.headers.emplace_back("Content-Type", "application/json");
    r.headers.emplace_back("x-amzn-RequestId", id_uuid());
    r.headers.emplace_back("X-Amzn-ErrorType", e.type());
    // Lambda's error documents carry "Type" (User, or Service for its own
    // faults) and the message under the member name its model gives the
    // error: "Message" for some, "message" for others. ValidationException
    // comes from the front end with "message" only.
    const auto& type = e.type();
    const bool capital = type == "ResourceNotFoundException" || type == "ResourceInUseException" ||
                         type == "ServiceException";
    nlohmann::json body = {{capital ? "Message" : "message", e.message()}};
    if (type != "ValidationException") body["Type"] = type == "ServiceException" ? "Service" : "User";
    r.body = body.dump();
    return r;
}

api_error mapping_not_found() { return not_found("The resource you requested does not exist."); }

}  // namespace

bool lambda_api::handles(const http::request& req) const {
    std::string_view p = req.path;
    return p.starts_with(base_path) && (p.size() == base_path.size() || p[base_path.size()] == '/' ||
                                        p[base_path.size()] == '?');
}

void lambda_api::serve(http::request req, http::reply_handler done) {
    boost::asio::post(workers_, [this, req = std::move(req), done = std::move(done)]() mutable { done(process(req)); });
}

http::reply lambda_api::process(const http::request& req) {
    std::string_view path = req.path;
    std::string_view query;
    if (auto q = path.find('?'); q != std::string_view::npos) {
        query = path.substr(q + 1);
        path = path.substr(0, q);
    }
    std::string uuid(path.substr(std::min(path.size(), base_path.size())));
    while (!uuid.empty() && uuid.front() == '/') uuid.erase(0, 1);
    while (!uuid.empty() && uuid.back() == '/') uuid.pop_back();
    uuid = percent_decode(uuid);
    const char* action = req.method == "POST"   ? "CreateEventSourceMapping"
                         : req.method == "PUT"    ? "UpdateEventSourceMapping"
                         : req.method == "DELETE" ? "DeleteEventSourceMapping"
                         : uuid.empty()           ? "ListEventSourceMappings"
                                                  : "GetEventSourceMapping";
    std::optional<auth::audit_entry> audit;
    if (audit_) {
        audit.emplace();
        audit->action = action;
        if (!uuid.empty())
            audit->resource = "arn:aws:lambda:" + settings_.region + ":" + settings_.account_id +
                              ":event-source-mapping:" + uuid;
    }
    auto answer = [&](http::reply r, const std::string& result) {
        if (audit) {
            audit->time_ms = mappings_.clock().now_ms();
            audit->result = result;
            audit_->record(std::move(*audit));
        }
        return r;
    };
    try {
        std::string account = settings_.account_id;
        if (verifier_) {
            auto verdict = verifier_->verify(req, std::chrono::system_clock::now());
            if (verdict.error) {
                if (audit && !verdict.claimed_access_key.empty()) audit->access_key = verdict.claimed_access_key;
                throw *verdict.error;
            }
            account = verdict.key->account_id;
            if (audit) audit->access_key = verdict.key->access_key;
        }
        if (audit) audit->account = account;
        nlohmann::json in = nlohmann::json::object();
        if (!req.body.empty()) {
            in = nlohmann::json::parse(req.body, nullptr, false);
            if (in.is_discarded() || !in.is_object())
                throw api_error(400, "InvalidRequestContentException", "Could not parse request body into json.");
        }
        if (req.method == "POST" && uuid.empty()) {
            auto created = create(in, account);
            if (audit) audit->resource = created.value("EventSourceMappingArn", "");
            return answer(json_reply(202, created), "ok");
        }
        if (req.method == "GET" && uuid.empty()) return answer(json_reply(200, list(parse_query(query), account)), "ok");
        if (req.method == "GET") return answer(json_reply(200, get(uuid, account)), "ok");
        if (req.method == "PUT" && !uuid.empty()) return answer(json_reply(202, update(uuid, in, account)), "ok");
        if (req.method == "DELETE" && !uuid.empty()) return answer(json_reply(202, remove(uuid, account)), "ok");
        throw api_error(404, "UnknownOperationException", "Unknown operation " + req.method + " " + std::string(path));
    } catch (const api_error& e) {
        return answer(error_reply(e), e.type());
    } catch (const std::exception& e) {
        spdlog::error("lambda {} {} failed: {}", req.method, req.path, e.what());
        return answer(error_reply(api_error(500, "ServiceException", "Internal error")), "ServiceException");
    }
}

void lambda_api::resolve_function(const std::string& given, const std::string& account, mapping& m) const {
    auto ref = functions::parse_function_name(given);
    if (!ref)
        throw api_error::validation("1 validation error detected: Value '" + given +
                                    "' at 'functionName' failed to satisfy constraint: Member must satisfy regular "
                                    "expression pattern: (arn:(aws[a-zA-Z-]*)?:lambda:)?([a-z]{2}(-gov)?-[a-z]+-\\d{1}:)?"
                                    "(\\d{12}:)?(function:)?([a-zA-Z0-9-_]+)(:(\\$LATEST|[a-zA-Z0-9-_]+))?");
    std::string arn = "arn:aws:lambda:" + (ref->region.empty() ? settings_.region : ref->region) + ":" +
                      (ref->account.empty() ? account : ref->account) + ":function:" + ref->name;
    if (!ref->qualifier.empty()) arn += ":" + ref->qualifier;
    // Lambda answers an unknown function with its full ARN.
    const auto resolved = settings_.functions ? settings_.functions->resolve(given) : std::nullopt;
    if (!resolved) throw not_found("Function not found: " + arn);
    m.function_name = resolved->name;
    m.function_arn = resolved->arn + (resolved->qualifier.empty() ? "" : ":" + resolved->qualifier);
}

void lambda_api::check_source(mapping& m, const std::string& account) const {
    const auto& arn = m.event_source_arn;
    // arn:aws:kinesis:<region>:<account>:stream/<name>[/consumer/<name>:<ts>]
    std::vector<std::string> parts;
    std::size_t start = 0;
    for (int i = 0; i < 5; ++i) {
        auto colon = arn.find(':', start);
        if (colon == std::string::npos) break;
        parts.push_back(arn.substr(start, colon - start));
        start = colon + 1;
    }
    const std::string rest = start < arn.size() ? arn.substr(start) : std::string();
    if (parts.size() != 5 || parts[0] != "arn" || parts[2] != "kinesis" || !rest.starts_with("stream/"))
        throw invalid_parameter("Unrecognized event source, must be kinesis, dynamodb stream or sqs. Unsupported "
                                "source arn : " + arn);
    std::string stream = rest.substr(7), consumer;
    if (auto c = stream.find("/consumer/"); c != std::string::npos) {
        consumer = stream.substr(c + 10);
        consumer = consumer.substr(0, consumer.find(':'));
        stream = stream.substr(0, c);
    }
    const std::string owner = parts[4].empty() ? account : parts[4];
    const std::string key = owner == settings_.account_id ? stream : owner + "/" + stream;
    auto s = streams_.find(key);
    if (!s || s->status(streams_.clock().now_ms()) == streams::stream_status::deleting)
        throw invalid_parameter("Stream not found: " + arn);
    if (!consumer.empty() && std::none_of(s->consumers.begin(), s->consumers.end(), [&](const auto& c) {
            return c.name == consumer && !c.deleting_since_ms;
        }))
        throw invalid_parameter("Consumer not found: " + arn);
    m.account = owner;
    m.region = parts[3].empty() ? settings_.region : parts[3];
}

nlohmann::json lambda_api::create(const nlohmann::json& in, const std::string& account) {
    mapping m;
    auto fn = in.find("FunctionName");
    if (fn == in.end() || !fn->is_string())
        throw api_error::validation("1 validation error detected: Value null at 'functionName' failed to satisfy "
                                    "constraint: Member must not be null");
    auto src = in.find("EventSourceArn");
    if (src == in.end() || !src->is_string())
        throw invalid_parameter("Unrecognized event source, must be kinesis, dynamodb stream or sqs.");
    m.event_source_arn = src->get<std::string>();
    check_source(m, account);
    resolve_function(fn->get<std::string>(), account, m);
    apply_params(m, in, true);
    const auto now = mappings_.clock().now_ms();
    m.uuid = id_uuid();
    m.created_ms = m.last_modified_ms = now;
    m.transition = "Creating";
    m.transition_until_ms = now + transition_ms;
    // Lambda refuses a second mapping of one stream to one function.
    // (Copies: `m` is moved into the registry before the check runs.)
    auto created = mappings_.create(m, [m](const std::vector<mapping_snapshot>& all) {
        for (const auto& other : all) {
            if (other->target == target_state::deleted) continue;
            if (other->event_source_arn == m.event_source_arn && other->function_arn == m.function_arn)
                throw conflict("An event source mapping with Kinesis arn (\" " + m.event_source_arn +
                               " \") and function (\" " + m.function_name +
                               " \") already exists. Please update or delete the existing mapping with UUID " +
                               other->uuid);
        }
    });
    if (settings_.changed) settings_.changed();
    return created->to_api(now);
}

nlohmann::json lambda_api::get(const std::string& uuid, const std::string& account) {
    auto m = mappings_.find(uuid);
    if (!m || m->account != account) throw mapping_not_found();
    return m->to_api(mappings_.clock().now_ms());
}

nlohmann::json lambda_api::update(const std::string& uuid, const nlohmann::json& in, const std::string& account) {
    const auto now = mappings_.clock().now_ms();
    auto existing = mappings_.find(uuid);
    if (!existing || existing->account != account) throw mapping_not_found();
    // Resolved outside the registry's lock: it may ask the function registry.
    mapping probe = *existing;
    if (auto fn = in.find("FunctionName"); fn != in.end() && fn->is_string())
        resolve_function(fn->get<std::string>(), account, probe);
    auto updated = mappings_.update(uuid, [&](mapping& m) {
        const auto state = m.state(now);
        if (state != "Enabled" && state != "Disabled")
            throw in_use("Cannot update the event source mapping because it is in use. State: " + state);
        const auto before = m.target;
        m.function_name = probe.function_name;
        m.function_arn = probe.function_arn;
        apply_params(m, in, false);
        m.transition = m.target == before ? "Updating"
                       : m.target == target_state::enabled ? "Enabling"
                                                           : "Disabling";
        m.transition_until_ms = now + transition_ms;
        m.last_modified_ms = now;
        ++m.version;
    });
    if (!updated) throw mapping_not_found();
    if (settings_.changed) settings_.changed();
    return updated->to_api(now);
}

nlohmann::json lambda_api::remove(const std::string& uuid, const std::string& account) {
    const auto now = mappings_.clock().now_ms();
    auto existing = mappings_.find(uuid);
    if (!existing || existing->account != account) throw mapping_not_found();
    auto updated = mappings_.update(uuid, [&](mapping& m) {
        if (m.target == target_state::deleted) throw in_use("The event source mapping is being deleted.");
        const auto state = m.state(now);
        if (state == "Creating" || state == "Updating" || state == "Enabling" || state == "Disabling")
            throw in_use("Cannot delete the event source mapping because it is in use. State: " + state);
        m.target = target_state::deleted;
        m.transition = "Deleting";
        m.transition_until_ms = now + transition_ms;
        ++m.version;
    });
    if (!updated) throw mapping_not_found();
    if (settings_.changed) settings_.changed();
    return updated->to_api(now);
}

nlohmann::json lambda_api::list(const query_list& query, const std::string& account) {
    const auto now = mappings_.clock().now_ms();
    std::string function_filter, source_filter;
    if (auto* f = query_value(query, "FunctionName"); f && !f->empty()) {
        std::string name = *f;
        if (auto at = name.find("function:"); at != std::string::npos) name = name.substr(at + 9);
        function_filter = name.substr(0, name.find(':'));
    }
    if (auto* s = query_value(query, "EventSourceArn")) source_filter = *s;
    std::size_t max_items = 100;
    if (auto* m = query_value(query, "MaxItems"); m && !m->empty()) {
        long long v = 0;
        try {
            v = std::stoll(*m);
        } catch (...) {
            throw invalid_parameter("MaxItems must be an integer");
        }
        if (v < 1 || v > 10000)
            throw api_error::validation("1 validation error detected: Value '" + *m +
                                        "' at 'maxItems' failed to satisfy constraint: Member must have value " +
                                        (v < 1 ? "greater than or equal to 1" : "less than or equal to 10000"));
        max_items = std::size_t(v);
    }
    std::size_t skip = 0;
    if (auto* marker = query_value(query, "Marker"); marker && !marker->empty()) {
        try {
            skip = std::stoull(*marker);
        } catch (...) {
            throw invalid_parameter("Invalid Marker: " + *marker);
        }
    }
    nlohmann::json out = {{"EventSourceMappings", nlohmann::json::array()}};
    std::size_t seen = 0;
    for (const auto& m : mappings_.list()) {
        if (m->account != account) continue;
        if (!function_filter.empty() && m->function_name != function_filter) continue;
        if (!source_filter.empty() && m->event_source_arn != source_filter) continue;
        if (seen++ < skip) continue;
        if (out["EventSourceMappings"].size() == max_items) {
            out["NextMarker"] = std::to_string(seen - 1);
            break;
        }
        out["EventSourceMappings"].push_back(m->to_api(now));
    }
    return out;
}

}  // namespace kinesd::lambda
