#pragma once
#include <string>

namespace kinesd {
// Configures the default spdlog logger: one line per event on stderr.
// Levels: trace, debug, info, warn, error, off.
void setup_logging(const std::string& level);
}  // namespace kinesd
