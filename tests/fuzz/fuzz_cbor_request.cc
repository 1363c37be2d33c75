// The CBOR 1.1 request path: the tag pre-scan, from_cbor, then validation
// against the action shapes. api_error is the only exception allowed out.
#include <cstddef>
#include <cstdint>
#include <string>

#include "codec/cbor_scan.h"
#include "fuzz_request_common.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    std::string_view body(reinterpret_cast<const char*>(data), size);
    // The scanner's own contract: a copy without tags is never longer than
    // the body, and is itself well formed and tag-free.
    std::string untagged;
    auto result = kinesd::codec::scan_cbor(body, kinesd::codec::max_nesting_depth, untagged);
    if (result == kinesd::codec::cbor_scan_result::tags_removed) {
        if (untagged.size() >= body.size()) kinesd::fuzz::finding("untagged copy is not shorter");
        std::string again;
        if (kinesd::codec::scan_cbor(untagged, kinesd::codec::max_nesting_depth, again) !=
            kinesd::codec::cbor_scan_result::ok)
            kinesd::fuzz::finding("untagged copy does not scan as plain CBOR");
    }
    kinesd::fuzz::exercise_request(kinesd::codec::wire_format::cbor, body);
    return 0;
}
