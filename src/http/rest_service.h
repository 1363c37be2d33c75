#pragma once
// A service answering its own REST paths on the API port (Lambda's event
// source mapping API), beside the X-Amz-Target actions. The router asks
// handles() first and hands over the whole request; the service answers on
// threads of its own choosing.
#include "http/request.h"

namespace kinesd::http {

class rest_service {
public:
    virtual ~rest_service() = default;
    virtual bool handles(const request& req) const = 0;
    virtual void serve(request req, reply_handler done) = 0;
};

}  // namespace kinesd::http
