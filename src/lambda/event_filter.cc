#include "lambda/event_filter.h"

#include <algorithm>
#include <cctype>

namespace kinesd::lambda {

namespace {

using json = nlohmann::json;

bool iequals(const std::string& a, const std::string& b) {
    return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
               return std::tolower(static_cast<unsigned char>(x)) == std::tolower(static_cast<unsigned char>(y));
           });
}

bool literal_equal(const json& rule, const json& v) {
    if (rule.is_number() && v.is_number()) return rule.get<double>() == v.get<double>();
    return rule == v;
}

bool numeric_match(const json& conditions, const json& v) {
    if (!v.is_number() || !conditions.is_array()) return false;
    const double x = v.get<double>();
    for (std::size_t i = 0; i + 1 < conditions.size(); i += 2) {
        const auto op = conditions[i].get<std::string>();
        const double n = conditions[i + 1].get<double>();
        bool ok = op == "=" ? x == n : op == "<" ? x < n : op == "<=" ? x <= n : op == ">" ? x > n : op == ">=" ? x >= n
                                                                                                                    : false;
        if (!ok) return false;
    }
    return true;
}

// One rule against one present value (arrays are expanded by the caller).
bool rule_match(const json& rule, const json& v) {
    if (!rule.is_object()) return literal_equal(rule, v);
    const auto first = rule.begin();  // one operator per rule object
    const std::string& op = first.key();
    const json& arg = first.value();
    if (op == "prefix") {
        if (arg.is_object() && arg.contains("equals-ignore-case"))
            return v.is_string() && v.get<std::string>().size() >= arg["equals-ignore-case"].get<std::string>().size() &&
                   iequals(v.get<std::string>().substr(0, arg["equals-ignore-case"].get<std::string>().size()),
                           arg["equals-ignore-case"].get<std::string>());
        return v.is_string() && arg.is_string() && v.get<std::string>().starts_with(arg.get<std::string>());
    }
    if (op == "suffix")
        return v.is_string() && arg.is_string() && v.get<std::string>().ends_with(arg.get<std::string>());
    if (op == "equals-ignore-case") return v.is_string() && arg.is_string() && iequals(v.get<std::string>(), arg.get<std::string>());
    if (op == "numeric") return numeric_match(arg, v);
    if (op == "anything-but") {
        if (arg.is_array())
            return std::none_of(arg.begin(), arg.end(), [&](const json& a) { return literal_equal(a, v); });
        if (arg.is_object()) return !rule_match(arg, v);
        return !literal_equal(arg, v);
    }
    return false;
}

bool pattern_match(const json& pattern, const json& record);

// A field's rule list against the record's field (which may be absent).
bool field_match(const json& rules, const json* value) {
    if (rules.is_object()) return value && value->is_object() && pattern_match(rules, *value);
    for (const auto& rule : rules) {
        if (rule.is_object() && rule.contains("exists")) {
            const bool want = rule["exists"].get<bool>();
            // An object or array counts as present only for leaves that hold values.
            if (want == (value != nullptr && !value->is_object())) return true;
            continue;
        }
        if (!value) continue;
        if (value->is_array()) {
            if (std::any_of(value->begin(), value->end(), [&](const json& e) { return rule_match(rule, e); }))
                return true;
        } else if (rule_match(rule, *value)) {
            return true;
        }
    }
    return false;
}

bool pattern_match(const json& pattern, const json& record) {
    for (const auto& [key, rules] : pattern.items()) {
        if (key == "$or") {
            if (std::none_of(rules.begin(), rules.end(), [&](const json& p) { return pattern_match(p, record); }))
                return false;
            continue;
        }
        const json* value = nullptr;
        if (record.is_object())
            if (auto it = record.find(key); it != record.end()) value = &*it;
        if (!field_match(rules, value)) return false;
    }
    return true;
}

bool check_rules(const json& rules, std::string* why);

bool check_pattern(const json& pattern, std::string* why) {
    if (!pattern.is_object() || pattern.empty()) {
        *why = "A pattern must be a non-empty JSON object.";
        return false;
    }
    for (const auto& [key, rules] : pattern.items()) {
        if (key == "$or") {
            if (!rules.is_array() || rules.size() < 2) {
                *why = "$or takes a list of at least two patterns.";
                return false;
            }
            for (const auto& p : rules)
                if (!check_pattern(p, why)) return false;
        } else if (rules.is_object()) {
            if (!check_pattern(rules, why)) return false;
        } else if (!check_rules(rules, why)) {
            return false;
        }
    }
    return true;
}

bool check_rules(const json& rules, std::string* why) {
    if (!rules.is_array() || rules.empty()) {
        *why = "Match values must be in a non-empty list.";
        return false;
    }
    for (const auto& rule : rules) {
        if (!rule.is_object()) continue;
        if (rule.size() != 1) {
            *why = "Each matching rule object holds one operator.";
            return false;
        }
        const auto first = rule.begin();
        const std::string& op = first.key();
        const json& arg = first.value();
        bool ok = (op == "prefix" && (arg.is_string() || (arg.is_object() && arg.contains("equals-ignore-case")))) ||
                  (op == "suffix" && arg.is_string()) || (op == "equals-ignore-case" && arg.is_string()) ||
                  (op == "exists" && arg.is_boolean()) || op == "anything-but";
        if (op == "numeric") {
            ok = arg.is_array() && !arg.empty() && arg.size() % 2 == 0 && arg.size() <= 4;
            for (std::size_t i = 0; ok && i < arg.size(); i += 2) {
                const auto& o = arg[i];
                ok = o.is_string() && arg[i + 1].is_number() &&
                     (o == "=" || o == "<" || o == "<=" || o == ">" || o == ">=");
            }
        }
        if (!ok) {
            *why = "Unsupported or malformed operator '" + op + "'.";
            return false;
        }
    }
    return true;
}

}  // namespace

event_filter::event_filter(const nlohmann::json& criteria) {
    if (!criteria.is_object()) return;
    auto filters = criteria.find("Filters");
    if (filters == criteria.end() || !filters->is_array()) return;
    for (const auto& f : *filters) {
        auto p = json::parse(f.value("Pattern", std::string()), nullptr, false);
        if (!p.is_discarded() && p.is_object()) patterns_.push_back(std::move(p));
    }
}

bool event_filter::matches(const nlohmann::json& record) const {
    if (patterns_.empty()) return true;
    return std::any_of(patterns_.begin(), patterns_.end(), [&](const json& p) { return pattern_match(p, record); });
}

bool event_filter::valid(const std::string& pattern, std::string* why) {
    auto p = json::parse(pattern, nullptr, false);
    if (p.is_discarded()) {
        *why = "The pattern is not valid JSON.";
        return false;
    }
    return check_pattern(p, why);
}

}  // namespace kinesd::lambda
