#include "metrics/names.h"

namespace kinesd::metrics {

namespace {
bool upper(char c) { return c >= 'A' && c <= 'Z'; }
bool lower(char c) { return c >= 'a' && c <= 'z'; }
bool digit(char c) { return c >= '0' && c <= '9'; }
}  // namespace

std::string snake_case(std::string_view name) {
    std::string out;
    out.reserve(name.size() + 8);
    auto separate = [&] {
        if (!out.empty() && out.back() != '_') out.push_back('_');
    };
    for (std::size_t i = 0; i < name.size(); ++i) {
        const char c = name[i];
        if (c == '.' || c == '_' || c == '-' || c == ' ') {
            separate();
            continue;
        }
        if (upper(c)) {
            const char before = i ? name[i - 1] : '\0';
            const char after = i + 1 < name.size() ? name[i + 1] : '\0';
            // A hump after a lower-case letter or a digit, or the last capital
            // of an acronym followed by a word ("HTTPStatus" -> http_status).
            if (lower(before) || digit(before) || (upper(before) && lower(after))) separate();
            out.push_back(char(c - 'A' + 'a'));
            continue;
        }
        out.push_back(c);
    }
    while (!out.empty() && out.back() == '_') out.pop_back();
    return out;
}

std::string prometheus_name(std::string_view prefix, std::string_view cloudwatch_name, kind k) {
    std::string out(prefix);
    out.push_back('_');
    out += snake_case(cloudwatch_name);
    switch (k) {
    case kind::counter: out += "_total"; break;
    case kind::histogram_ms: out += "_milliseconds"; break;
    case kind::gauge_seconds: out += "_seconds"; break;
    case kind::gauge: break;
    }
    return out;
}

}  // namespace kinesd::metrics
