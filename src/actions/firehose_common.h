#pragma once
// Helpers shared by the Firehose action families: request shapes of the S3
// destinations, AWS's not-found text, the stored destination description and
// the DeliveryStreamDescription built from it.
#include <string>

#include <nlohmann/json.hpp>

#include "actions/action.h"
#include "delivery/firehose_registry.h"

namespace kinesd::actions::firehose {

// Member shapes (validation tables) used by several actions.
field delivery_stream_name(bool required = true);
extern const shape extended_s3_configuration_shape;
extern const shape s3_configuration_shape;
extern const shape extended_s3_update_shape;
extern const shape s3_update_shape;
extern const shape encryption_input_shape;
extern const shape buffering_hints_shape;
extern const shape logging_shape;
extern const shape processing_shape;
extern const shape tag_shape;
// Functions rather than objects: other files' static tables copy them.
field role_arn_field(bool required);
field tag_key_field(std::string_view name, bool required);

delivery::firehose_registry& registry(const action_context& ctx);
std::string delivery_stream_arn(const action_context& ctx, const std::string& name);
// ResourceNotFoundException "Firehose <name> under account <acct> not found."
api_error not_found(const action_context& ctx, const std::string& name);
delivery::delivery_snapshot require(const action_context& ctx, const std::string& name);

// The ExtendedS3DestinationDescription for a (Extended)S3DestinationConfiguration,
// with AWS's defaults filled in.
nlohmann::json destination_from_configuration(const nlohmann::json& config);
// The S3DestinationDescription for an S3DestinationConfiguration (a backup
// bucket), with AWS's defaults filled in.
nlohmann::json s3_description_from_configuration(const nlohmann::json& config);
// Merges an (Extended)S3DestinationUpdate into a stored description: members
// the update leaves out keep their values.
void merge_destination(nlohmann::json& stored, const nlohmann::json& update);
// What the model cannot say: prefix rules, processors, unsupported features.
// Throws InvalidArgumentException.
void check_destination(const nlohmann::json& destination);
// ProcessingConfiguration and DynamicPartitioningConfiguration rules
// (firehose_processing.cc); throws InvalidArgumentException.
void check_processing(const nlohmann::json& destination);
// UpdateDestination cannot switch dynamic partitioning on or off.
void check_partitioning_update(const nlohmann::json& stored, const nlohmann::json& merged);
// DeliveryStreamEncryptionConfigurationInput rules; throws InvalidArgumentException.
void check_encryption_input(const nlohmann::json& input);

nlohmann::json description(const action_context& ctx, const delivery::delivery_stream& s,
                           const std::string& exclusive_start_destination_id);

}  // namespace kinesd::actions::firehose
