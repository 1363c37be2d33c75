#include "lambda/invoke.h"

#include "functions/invoker.h"

namespace kinesd::lambda {

invoke_function bind_invoker(functions::invoker& invoker, std::chrono::milliseconds timeout) {
    return [&invoker, timeout](const std::string& name, const std::string& payload) {
        auto r = invoker.invoke(name, payload, timeout);
        invoke_outcome out;
        out.delivered = r.http_status != 0;
        out.status = r.http_status;
        out.body = std::move(r.body);
        out.function_error = std::move(r.function_error);
        out.timed_out = r.outcome == functions::invoke_outcome::timeout;
        out.error = std::string(functions::to_string(r.outcome)) + (r.message.empty() ? "" : ": " + r.message);
        // Whatever the status, only the invoker's "ok" is a success.
        if (!r.ok() && out.function_error.empty() && out.delivered && out.status / 100 == 2)
            out.function_error = "Unhandled";
        return out;
    };
}

}  // namespace kinesd::lambda
