#pragma once
// Test support for what a process leaves half done when it dies: a process
// that reaches the point named by the environment variable
// KINESD_TEST_CRASH_AT dies there with SIGKILL, as a machine that lost power
// would. Unset, a call costs one comparison with an empty string.
namespace kinesd {

void crash_point(const char* name);

}  // namespace kinesd
