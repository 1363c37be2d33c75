#pragma once
// Lambda's event source mapping API (REST-JSON, path /2015-03-31/
// event-source-mappings/) on the Kinesis port. Calls run on the worker pool;
// they only touch metadata. Errors take Lambda's shape: the type in
// X-Amzn-ErrorType and {"Type":"User","message":...} in the body, which is
// what botocore's REST-JSON parser reads.
#include <boost/asio/thread_pool.hpp>

#include <functional>
#include <string>

#include "auth/audit_log.h"
#include "auth/sigv4_verifier.h"
#include "functions/function_registry.h"
#include "http/rest_service.h"
#include "lambda/mapping_registry.h"
#include "streams/stream_registry.h"

namespace kinesd::lambda {

struct api_settings {
    std::string region = "us-east-1";
    std::string account_id = "000000000000";
    // The functions mappings may name (null: none).
    const functions::function_registry* functions = nullptr;
    // Poller wake-up after a change (null: none).
    std::function<void()> changed;
};

class lambda_api : public http::rest_service {
public:
    lambda_api(api_settings settings, mapping_registry& mappings, streams::stream_registry& streams,
               boost::asio::thread_pool& workers)
        : settings_(std::move(settings)), mappings_(mappings), streams_(streams), workers_(workers) {}

    // Requests must then be signed (any service name in the scope; clients use "lambda").
    void set_verifier(const auth::sigv4_verifier* verifier) { verifier_ = verifier; }
    // Every call is a control-plane call: all are recorded there when set.
    void set_audit_log(auth::audit_log* log) { audit_ = log; }

    bool handles(const http::request& req) const override;
    void serve(http::request req, http::reply_handler done) override;

    // The answer to one request, on the calling thread (tests use it).
    http::reply process(const http::request& req);

private:
    nlohmann::json create(const nlohmann::json& in, const std::string& account);
    nlohmann::json update(const std::string& uuid, const nlohmann::json& in, const std::string& account);
    nlohmann::json remove(const std::string& uuid, const std::string& account);
    nlohmann::json get(const std::string& uuid, const std::string& account);
    nlohmann::json list(const std::vector<std::pair<std::string, std::string>>& query, const std::string& account);
    // Resolves FunctionName (a name, an ARN, a partial ARN) to name and ARN.
    void resolve_function(const std::string& given, const std::string& account, mapping& m) const;
    void check_source(mapping& m, const std::string& account) const;

    api_settings settings_;
    mapping_registry& mappings_;
    streams::stream_registry& streams_;
    boost::asio::thread_pool& workers_;
    const auth::sigv4_verifier* verifier_ = nullptr;
    auth::audit_log* audit_ = nullptr;
};

}  // namespace kinesd::lambda
