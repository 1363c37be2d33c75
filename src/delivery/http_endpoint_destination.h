#pragma once
// A custom HTTP endpoint as a destination, per Firehose's HTTP endpoint
// delivery request and response specification (protocol version 1.0).
#include <memory>

#include "delivery/destination.h"

namespace kinesd::delivery {

// Requests hold 1 to 10,000 records and at most 64 MiB of JSON; a larger
// batch becomes several requests, each with its own request id.
inline constexpr std::size_t http_max_records_per_request = 10000;
inline constexpr std::size_t http_max_request_bytes = 64u << 20;

std::shared_ptr<destination> make_http_endpoint_destination(const delivery_stream& stream, destination_context ctx);

}  // namespace kinesd::delivery
