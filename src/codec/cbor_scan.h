#pragma once
// A pre-parse pass over request CBOR. It does two jobs nlohmann::from_cbor
// (3.11) cannot be trusted with:
//  - bound the nesting depth: from_cbor recurses once per level, and also
//    once per tag and per nested indefinite-length string chunk;
//  - drop tags: from_cbor's cbor_tag_handler_t::ignore skips tags 6-20 and
//    24+ but rejects tags 0-5 and 21-23 as invalid bytes, and tag 1 (epoch
//    time) is exactly what Java SDKs put before every timestamp.
#include <cstddef>
#include <string>
#include <string_view>

namespace kinesd::codec {

enum class cbor_scan_result {
    ok,            // body is one well-formed data item without tags
    tags_removed,  // well-formed; `untagged` holds it with every tag head cut out
    malformed,     // truncated, trailing bytes, bad break, too deep, reserved encodings
};

cbor_scan_result scan_cbor(std::string_view body, std::size_t max_depth, std::string& untagged);

}  // namespace kinesd::codec
