#pragma once
// Standard-alphabet base64 with '=' padding, as AWS JSON protocols use for blobs.
#include <cstddef>
#include <string>
#include <string_view>

namespace kinesd::base64 {

std::string encode(std::string_view bytes);
// Appends to out without intermediate allocations.
void encode_to(std::string& out, const void* bytes, std::size_t size);
// Writes encoded_size(size) characters at dst and returns the end, for callers
// that lay out a whole answer in one buffer.
char* encode_raw(char* dst, const void* bytes, std::size_t size);
constexpr std::size_t encoded_size(std::size_t size) { return (size + 2) / 3 * 4; }

// Decodes into out (replacing its content). On failure returns false and sets
// error to AWS's wording without the "'<v>' can not be converted to a Blob: "
// lead-in, e.g. "Base64 encoded length is expected a multiple of 4 bytes but found: 5",
// "Invalid Base64 character: '!'", "Invalid last non-pad Base64 character dectected".
bool decode(std::string_view text, std::string& out, std::string* error = nullptr);

// Decodes into out, which has room for decoded_size_bound(text.size()) bytes
// (out may be text.data() itself: decoding in place is safe). Returns the
// decoded size, or npos when decode() would fail (it says why).
inline constexpr std::size_t npos = static_cast<std::size_t>(-1);
std::size_t decode_to(std::string_view text, char* out);
constexpr std::size_t decoded_size_bound(std::size_t text_size) { return text_size / 4 * 3; }

// Decodes the `size` characters at `text` over themselves and returns the
// decoded size, or npos with the text left exactly as it was. Lets a request
// body hold its own decoded records instead of a second buffer beside it.
std::size_t decode_in_place(char* text, std::size_t size);
// Writes the base64 of the `size` bytes at `bytes` over them (the buffer must
// hold encoded_size(size)). Undoes decode_in_place: only canonical text
// decodes, so the text comes back byte for byte.
void encode_in_place(char* bytes, std::size_t size);

}  // namespace kinesd::base64
