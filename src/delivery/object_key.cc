#include "delivery/object_key.h"

#include <ctime>
#include <stdexcept>
#include <vector>

#include "kinesd/api_error.h"

namespace kinesd::delivery {

namespace {

using time_point = std::chrono::system_clock::time_point;

// AWS's own lead-in, typo included: clients and tests compare the text.
constexpr std::string_view rule_lead_in = "Ths supplied prefix(es) do not satisfy the following constraint: ";

constexpr std::string_view default_time_pattern = "yyyy/MM/dd/HH/";

struct segment {
    bool expression = false;
    std::string_view text;  // literal text, or the whole "!{ns:value}"
    std::string_view ns;
    std::string_view value;
};

// Splits a prefix into literal text and expressions. Throws
// std::invalid_argument when "!{" does not open a `!{namespace:value}`.
std::vector<segment> split_expressions(std::string_view text) {
    std::vector<segment> out;
    std::size_t pos = 0;
    while (pos < text.size()) {
        std::size_t open = text.find("!{", pos);
        if (open == std::string_view::npos) {
            out.push_back({false, text.substr(pos), {}, {}});
            break;
        }
        if (open > pos) out.push_back({false, text.substr(pos, open - pos), {}, {}});
        // Quoted text in a timestamp pattern may hold '}', so look for the
        // first brace outside single quotes.
        bool quoted = false;
        std::size_t close = std::string_view::npos;
        for (std::size_t i = open + 2; i < text.size(); ++i) {
            if (text[i] == '\'') {
                quoted = !quoted;
            } else if (text[i] == '}' && !quoted) {
                close = i;
                break;
            }
        }
        std::string_view body =
            close == std::string_view::npos ? std::string_view{} : text.substr(open + 2, close - open - 2);
        std::size_t colon = body.find(':');
        if (close == std::string_view::npos || colon == std::string_view::npos || colon == 0) {
            throw std::invalid_argument("'!{' may only start a !{namespace:value} expression");
        }
        out.push_back({true, text.substr(open, close - open + 1), body.substr(0, colon), body.substr(colon + 1)});
        pos = close + 1;
    }
    return out;
}

bool has_expression(const std::vector<segment>& segments) {
    for (const auto& s : segments) {
        if (s.expression) return true;
    }
    return false;
}

bool has_expression(const std::vector<segment>& segments, std::string_view ns, std::string_view value = {}) {
    for (const auto& s : segments) {
        if (s.expression && s.ns == ns && (value.empty() || s.value == value)) return true;
    }
    return false;
}

std::tm utc_parts(time_point when) {
    std::time_t seconds = std::chrono::system_clock::to_time_t(
        std::chrono::floor<std::chrono::seconds>(when));
    std::tm parts{};
    gmtime_r(&seconds, &parts);
    return parts;
}

std::string padded(long long value, std::size_t width) {
    std::string digits = std::to_string(value < 0 ? -value : value);
    if (digits.size() < width) digits.insert(0, width - digits.size(), '0');
    return value < 0 ? "-" + digits : digits;
}

void too_many(char letter) {
    throw std::invalid_argument(std::string("Too many pattern letters: ") + letter);
}

void append_field(std::string& out, char letter, std::size_t count, const std::tm& t, time_point when) {
    static constexpr const char* months[] = {"January", "February", "March",     "April",   "May",      "June",
                                             "July",    "August",   "September", "October", "November", "December"};
    static constexpr const char* days[] = {"Sunday",   "Monday", "Tuesday", "Wednesday",
                                           "Thursday", "Friday", "Saturday"};
    const long long year = t.tm_year + 1900LL;
    switch (letter) {
        case 'y':
        case 'u':
            out += count == 2 ? padded(year % 100, 2) : padded(year, count);
            return;
        case 'M':
        case 'L': {
            const std::string name = months[t.tm_mon];
            if (count <= 2) out += padded(t.tm_mon + 1, count);
            else if (count == 3) out += name.substr(0, 3);
            else if (count == 4) out += name;
            else if (count == 5) out += name.substr(0, 1);
            else too_many(letter);
            return;
        }
        case 'd':
        case 'H':
        case 'k':
        case 'h':
        case 'K':
        case 'm':
        case 's': {
            if (count > 2) too_many(letter);
            int value = 0;
            switch (letter) {
                case 'd': value = t.tm_mday; break;
                case 'H': value = t.tm_hour; break;
                case 'k': value = t.tm_hour == 0 ? 24 : t.tm_hour; break;
                case 'h': value = t.tm_hour % 12 == 0 ? 12 : t.tm_hour % 12; break;
                case 'K': value = t.tm_hour % 12; break;
                case 'm': value = t.tm_min; break;
                default: value = t.tm_sec; break;
            }
            out += padded(value, count);
            return;
        }
        case 'D':
            if (count > 3) too_many(letter);
            out += padded(t.tm_yday + 1, count);
            return;
        case 'S': {
            if (count > 9) too_many(letter);
            auto since_second = when - std::chrono::floor<std::chrono::seconds>(when);
            long long nanos = std::chrono::duration_cast<std::chrono::nanoseconds>(since_second).count();
            out += padded(nanos, 9).substr(0, count);
            return;
        }
        case 'a':
            if (count > 1) too_many(letter);
            out += t.tm_hour < 12 ? "AM" : "PM";
            return;
        case 'E': {
            const std::string name = days[t.tm_wday];
            if (count <= 3) out += name.substr(0, 3);
            else if (count == 4) out += name;
            else if (count == 5) out += name.substr(0, 1);
            else too_many(letter);
            return;
        }
        default:
            throw std::invalid_argument(std::string("Unsupported pattern letter: ") + letter);
    }
}

// The longest output each error-output-type, month and weekday can give, so
// that validation measures the worst case.
constexpr std::string_view longest_error_output_type = error_output_type::format_conversion_failed;
const time_point longest_names_instant = std::chrono::sys_days{std::chrono::year{2000} / 9 / 27} +
                                         std::chrono::hours{23} + std::chrono::minutes{59} +
                                         std::chrono::seconds{59} + std::chrono::milliseconds{999};

std::string evaluate(const std::vector<segment>& segments, const prefix_values& values) {
    std::string out;
    for (const auto& s : segments) {
        if (!s.expression) {
            out += s.text;
        } else if (s.ns == "timestamp") {
            out += format_timestamp(s.value, values.timestamp);
        } else if (s.ns == "firehose" && s.value == "random-string") {
            if (values.random == nullptr || !*values.random) {
                throw std::invalid_argument("random-string needs a random source");
            }
            out += random_string(*values.random);
        } else if (s.ns == "firehose" && s.value == "error-output-type") {
            out += values.error_output_type;
        } else if (s.ns == "partitionKeyFromQuery" || s.ns == "partitionKeyFromLambda") {
            const std::string key(s.value);
            if (values.partition_keys == nullptr || !values.partition_keys->contains(key)) {
                throw std::invalid_argument("no value for partition key '" + key + "'");
            }
            out += values.partition_keys->at(key);
        } else {
            throw std::invalid_argument("unsupported expression " + std::string(s.text));
        }
    }
    return out;
}

[[noreturn]] void reject(const std::string& rule) {
    throw api_error::invalid_argument(std::string(rule_lead_in) + rule);
}

// Checks the expressions of one field; returns its segments.
std::vector<segment> check_field(std::string_view field, std::string_view text, bool dynamic_partitioning) {
    std::vector<segment> segments;
    try {
        segments = split_expressions(text);
    } catch (const std::invalid_argument&) {
        reject(std::string(field) + " contains '!{' outside a !{namespace:value} expression");
    }
    for (const auto& s : segments) {
        if (!s.expression) continue;
        if (s.ns == "timestamp") {
            try {
                format_timestamp(s.value, longest_names_instant);
            } catch (const std::invalid_argument& e) {
                reject(std::string(field) + " contains an invalid timestamp expression " + std::string(s.text) +
                       ": " + e.what());
            }
        } else if (s.ns == "firehose") {
            if (s.value != "random-string" && s.value != "error-output-type") {
                reject(std::string(field) + " contains an unsupported firehose expression " + std::string(s.text));
            }
        } else if (s.ns == "partitionKeyFromQuery" || s.ns == "partitionKeyFromLambda") {
            if (!dynamic_partitioning) {
                reject(std::string(field) + " can contain " + std::string(s.ns) +
                       " expressions only when dynamic partitioning is enabled");
            }
            if (s.value.empty()) reject(std::string(field) + " contains an empty partition key name");
        } else {
            reject(std::string(field) + " contains an unsupported expression namespace in " + std::string(s.text));
        }
    }
    return segments;
}

}  // namespace

void validate_s3_prefixes(std::string_view prefix, std::string_view error_output_prefix, bool dynamic_partitioning) {
    std::vector<segment> data = check_field("Prefix", prefix, dynamic_partitioning);
    std::vector<segment> error = check_field("ErrorOutputPrefix", error_output_prefix, dynamic_partitioning);

    if (has_expression(data, "firehose", "error-output-type")) {
        reject("Prefix cannot contain !{firehose:error-output-type}");
    }
    if (has_expression(data) && error_output_prefix.empty()) {
        reject("ErrorOutputPrefix cannot be null or empty when Prefix contains expressions");
    }
    if ((has_expression(data) || has_expression(error)) &&
        !has_expression(error, "firehose", "error-output-type")) {
        reject("ErrorOutputPrefix must contain !{firehose:error-output-type} when Prefix or ErrorOutputPrefix "
               "contains expressions");
    }

    // Measure the longest result either field can evaluate to. Partition
    // key values are not known yet and count as empty.
    random_source fixed = [] { return std::uint64_t{0}; };
    std::map<std::string, std::string> no_keys;
    prefix_values worst{longest_names_instant, &fixed, longest_error_output_type, &no_keys};
    for (const auto& s : data) {
        if (s.expression && s.ns.substr(0, 12) == "partitionKey") no_keys[std::string(s.value)];
    }
    for (const auto& s : error) {
        if (s.expression && s.ns.substr(0, 12) == "partitionKey") no_keys[std::string(s.value)];
    }
    if (evaluate_prefix(prefix, worst).size() > max_evaluated_prefix_length) {
        reject("Prefix cannot be longer than 512 characters after evaluation");
    }
    if (!error_output_prefix.empty() &&
        evaluate_error_output_prefix(error_output_prefix, prefix, worst).size() > max_evaluated_prefix_length) {
        reject("ErrorOutputPrefix cannot be longer than 512 characters after evaluation");
    }
}

std::string evaluate_prefix(std::string_view prefix, const prefix_values& values) {
    std::vector<segment> segments = split_expressions(prefix);
    std::string out = evaluate(segments, values);
    if (!has_expression(segments, "timestamp")) out += format_timestamp(default_time_pattern, values.timestamp);
    return out;
}

std::string evaluate_error_output_prefix(std::string_view error_output_prefix, std::string_view prefix,
                                         const prefix_values& values) {
    if (!error_output_prefix.empty()) return evaluate(split_expressions(error_output_prefix), values);
    std::string out = evaluate(split_expressions(prefix), values);
    out += values.error_output_type;
    out += '/';
    out += format_timestamp(default_time_pattern, values.timestamp);
    return out;
}

std::string object_name(std::string_view stream_name, std::string_view version_id, time_point when,
                        std::string_view uuid, std::string_view extension) {
    std::string out(stream_name);
    out += '-';
    out += version_id;
    out += '-';
    out += format_timestamp("yyyy-MM-dd-HH-mm-ss", when);
    out += '-';
    out += uuid;
    out += extension;
    return out;
}

std::string random_uuid(const random_source& random) {
    std::uint64_t high = random();
    std::uint64_t low = random();
    high = (high & ~std::uint64_t{0xf000}) | 0x4000;                       // version 4
    low = (low & ~(std::uint64_t{0xc} << 60)) | (std::uint64_t{0x8} << 60);  // RFC 4122 variant
    static constexpr char digits[] = "0123456789abcdef";
    std::string out;
    out.reserve(36);
    for (int i = 0; i < 32; ++i) {
        if (i == 8 || i == 12 || i == 16 || i == 20) out += '-';
        std::uint64_t word = i < 16 ? high : low;
        int shift = 60 - 4 * (i % 16);
        out += digits[(word >> shift) & 0xf];
    }
    return out;
}

std::string random_string(const random_source& random) {
    static constexpr char digits[] = "0123456789abcdef";
    std::uint64_t bits = random();
    std::string out;
    out.reserve(random_string_length);
    for (std::size_t i = 0; i < random_string_length; ++i) {
        out += digits[bits & 0xf];
        bits >>= 4;
    }
    return out;
}

std::string format_timestamp(std::string_view pattern, time_point when) {
    const std::tm t = utc_parts(when);
    std::string out;
    for (std::size_t i = 0; i < pattern.size();) {
        char c = pattern[i];
        if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')) {
            std::size_t count = 1;
            while (i + count < pattern.size() && pattern[i + count] == c) ++count;
            append_field(out, c, count, t, when);
            i += count;
        } else if (c == '\'') {
            if (i + 1 < pattern.size() && pattern[i + 1] == '\'') {
                out += '\'';
                i += 2;
                continue;
            }
            std::size_t j = i + 1;
            for (;; ++j) {
                if (j >= pattern.size()) {
                    throw std::invalid_argument("Pattern ends with an incomplete string literal: " +
                                                std::string(pattern));
                }
                if (pattern[j] == '\'') {
                    if (j + 1 < pattern.size() && pattern[j + 1] == '\'') {
                        out += '\'';
                        ++j;
                        continue;
                    }
                    break;
                }
                out += pattern[j];
            }
            i = j + 1;
        } else if (c == '#' || c == '{' || c == '}') {
            throw std::invalid_argument(std::string("Pattern includes reserved character: '") + c + "'");
        } else {
            if (c != '[' && c != ']') out += c;
            ++i;
        }
    }
    return out;
}

}  // namespace kinesd::delivery
