#pragma once
// Lambda event filtering (FilterCriteria): a record is handed to the
// function when any filter's pattern matches it. A pattern is a JSON object
// whose keys name fields of the record and whose leaves are lists of rules,
// any of which may match: a literal (string, number, null, boolean), or
// {"prefix"}, {"suffix"}, {"anything-but"}, {"numeric": [op, n, ...]},
// {"exists"}, {"equals-ignore-case"}; "$or" takes a list of sub-patterns.
//
// What a Kinesis pattern sees: "data" is the record's data parsed as JSON
// (absent when it is not JSON, so a data rule then never matches, as on
// AWS); beside it are the record's metadata fields by their event names
// (partitionKey, sequenceNumber, approximateArrivalTimestamp,
// kinesisSchemaVersion, eventSource, awsRegion, eventSourceARN).
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace kinesd::lambda {

class event_filter {
public:
    // From a mapping's FilterCriteria (null: everything passes).
    explicit event_filter(const nlohmann::json& criteria);

    bool empty() const { return patterns_.empty(); }
    bool matches(const nlohmann::json& record) const;

    // Whether a Pattern string is a pattern this understands; `why` says
    // what is wrong when not.
    static bool valid(const std::string& pattern, std::string* why);

private:
    std::vector<nlohmann::json> patterns_;
};

}  // namespace kinesd::lambda
