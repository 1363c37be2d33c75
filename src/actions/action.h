#pragma once
// The one shape every action handler has, and the responder it answers with.
//
// A handler runs on a worker thread, or, for actions marked never_waits and
// small bodies, on the I/O thread that read the request. It either answers
// before returning (reply->ok(...) or by throwing api_error), or keeps the
// shared responder and answers later from another thread (PutRecord answers
// from the storage writer once the records are durable). A responder dropped without an answer
// answers InternalFailure, so a request is never left hanging.
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "actions/body_stream.h"
#include "actions/service.h"
#include "actions/shape.h"
#include "codec/codec.h"
#include "kinesd/api_error.h"

namespace kinesd::actions {

class responder {
public:
    // Receives a body to encode (nullopt = empty 200 body), or a body already
    // encoded in the request's wire format, or an error, or a body streamed
    // over time; and what must stay alive until the body has been written out.
    using sink = std::function<void(std::optional<nlohmann::json> body, std::string* encoded, const api_error* error,
                                    std::shared_ptr<void> keep, std::shared_ptr<body_stream> stream)>;

    explicit responder(sink s) : sink_(std::move(s)) {}
    ~responder() {
        if (!done_) {
            auto e = api_error::internal();
            sink_(std::nullopt, nullptr, &e, nullptr, nullptr);
        }
    }
    responder(const responder&) = delete;
    responder& operator=(const responder&) = delete;

    // `keep` lives until the connection has written the body: GetRecords
    // holds its share of the read budget until then, not only while it
    // builds the answer.
    void ok(nlohmann::json body, std::shared_ptr<void> keep = nullptr) {
        finish(std::move(body), nullptr, nullptr, std::move(keep));
    }
    // For hot actions that write their answer as text themselves.
    void ok_encoded(std::string body, std::shared_ptr<void> keep = nullptr) {
        finish(std::nullopt, &body, nullptr, std::move(keep));
    }
    void ok_empty() { finish(std::nullopt, nullptr, nullptr); }
    // A 200 whose body the connection pulls from `stream` until it ends.
    void ok_stream(std::shared_ptr<body_stream> stream) {
        finish(std::nullopt, nullptr, nullptr, nullptr, std::move(stream));
    }
    void fail(const api_error& e) { finish(std::nullopt, nullptr, &e); }
    bool done() const { return done_; }

private:
    void finish(std::optional<nlohmann::json> body, std::string* encoded, const api_error* e,
                std::shared_ptr<void> keep = nullptr, std::shared_ptr<body_stream> stream = nullptr) {
        if (done_) return;
        done_ = true;
        sink_(std::move(body), encoded, e, std::move(keep), std::move(stream));
    }
    sink sink_;
    bool done_ = false;
};

struct action_context {
    service& svc;
    codec::wire_format format;
    nlohmann::json input;  // validated and normalised (see shape.h)
    std::shared_ptr<responder> reply;
    std::int64_t now_ms = 0;
    // Running on an I/O thread: the handler must not wait, not even for a
    // lock that is held across a disk write, and moves to a worker
    // (svc.post) when it would.
    bool io_thread = false;
    // The caller's account (the signing key's); empty for the default one.
    std::string account_id;
    // With authentication: who signed (an IAM-style ARN) and the action's
    // name, for AccessDeniedException texts; both empty without it.
    std::string caller_arn;
    std::string_view operation;

    const std::string& account() const { return account_id.empty() ? svc.settings().account_id : account_id; }
    // The registry key of the caller's stream or delivery stream `name`.
    std::string key(std::string_view name) const { return svc.resource_key(account(), name); }
    // Whether the stream or delivery stream kept under `key` is the caller's.
    bool owns(std::string_view key) const { return svc.account_of_key(key) == account(); }
    // The name a registry key shows to clients.
    static std::string shown(std::string_view key) { return std::string(service::name_of_key(key)); }
};

using action_fn = void (*)(action_context&);
// Runs the action straight from a body in one wire format (ctx.format),
// skipping the general decode and validation. Returns false, with the body
// untouched and nothing answered, when it is not certain the body would pass
// them as it is; the general path then runs as if it had not been called.
// Its errors are the action's own.
using fast_action_fn = bool (*)(action_context&, std::string& body);

struct action_entry {
    std::string_view target;  // "Kinesis_20131202.PutRecord"
    const shape* request_shape;
    action_fn handle;
    fast_action_fn fast = nullptr;  // for JSON bodies
    // The handler never waits (it decodes, routes and queues to the storage
    // writer, or moves to a worker itself), so small requests may run on the
    // I/O thread that read them.
    bool never_waits = false;
    fast_action_fn fast_cbor = nullptr;  // for CBOR bodies

    fast_action_fn fast_for(codec::wire_format f) const {
        return f == codec::wire_format::json ? fast : fast_cbor;
    }
};

// The registry: the single list of actions (action_table.cc).
const action_entry* find_action(std::string_view target);
// True when the prefix before '.' names a service kinesd speaks.
bool known_service(std::string_view target);

}  // namespace kinesd::actions
