#pragma once
// Standard-alphabet base64 with '=' padding, as AWS JSON protocols use for blobs.
#include <cstddef>
#include <string>
#include <string_view>

namespace kinesd::base64 {

std::string encode(std::string_view bytes);
// Appends to out without intermediate allocations.
void encode_to(std::string& out, const void* bytes, std::size_t size);

// Decodes into out (replacing its content). On failure returns false and sets
// error to AWS's wording without the "'<v>' can not be converted to a Blob: "
// lead-in, e.g. "Base64 encoded length is expected a multiple of 4 bytes but found: 5",
// "Invalid Base64 character: '!'", "Invalid last non-pad Base64 character dectected".
bool decode(std::string_view text, std::string& out, std::string* error = nullptr);

}  // namespace kinesd::base64
