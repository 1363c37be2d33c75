#pragma once
#include <map>
#include <string>

#include <nlohmann/json.hpp>

namespace kinesd::actions::kinesis {
// Tag map from a request, after AWS's character rule; throws
// InvalidArgumentException "Some tags contain invalid characters..." otherwise.
std::map<std::string, std::string> checked_tags(const nlohmann::json& tags);
}  // namespace kinesd::actions::kinesis
