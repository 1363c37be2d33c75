#include "delivery/jq_query.h"

extern "C" {
#include <jq.h>
#include <jv.h>
}

namespace kinesd::delivery {

namespace {

// Above this many cached programs (UpdateDestination changing the query
// again and again), the cache starts afresh rather than growing.
constexpr std::size_t max_programs = 64;

void collect_error(void* data, jv message) {
    auto* out = static_cast<std::string*>(data);
    if (jv_get_kind(message) == JV_KIND_STRING) {
        if (!out->empty()) *out += "; ";
        *out += jv_string_value(message);
    } else {
        jv text = jv_dump_string(jv_copy(message), 0);
        if (!out->empty()) *out += "; ";
        *out += jv_string_value(text);
        jv_free(text);
    }
    jv_free(message);
}

std::string invalid_message(jv value) {
    std::string text = "jq error";
    if (jv_invalid_has_msg(jv_copy(value))) {
        jv msg = jv_invalid_get_msg(value);
        if (jv_get_kind(msg) == JV_KIND_STRING) text = jv_string_value(msg);
        jv_free(msg);
    } else {
        jv_free(value);
    }
    return text;
}

}  // namespace

struct jq_runner::program {
    jq_state* state = nullptr;
    std::string errors;
    bool compiled = false;
    ~program() {
        if (state) jq_teardown(&state);
    }
};

jq_runner::jq_runner() = default;
jq_runner::~jq_runner() = default;

jq_result jq_runner::run(const std::string& query, std::string_view json_record) {
    jq_result result;
    auto it = programs_.find(query);
    if (it == programs_.end()) {
        if (programs_.size() >= max_programs) programs_.clear();
        auto p = std::make_unique<program>();
        p->state = jq_init();
        if (p->state) {
            jq_set_error_cb(p->state, collect_error, &p->errors);
            p->compiled = jq_compile(p->state, query.c_str()) != 0;
        }
        it = programs_.emplace(query, std::move(p)).first;
    }
    auto& p = *it->second;
    if (!p.compiled) {
        result.failure = jq_failure{"DynamicPartitioning.MetadataExtractionFailed",
                                    "The jq query does not compile: " + p.errors};
        return result;
    }
    jv input = jv_parse_sized(json_record.data(), int(json_record.size()));
    if (!jv_is_valid(input)) {
        result.failure = jq_failure{"DynamicPartitioning.MetadataExtractionFailed",
                                    "Non JSON record provided: " + invalid_message(input)};
        return result;
    }
    p.errors.clear();
    jq_start(p.state, input, 0);
    jv out = jq_next(p.state);
    if (!jv_is_valid(out)) {
        std::string why = jv_invalid_has_msg(jv_copy(out)) ? invalid_message(out) : (jv_free(out), "no output");
        if (!p.errors.empty()) why = p.errors;
        result.failure = jq_failure{"DynamicPartitioning.MetadataExtractionFailed",
                                    "The jq query failed on the record: " + why};
        return result;
    }
    // Later outputs are ignored; drain them so the state is ready for the next record.
    for (jv more = jq_next(p.state); jv_is_valid(more); more = jq_next(p.state)) jv_free(more);
    if (jv_get_kind(out) != JV_KIND_OBJECT) {
        jv_free(out);
        result.failure = jq_failure{"DynamicPartitioning.MetadataExtractionFailed",
                                    "The jq query must produce an object of partition keys."};
        return result;
    }
    jv_object_foreach(out, key, value) {
        if (jv_get_kind(value) == JV_KIND_STRING) result.keys[jv_string_value(key)] = jv_string_value(value);
        jv_free(key);
        jv_free(value);
    }
    jv_free(out);
    return result;
}

std::optional<std::string> jq_compile_error(const std::string& query) {
    jq_state* state = jq_init();
    if (!state) return std::string("cannot start jq");
    std::string errors;
    jq_set_error_cb(state, collect_error, &errors);
    bool ok = jq_compile(state, query.c_str()) != 0;
    jq_teardown(&state);
    if (ok) return std::nullopt;
    return errors.empty() ? std::string("compile error") : errors;
}

}  // namespace kinesd::delivery
