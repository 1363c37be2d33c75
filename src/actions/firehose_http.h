#pragma once
// The HTTP endpoint destination's control plane: request shapes of
// HttpEndpointDestinationConfiguration and HttpEndpointDestinationUpdate,
// the stored description (with AWS's defaults) and what DescribeDeliveryStream
// shows of it (the access key never).
#include <nlohmann/json.hpp>

#include "actions/shape.h"

namespace kinesd::actions::firehose {

extern const shape http_endpoint_configuration_shape;
extern const shape http_endpoint_update_shape;

nlohmann::json http_destination_from_configuration(const nlohmann::json& config);
void merge_http_destination(nlohmann::json& stored, const nlohmann::json& update);
// Rules the model cannot express; throws InvalidArgumentException.
void check_http_destination(const nlohmann::json& destination);
nlohmann::json http_description(const nlohmann::json& stored);

}  // namespace kinesd::actions::firehose
