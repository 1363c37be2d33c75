#include "http/router.h"

#include <boost/asio/post.hpp>
#include <spdlog/spdlog.h>

#include "actions/action.h"
#include "codec/codec.h"
#include "common/base64.h"
#include "common/random.h"

namespace kinesd::http {

namespace {

using codec::wire_format;

// Headers every response carries: a request id (botocore surfaces it as
// ResponseMetadata.RequestId), x-amz-id-2 as AWS sends it, and CORS headers
// for browser clients.
void add_common_headers(reply& r, const request& req) {
    r.headers.emplace_back("x-amzn-RequestId", id_uuid());
    r.headers.emplace_back("x-amz-id-2", base64::encode(id_bytes(54)));
    if (!req.origin.empty()) {
        r.headers.emplace_back("Access-Control-Allow-Origin", "*");
        r.headers.emplace_back("Access-Control-Expose-Headers",
                               "x-amzn-RequestId,x-amzn-ErrorType,x-amz-request-id,x-amz-id-2,x-amzn-ErrorMessage,Date");
    }
}

reply error_reply(const request& req, wire_format format, const api_error& e) {
    reply r;
    r.status = e.status();
    r.headers.emplace_back("Content-Type", codec::content_type(format));
    r.headers.emplace_back("x-amzn-ErrorType", e.type());
    r.body = codec::encode_error(format, e);
    add_common_headers(r, req);
    return r;
}

reply xml_reply(const request& req, unsigned status, std::string body) {
    reply r;
    r.status = status;
    if (!body.empty()) r.headers.emplace_back("Content-Type", "application/xml");
    r.body = std::move(body);
    add_common_headers(r, req);
    return r;
}

const char* access_denied_xml =
    "<AccessDeniedException>\n  <Message>Unable to determine service/operation name to be authorized</Message>\n"
    "</AccessDeniedException>\n";

// What a control-plane call acted on, for the audit log: the ARN it named,
// or the ARN of the stream or delivery stream it named.
std::string audited_resource(const actions::action_context& ctx) {
    const auto& in = ctx.input;
    if (!in.is_object()) return {};
    for (const char* arn : {"ConsumerARN", "StreamARN", "ResourceARN"})
        if (auto it = in.find(arn); it != in.end() && it->is_string()) return it->get<std::string>();
    if (auto it = in.find("StreamName"); it != in.end() && it->is_string())
        return ctx.svc.stream_arn(ctx.key(it->get_ref<const std::string&>()));
    if (auto it = in.find("DeliveryStreamName"); it != in.end() && it->is_string())
        return "arn:aws:firehose:" + ctx.svc.settings().region + ":" + ctx.account() + ":deliverystream/" +
               it->get<std::string>();
    return {};
}

}  // namespace

bool router::is_data_plane(std::string_view target) {
    const auto dot = target.find('.');
    const auto service = target.substr(0, dot);
    const auto op = dot == std::string_view::npos ? std::string_view() : target.substr(dot + 1);
    if (service == "Firehose_20150804") return op == "PutRecord" || op == "PutRecordBatch";
    return op == "PutRecord" || op == "PutRecords" || op == "GetRecords" || op == "GetShardIterator" ||
           op == "SubscribeToShard";
}

bool router::needs_catch_up(std::string_view target) {
    if (!is_data_plane(target)) return true;
    const auto op = target.substr(target.find('.') + 1);
    return op == "GetShardIterator" || op == "SubscribeToShard";
}

reply router::too_large_reply() const {
    request none;
    return error_reply(none, wire_format::json,
                       api_error::request_too_large("Request body exceeds the limit of " +
                                                    std::to_string(body_limit_) + " bytes"));
}

bool router::runs_inline(const request& req) {
    if (req.method != "POST" || req.body.empty() || req.body.size() > inline_body_limit) return false;
    const auto* action = actions::find_action(req.amz_target);
    return action && action->never_waits;
}

void router::handle(request req, reply_handler done) {
    if (ops_ && ops_->handles(req)) return ops_->serve(std::move(req), std::move(done));
    for (auto* rest : rest_)
        if (rest->handles(req)) return rest->serve(std::move(req), std::move(done));
    if (runs_inline(req)) return process(req, std::move(done), true);
    boost::asio::post(workers_, [this, req = std::move(req), done = std::move(done)]() mutable {
        process(req, std::move(done));
    });
}

void router::process(request& req, reply_handler done, bool io_thread) {
    std::size_t action_index = requests_ ? requests_->unknown_action() : 0;
    const actions::action_entry* action = actions::find_action(req.amz_target, &action_index);
    // Every answer is counted by action and status: one relaxed add.
    auto* requests = requests_;
    auto finish = [&](reply r) {
        if (requests) requests->count(action_index, r.status);
        done(std::move(r));
    };
    if (req.method == "OPTIONS") {
        reply r;
        add_common_headers(r, req);
        r.headers.emplace_back("Access-Control-Allow-Origin", "*");
        if (!req.access_control_request_headers.empty())
            r.headers.emplace_back("Access-Control-Allow-Headers", req.access_control_request_headers);
        if (!req.access_control_request_method.empty())
            r.headers.emplace_back("Access-Control-Allow-Methods", req.access_control_request_method);
        r.headers.emplace_back("Access-Control-Max-Age", "172800");
        return finish(std::move(r));
    }
    if (req.method != "POST") return finish(xml_reply(req, 403, access_denied_xml));

    auto format = codec::format_from_content_type(req.content_type);
    bool known_target = action != nullptr;
    if (req.body.empty())
        return finish(error_reply(req, format.value_or(wire_format::json),
                                  known_target ? api_error::serialization() : api_error::unknown_operation()));
    if (!format) {
        if (req.amz_target.empty()) return finish(xml_reply(req, 403, access_denied_xml));
        return finish(xml_reply(req, 404, "<UnknownOperationException/>\n"));
    }

    // The caller: the signing key's account, or the default account when
    // requests are not signed.
    std::string account, caller_arn;
    std::optional<std::string> access_key;
    if (verifier_ && action) {
        // Clients sign with the wall clock, whatever offset the server's own
        // clock has been given.
        auto verdict = verifier_->verify(req, std::chrono::system_clock::now());
        if (verdict.error) {
            if (audit_ && !is_data_plane(req.amz_target)) {
                // Refused before any account is known.
                std::optional<std::string> claimed;
                if (!verdict.claimed_access_key.empty()) claimed = verdict.claimed_access_key;
                audit_->record({svc_.clock().now_ms(), std::move(claimed), {},
                                std::string(action->target.substr(action->target.find('.') + 1)), {},
                                verdict.error->type()});
            }
            return finish(error_reply(req, *format, *verdict.error));
        }
        account = verdict.key->account_id;
        access_key = verdict.key->access_key;
        caller_arn = "arn:aws:iam::" + account + ":user/" + verdict.key->profile;
    }
    std::shared_ptr<auth::audit_entry> audit;
    if (audit_ && action && !is_data_plane(req.amz_target)) {
        audit = std::make_shared<auth::audit_entry>();
        audit->access_key = std::move(access_key);
        audit->account = account.empty() ? svc_.settings().account_id : account;
        audit->action = action->target.substr(action->target.find('.') + 1);
    }

    // The responder turns the handler's answer into a wire reply, on whatever
    // thread the handler finishes on.
    auto reply_to = std::make_shared<actions::responder>(
        [req_headers = request{.origin = req.origin}, format = *format, done = std::move(done), requests,
         action_index, audit, log = audit_, &clock = svc_.clock()](
            std::optional<nlohmann::json> body, std::string* encoded, const api_error* error,
            std::shared_ptr<void> keep, std::shared_ptr<actions::body_stream> stream) mutable {
            if (requests) requests->count(action_index, error ? error->status() : 200);
            if (audit) {
                audit->time_ms = clock.now_ms();
                audit->result = error ? error->type() : "ok";
                log->record(std::move(*audit));
            }
            if (error) return done(error_reply(req_headers, format, *error));
            reply r;
            r.keep = std::move(keep);
            if (stream) {
                r.headers.emplace_back("Content-Type", stream->content_type());
                r.stream = std::move(stream);
                add_common_headers(r, req_headers);
                return done(std::move(r));
            }
            r.headers.emplace_back("Content-Type", codec::content_type(format));
            if (encoded)
                r.body = std::move(*encoded);
            else if (body)
                codec::encode_to(format, *body, r.body);
            add_common_headers(r, req_headers);
            done(std::move(r));
        });
    actions::action_context ctx{svc_, *format, {}, reply_to, svc_.clock().now_ms(), io_thread, std::move(account),
                                std::move(caller_arn)};
    if (action) ctx.operation = action->target.substr(action->target.find('.') + 1);
    try {
        // Not for the record calls: they name a stream a client has already
        // described or created, and are too many to pay a round trip each.
        if (action && !io_thread && needs_catch_up(req.amz_target)) svc_.catch_up();
        // The hot actions read their bodies themselves; when unsure they leave
        // the body to the general path below, which words every error.
        if (const auto fast = action ? action->fast_for(*format) : nullptr; fast && fast(ctx, req.body)) return;
        ctx.input = codec::decode(*format, req.body);
        if (!action) throw api_error::unknown_operation();
        if (audit) audit->resource = audited_resource(ctx);
        actions::validate(*action->request_shape, ctx.input, *format);
        action->handle(ctx);
    } catch (const api_error& e) {
        reply_to->fail(e);
    } catch (const std::exception& e) {
        spdlog::error("{} failed: {}", req.amz_target, e.what());
        reply_to->fail(api_error::internal());
    }
}

}  // namespace kinesd::http
