#pragma once
// MetadataExtraction's inline parsing: a jq 1.6 program (libjq, the engine
// and version Firehose names as JsonParsingEngine JQ-1.6) run over one JSON
// record, whose result is an object of partition keys.
//
// A jq_state is not thread-safe, and compiling is far dearer than running,
// so a jq_runner keeps one compiled program per query and belongs to one
// thread: each delivery worker owns one for its reading thread.
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

struct jq_state;

namespace kinesd::delivery {

// Why a query gave no keys for a record.
struct jq_failure {
    std::string code;
    std::string message;
};

struct jq_result {
    // The string members of the object the query produced. A member whose
    // value is not a string is left out: it cannot name a partition.
    std::map<std::string, std::string> keys;
    std::optional<jq_failure> failure;
};

class jq_runner {
public:
    jq_runner();
    ~jq_runner();
    jq_runner(const jq_runner&) = delete;
    jq_runner& operator=(const jq_runner&) = delete;

    jq_result run(const std::string& query, std::string_view json_record);

private:
    struct program;
    std::unordered_map<std::string, std::unique_ptr<program>> programs_;
};

// The compiler's message when `query` is not a valid jq 1.6 program,
// nullopt when it compiles. Safe from any thread (it uses its own state).
std::optional<std::string> jq_compile_error(const std::string& query);

}  // namespace kinesd::delivery
