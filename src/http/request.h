#pragma once
// What both HTTP front ends (HTTP/1.1 via Beast, HTTP/2 via nghttp2) hand to the
// dispatcher, and what they get back. Keeping this protocol-neutral means one
// dispatcher serves both, and the sessions only translate headers and bodies.
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "actions/body_stream.h"

namespace kinesd::http {

struct request {
    std::string method;          // "POST", "GET", "OPTIONS", ...
    std::string path;            // request target with its query, e.g. "/" or "/?a=b"
    std::string amz_target;      // X-Amz-Target, empty when absent
    std::string content_type;    // Content-Type, empty when absent
    std::string authorization;   // Authorization, empty when absent
    std::string amz_date;        // X-Amz-Date (or Date), empty when absent
    std::string origin;          // Origin, for CORS
    std::string access_control_request_headers;  // CORS preflight
    std::string access_control_request_method;   // CORS preflight
    std::string host;            // Host / :authority
    // Every header as received, names as sent, in order: the signature
    // verifier needs whichever ones the client signed. One vector per
    // request, no map.
    std::vector<std::pair<std::string, std::string>> headers;
    std::string body;
};

struct reply {
    unsigned status = 200;
    // Content-Type is among these when there is a body. Sessions add
    // Content-Length and Date themselves.
    std::vector<std::pair<std::string, std::string>> headers;
    std::string body;
    // Released once the body has been written to the connection.
    std::shared_ptr<void> keep;
    // When set, the body is streamed from it instead (chunked in HTTP/1.1,
    // DATA frames under HTTP/2 flow control) and `body` is unused.
    std::shared_ptr<actions::body_stream> stream;
};

// Called exactly once per request, possibly from another thread: a session
// must move back onto its own executor before touching its state.
using reply_handler = std::function<void(reply)>;

class dispatcher {
public:
    virtual ~dispatcher() = default;
    virtual void handle(request req, reply_handler done) = 0;
    // Largest request body accepted; sessions answer a larger one with
    // too_large_reply() without reading it.
    virtual std::size_t body_limit() const = 0;
    virtual reply too_large_reply() const = 0;
};

}  // namespace kinesd::http
