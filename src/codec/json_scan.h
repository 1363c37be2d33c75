#pragma once
// A pre-parse pass over request JSON, so that hostile nesting is refused
// before any recursive code (our writers, the validation layer) walks it.
#include <cstddef>
#include <string_view>

namespace kinesd::codec {

// False when brackets outside strings nest deeper than max_depth, or when
// the body holds a NUL byte: nlohmann's lexer takes NUL for the end of input
// and would accept `{}\0<anything>`, while valid JSON never contains a raw
// NUL. Says nothing else about validity: the parser judges that.
bool json_prescan(std::string_view body, std::size_t max_depth);

}  // namespace kinesd::codec
