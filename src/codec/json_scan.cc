#include "codec/json_scan.h"

namespace kinesd::codec {

bool json_prescan(std::string_view body, std::size_t max_depth) {
    std::size_t depth = 0;
    const char* p = body.data();
    const char* const end = p + body.size();
    while (p < end) {
        const char c = *p++;
        switch (c) {
            case '"':
                // Skip the string; an unterminated one simply runs to the end.
                while (p < end) {
                    const char s = *p++;
                    if (s == '"') break;
                    if (s == '\0') return false;
                    if (s == '\\' && p < end) ++p;
                }
                break;
            case '{':
            case '[':
                if (++depth > max_depth) return false;
                break;
            case '}':
            case ']':
                if (depth > 0) --depth;
                break;
            case '\0':
                return false;
            default:
                break;
        }
    }
    return true;
}

}  // namespace kinesd::codec
