#include "actions/shape.h"

#include <cmath>
#include <cstdio>
#include <limits>

#include "common/base64.h"
#include "kinesd/api_error.h"

namespace kinesd::actions {

namespace {

using nlohmann::json;

constexpr const char* big_number = "class com.amazon.coral.value.json.numbers.TruncatingBigNumber";

[[noreturn]] void type_error(std::string message) { throw api_error::serialization(std::move(message), true); }

bool is_number(const json& v) { return v.is_number(); }

// The lowerCamelCase path AWS prints: "streamName", "records.1.member.data".
std::string camel(std::string_view name) {
    std::string s(name);
    if (!s.empty() && s[0] >= 'A' && s[0] <= 'Z') s[0] = char(s[0] - 'A' + 'a');
    return s;
}

std::string upper(std::string s) {
    for (auto& c : s)
        if (c >= 'a' && c <= 'z') c = char(c - 'a' + 'A');
    return s;
}

void check_scalar_not_container(const json& v) {
    if (v.is_array()) type_error("Start of list found where not expected");
    if (v.is_object()) type_error("Start of structure or map found where not expected.");
}

// Java's (long) cast of a double, which AWS applies: NaN is 0 and values
// beyond [lo, hi] are clamped. A plain cast of NaN, an infinity or a huge
// value is undefined behaviour in C++, and CBOR carries all three.
double clamp_double(double d, double lo, double hi) {
    if (std::isnan(d)) return 0;
    return d < lo ? lo : (d > hi ? hi : d);
}

std::int64_t clamp_integer(const json& v, bool is_long) {
    double d;
    if (v.is_number_integer()) {
        if (v.is_number_unsigned()) {
            auto u = v.get<std::uint64_t>();
            d = double(u);
            if (!is_long) return u > 2147483647ULL ? 2147483647 : std::int64_t(u);
            return u > std::uint64_t(std::numeric_limits<std::int64_t>::max())
                       ? std::numeric_limits<std::int64_t>::max()
                       : std::int64_t(u);
        }
        auto i = v.get<std::int64_t>();
        if (!is_long) return i > 2147483647 ? 2147483647 : (i < -2147483648LL ? -2147483648LL : i);
        return i;
    }
    d = std::floor(v.get<double>());
    double hi = is_long ? 9.2e18 : 2147483647.0;
    double lo = is_long ? -9.2e18 : -2147483648.0;
    return std::int64_t(clamp_double(d, lo, hi));
}

void check_types(const shape& s, json& obj, codec::wire_format format);

void check_value_type(const field& f, json& v, codec::wire_format format) {
    switch (f.type) {
        case field_type::string:
            if (v.is_string()) return;
            check_scalar_not_container(v);
            if (v.is_boolean()) type_error("class java.lang.Boolean can not be converted to an String");
            if (is_number(v)) type_error(std::string(big_number) + " can not be converted to an String");
            type_error("Unexpected value type in payload");
        case field_type::integer:
        case field_type::long_integer: {
            const char* target = f.type == field_type::integer ? "an Integer" : "a Long";
            if (is_number(v)) {
                v = clamp_integer(v, f.type == field_type::long_integer);
                return;
            }
            check_scalar_not_container(v);
            if (v.is_string()) type_error(std::string("class java.lang.String can not be converted to ") + target);
            if (v.is_boolean()) type_error(std::string("class java.lang.Boolean can not be converted to ") + target);
            type_error("Unexpected value type in payload");
        }
        case field_type::boolean:
            if (v.is_boolean()) return;
            check_scalar_not_container(v);
            if (v.is_string()) type_error("'" + upper(v.get<std::string>()) + "' can not be converted to an Boolean");
            if (is_number(v)) type_error(std::string(big_number) + " can not be converted to an Boolean");
            type_error("Unexpected value type in payload");
        case field_type::blob: {
            if (v.is_binary()) return;
            check_scalar_not_container(v);
            if (v.is_boolean()) type_error("class java.lang.Boolean can not be converted to a Blob");
            if (is_number(v)) type_error(std::string(big_number) + " can not be converted to a Blob");
            if (!v.is_string()) type_error("Unexpected value type in payload");
            const auto& text = v.get_ref<const std::string&>();
            std::string decoded, error;
            if (!base64::decode(text, decoded, &error))
                type_error("'" + text + "' can not be converted to a Blob: " + error);
            v = json::binary(std::vector<std::uint8_t>(decoded.begin(), decoded.end()));
            return;
        }
        case field_type::timestamp: {
            if (is_number(v)) {
                // JSON carries epoch seconds; CBOR (tag 1) carries milliseconds.
                // Handlers read the result as std::int64_t.
                double n = v.get<double>();
                double ms = format == codec::wire_format::cbor ? std::floor(n) : std::floor(n * 1000.0);
                v = clamp_double(ms, -9.2e18, 9.2e18);
                return;
            }
            check_scalar_not_container(v);
            if (v.is_string()) type_error("class java.lang.String can not be converted to milliseconds since epoch");
            if (v.is_boolean()) type_error("class java.lang.Boolean can not be converted to milliseconds since epoch");
            type_error("Unexpected value type in payload");
        }
        case field_type::list: {
            if (v.is_object()) type_error("Start of structure or map found where not expected.");
            if (!v.is_array()) type_error("Expected list or null");
            for (auto& element : v) {
                if (element.is_null()) continue;
                if (f.members) {
                    if (element.is_array()) type_error("Start of list found where not expected");
                    if (!element.is_object()) type_error("Expected null");
                    check_types(*f.members, element, format);
                } else {
                    field e = f.element ? *f.element : field{};
                    e.type = f.element_type;
                    check_value_type(e, element, format);
                }
            }
            return;
        }
        case field_type::map: {
            if (v.is_array()) type_error("Start of list found where not expected");
            if (!v.is_object()) type_error("Expected map or null");
            for (auto& [key, element] : v.items()) {
                if (element.is_null()) continue;
                if (f.members) {
                    if (element.is_array()) type_error("Start of list found where not expected");
                    if (!element.is_object()) type_error("Expected null");
                    check_types(*f.members, element, format);
                } else {
                    field e;
                    e.type = f.element_type;
                    check_value_type(e, element, format);
                }
            }
            return;
        }
        case field_type::structure:
            if (v.is_array()) type_error("Start of list found where not expected");
            if (!v.is_object()) type_error("Expected null");
            if (f.members) check_types(*f.members, v, format);
            return;
    }
}

void check_types(const shape& s, json& obj, codec::wire_format format) {
    // Members whose value is null count as absent.
    for (auto it = obj.begin(); it != obj.end();) {
        if (it->is_null())
            it = obj.erase(it);
        else
            ++it;
    }
    for (const auto& f : s) {
        auto it = obj.find(std::string(f.name));
        if (it == obj.end()) continue;
        check_value_type(f, *it, format);
    }
}

// How AWS prints a value inside a ValidationException item.
std::string render(const field& f, const json& v) {
    switch (f.type) {
        case field_type::blob: {
            auto n = v.get_binary().size();
            return "'java.nio.HeapByteBuffer[pos=0 lim=" + std::to_string(n) + " cap=" + std::to_string(n) + "]'";
        }
        case field_type::string: return "'" + v.get<std::string>() + "'";
        case field_type::list: {
            std::string out = "'[";
            bool first = true;
            unsigned serial = 0x1a2b3c;
            for (auto& e : v) {
                if (!first) out += ", ";
                first = false;
                if (e.is_string())
                    out += e.get<std::string>();
                else if (e.is_object()) {
                    char buf[32];
                    std::snprintf(buf, sizeof buf, "@%x", serial++);
                    out += std::string(f.java_class) + buf;
                } else
                    out += e.dump();
            }
            return out + "]'";
        }
        case field_type::map: {
            std::string out = "'{";
            bool first = true;
            for (auto& [k, e] : v.items()) {
                if (!first) out += ", ";
                first = false;
                out += k + "=" + (e.is_string() ? e.get<std::string>() : e.dump());
            }
            return out + "}'";
        }
        case field_type::timestamp: {
            char buf[64];
            std::snprintf(buf, sizeof buf, "'%.0f'", v.get<double>());
            return buf;
        }
        default: return "'" + v.dump() + "'";
    }
}

std::int64_t length_of(const field& f, const json& v) {
    switch (f.type) {
        case field_type::string: {
            // AWS counts characters (UTF-16 code units), not bytes.
            std::int64_t n = 0;
            for (unsigned char c : v.get_ref<const std::string&>()) {
                if ((c & 0xc0) != 0x80) ++n;
                if (c >= 0xf0) ++n;  // a supplementary character is two UTF-16 units
            }
            return n;
        }
        case field_type::blob: return std::int64_t(v.get_binary().size());
        case field_type::list:
        case field_type::map: return std::int64_t(v.size());
        default: return 0;
    }
}

struct collector {
    std::vector<std::string> items;
    void add(const std::string& value, const std::string& path, const std::string& constraint) {
        if (items.size() < 10)
            items.push_back("Value " + value + " at '" + path + "' failed to satisfy constraint: " + constraint);
    }
};

void check_constraints(const shape& s, const json& obj, const std::string& prefix, collector& out);

void check_field(const field& f, const json* v, const std::string& path, collector& out) {
    if (!v) {
        if (f.required) out.add("null", path, "Member must not be null");
        return;
    }
    std::string shown;
    auto value = [&]() -> const std::string& {
        if (shown.empty()) shown = render(f, *v);
        return shown;
    };
    if (f.regex && v->is_string() && !f.regex->matches(v->get_ref<const std::string&>()))
        out.add(value(), path, "Member must satisfy regular expression pattern: " + std::string(f.regex->text));
    if (f.min_length && length_of(f, *v) < *f.min_length)
        out.add(value(), path, "Member must have length greater than or equal to " + std::to_string(*f.min_length));
    if (f.max_length && length_of(f, *v) > *f.max_length)
        out.add(value(), path, "Member must have length less than or equal to " + std::to_string(*f.max_length));
    if (!f.enum_values.empty() && v->is_string()) {
        const auto& text = v->get_ref<const std::string&>();
        bool ok = false;
        for (auto e : f.enum_values) ok = ok || e == text;
        if (!ok) {
            std::string set = "[";
            for (std::size_t i = 0; i < f.enum_values.size(); ++i)
                set += (i ? ", " : "") + std::string(f.enum_values[i]);
            out.add(value(), path, "Member must satisfy enum value set: " + set + "]");
        }
    }
    if (v->is_number_integer()) {
        auto n = v->get<std::int64_t>();
        if (f.min_value && n < *f.min_value)
            out.add(value(), path, "Member must have value greater than or equal to " + std::to_string(*f.min_value));
        if (f.max_value && n > *f.max_value)
            out.add(value(), path, "Member must have value less than or equal to " + std::to_string(*f.max_value));
    }
    if (f.type == field_type::list) {
        int i = 0;
        for (auto& element : *v) {
            ++i;
            std::string element_path = path + "." + std::to_string(i) + ".member";
            if (f.members && element.is_object())
                check_constraints(*f.members, element, element_path, out);
            else if (f.element && !element.is_null())
                check_field(*f.element, &element, element_path, out);
        }
    } else if (f.type == field_type::structure && f.members) {
        check_constraints(*f.members, *v, path, out);
    } else if (f.type == field_type::map && f.members) {
        for (auto& [key, element] : v->items())
            if (element.is_object()) check_constraints(*f.members, element, path + "." + key, out);
    }
}

void check_constraints(const shape& s, const json& obj, const std::string& prefix, collector& out) {
    for (const auto& f : s) {
        auto it = obj.find(std::string(f.name));
        std::string path = prefix.empty() ? camel(f.name) : prefix + "." + camel(f.name);
        check_field(f, it == obj.end() ? nullptr : &*it, path, out);
    }
}

}  // namespace

void validate(const shape& s, json& request, codec::wire_format format) {
    check_types(s, request, format);
    collector out;
    check_constraints(s, request, "", out);
    if (out.items.empty()) return;
    std::string message = std::to_string(out.items.size()) +
                          (out.items.size() == 1 ? " validation error detected: " : " validation errors detected: ");
    for (std::size_t i = 0; i < out.items.size(); ++i) message += (i ? "; " : "") + out.items[i];
    throw api_error::validation(std::move(message));
}

namespace patterns {
namespace {
bool name_chars(std::string_view s) {
    if (s.empty()) return false;
    for (char c : s)
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '.' ||
              c == '-'))
            return false;
    return true;
}
bool all_digits(std::string_view s) {
    if (s.empty()) return false;
    for (char c : s)
        if (c < '0' || c > '9') return false;
    return true;
}
bool bounded_decimal(std::string_view s, std::size_t max_digits) {
    if (s == "0") return true;
    return all_digits(s) && s[0] != '0' && s.size() <= max_digits;
}
bool no_space(std::string_view s) {
    if (s.empty()) return false;
    for (char c : s)
        if (c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v') return false;
    return true;
}
// arn:aws.*:kinesis:.*:\d{12}:<rest> with <rest> checked by `tail`
bool kinesis_arn(std::string_view s, bool any_before_stream) {
    if (s.substr(0, 7) != "arn:aws") return false;
    auto k = s.find(":kinesis:", 7);
    if (k == std::string_view::npos) return false;
    // the 12-digit account is followed by ':' and the resource
    for (std::size_t pos = k + 9; pos + 13 < s.size() + 1; ++pos) {
        if (s[pos] != ':' || pos + 13 >= s.size()) continue;
        if (!all_digits(s.substr(pos + 1, 12)) || s[pos + 13] != ':') continue;
        auto rest = s.substr(pos + 14);
        if (!any_before_stream) {
            if (rest.substr(0, 7) == "stream/" && no_space(rest.substr(7))) return true;
            continue;
        }
        // A resource ARN names a stream (or its consumer), a channel or a queue.
        for (std::string_view kind : {"stream/", "channel/", "queue/"})
            for (auto st = rest.find(kind); st != std::string_view::npos; st = rest.find(kind, st + 1))
                if (no_space(rest.substr(st + kind.size()))) return true;
    }
    return false;
}
}  // namespace

const pattern stream_name{"[a-zA-Z0-9_.-]+", name_chars};
const pattern firehose_name{"[a-zA-Z0-9_.-]+", name_chars};
const pattern stream_arn{"arn:aws.*:kinesis:.*:\\d{12}:stream/\\S+", [](std::string_view s) { return kinesis_arn(s, false); }};
const pattern resource_arn{"arn:aws.*:kinesis:.*:\\d{12}:.*(stream|channel|queue)/\\S+",
                           [](std::string_view s) { return kinesis_arn(s, true); }};
const pattern hash_key{"0|([1-9]\\d{0,38})", [](std::string_view s) { return bounded_decimal(s, 39); }};
const pattern sequence_number{"0|([1-9]\\d{0,128})", [](std::string_view s) { return bounded_decimal(s, 129); }};
const pattern digits{"[0-9]+", all_digits};
}  // namespace patterns

namespace members {
field stream_name(bool required) {
    return field{.name = "StreamName", .type = field_type::string, .required = required, .min_length = 1,
                 .max_length = 128, .regex = &patterns::stream_name};
}
field stream_arn(bool required) {
    return field{.name = "StreamARN", .type = field_type::string, .required = required, .min_length = 1,
                 .max_length = 2048, .regex = &patterns::stream_arn};
}
}  // namespace members

}  // namespace kinesd::actions
