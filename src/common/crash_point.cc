#include "common/crash_point.h"

#include <spdlog/spdlog.h>

#include <csignal>
#include <cstdlib>
#include <string>

namespace kinesd {

void crash_point(const char* name) {
    static const std::string armed = [] {
        const char* at = std::getenv("KINESD_TEST_CRASH_AT");
        return std::string(at ? at : "");
    }();
    if (armed.empty() || armed != name) return;
    spdlog::critical("KINESD_TEST_CRASH_AT={}: dying here", name);
    spdlog::default_logger()->flush();
    std::raise(SIGKILL);
}

}  // namespace kinesd
