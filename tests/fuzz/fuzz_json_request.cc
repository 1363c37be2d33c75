// The JSON 1.1 request path: pre-scan, parse, then validation against the
// action shapes. api_error is the only exception allowed out of it.
#include <cstddef>
#include <cstdint>

#include "fuzz_request_common.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    kinesd::fuzz::exercise_request(kinesd::codec::wire_format::json,
                                   std::string_view(reinterpret_cast<const char*>(data), size));
    return 0;
}
