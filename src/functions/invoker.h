#pragma once
// Invokes a function the way Lambda's Invoke (RequestResponse) does: POST the
// event to the function's URL, wait for the function's answer.
//
// invoke() blocks the calling thread for up to its timeout. Call it from
// delivery or poller threads only, never from the I/O threads or the action
// workers (see README.md).
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "functions/function_registry.h"

namespace kinesd::functions {

enum class invoke_outcome {
    ok,               // the function returned; body is its result
    function_error,   // X-Amz-Function-Error was set (Unhandled or Handled)
    throttled,        // HTTP 429 (Lambda: TooManyRequestsException)
    service_error,    // HTTP 5xx from the runtime
    request_error,    // other HTTP 4xx: the request itself is refused
    timeout,          // no complete answer within the timeout
    connection_error, // could not connect, or the connection broke
    not_found,        // the name resolves to no mapped function
};

const char* to_string(invoke_outcome outcome);

struct invoke_result {
    invoke_outcome outcome = invoke_outcome::ok;
    int http_status = 0;         // 0 when no answer arrived
    std::string body;            // the function's result or error document
    std::string function_error;  // "Unhandled" | "Handled" | "" (outcome function_error only)
    std::string message;         // what went wrong, for logs and error documents

    bool ok() const { return outcome == invoke_outcome::ok; }
    // Lambda's callers (event source mappings, Firehose) try these again;
    // request_error and not_found would fail the same way every time.
    bool retryable() const {
        return outcome == invoke_outcome::function_error || outcome == invoke_outcome::throttled ||
               outcome == invoke_outcome::service_error || outcome == invoke_outcome::timeout ||
               outcome == invoke_outcome::connection_error;
    }
};

struct invoker_options {
    // Invocations in flight at once per URL; each holds one keep-alive
    // connection. 1 by default: the Runtime Interface Emulator serves one
    // invocation at a time and fails (or crashes on) a concurrent one.
    std::size_t connections_per_url = 1;
    // Lambda's synchronous response limit is 6 MB; leave room for headers.
    std::size_t max_response_bytes = 7u << 20;
};

class invoker {
public:
    explicit invoker(function_registry registry, invoker_options options = {});
    ~invoker();
    invoker(const invoker&) = delete;
    invoker& operator=(const invoker&) = delete;

    // name_or_arn: any FunctionName form (see function_registry.h). The
    // timeout covers waiting for a free connection, connecting, sending and
    // the function's run.
    invoke_result invoke(std::string_view name_or_arn, const std::string& payload_json,
                         std::chrono::milliseconds timeout);
    // The same against a URL directly (no registry lookup).
    invoke_result invoke_url(const std::string& url, const std::string& payload_json,
                             std::chrono::milliseconds timeout);

    const function_registry& registry() const { return registry_; }

private:
    struct connection;
    struct pool;
    pool& pool_for(const std::string& key);

    function_registry registry_;
    invoker_options options_;
    std::mutex pools_mutex_;
    std::map<std::string, std::unique_ptr<pool>> pools_;
};

}  // namespace kinesd::functions
