#pragma once
// This process's name among front ends sharing a store: the owner written
// into the leases it holds. Kept in the data directory so that a restarted
// front end takes its own leases back at once instead of waiting for them
// to expire.
#include <string>

namespace kinesd {

// Reads `<data_dir>/node-id`, creating it (a random id) if absent.
std::string load_node_id(const std::string& data_dir);

}  // namespace kinesd
