#pragma once
// The body of a spin-wait: tells the core that this loop only polls, so that
// it spends less power and yields to its hyperthread sibling.

namespace kinesd {

inline void cpu_relax() {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    asm volatile("yield");
#endif
}

}  // namespace kinesd
