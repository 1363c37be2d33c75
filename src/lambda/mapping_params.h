#pragma once
// The settings members of CreateEventSourceMapping and
// UpdateEventSourceMapping: Lambda's ranges (ValidationException, in AWS's
// "1 validation error detected" words) and its rules across members
// (InvalidParameterValueException).
#include <nlohmann/json.hpp>

#include "kinesd/api_error.h"
#include "lambda/mapping.h"

namespace kinesd::lambda {

inline api_error invalid_parameter(std::string m) { return {400, "InvalidParameterValueException", std::move(m)}; }
inline api_error not_found(std::string m) { return {404, "ResourceNotFoundException", std::move(m)}; }
inline api_error conflict(std::string m) { return {409, "ResourceConflictException", std::move(m)}; }
inline api_error in_use(std::string m) { return {400, "ResourceInUseException", std::move(m)}; }

// Applies every settings member present in `in` to `m`. `creating`: the
// members only CreateEventSourceMapping takes are read too.
void apply_params(mapping& m, const nlohmann::json& in, bool creating);

}  // namespace kinesd::lambda
