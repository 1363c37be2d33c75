#pragma once
// How the poller calls a function: synchronously, on the calling (poller)
// thread. main binds it to the function registry's invoker.
#include <functional>
#include <string>

namespace kinesd::lambda {

struct invoke_outcome {
    bool delivered = false;      // an answer came back (any status)
    int status = 0;              // HTTP status of the invocation
    std::string body;            // the function's result (or error document)
    std::string function_error;  // "Unhandled" / "Handled" when the function failed
    bool timed_out = false;
    std::string error;           // transport failure, when not delivered
    bool ok() const { return delivered && status / 100 == 2 && function_error.empty() && !timed_out; }
};

using invoke_function = std::function<invoke_outcome(const std::string& function_name, const std::string& payload)>;

}  // namespace kinesd::lambda

#include <chrono>

namespace kinesd::functions {
class invoker;
}

namespace kinesd::lambda {

// Calls through the function registry's invoker, with Lambda's function
// timeout standing in for the one a real function would have.
invoke_function bind_invoker(functions::invoker& invoker, std::chrono::milliseconds timeout);

}  // namespace kinesd::lambda
