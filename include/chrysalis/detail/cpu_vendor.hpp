#pragma once
// chrysalis/detail/cpu_vendor.hpp — whose x86 CPU this is, from CPUID leaf 0's vendor string.
//
// Two CPUs with the same instruction set and the same FMA datapath (fma_datapath.hpp) can still
// differ in how their caches and prefetchers take a strided read. The packed GEMM reads the
// vendor for one such choice, measured on each (gemm_kernel.hpp, reads_transposed_b_in_place).
// Like the datapath, it only ever chooses between ways of computing the same numbers.

#include "chrysalis/isa.hpp"  // first: see its note on GCC bug 105593

#if (defined(__x86_64__) || defined(__i386__)) && defined(__GNUC__) && __has_include(<cpuid.h>)
#include <cpuid.h>

#include <cstring>
#define CHRYSALIS_DETAIL_CPUID 1
#endif

namespace chrysalis::inline CHRYSALIS_ISA_NAMESPACE::detail {

/// The CPU's maker, as far as chrysalis tells them apart.
enum class CpuVendor { other, intel, amd };

/// The vendor of the CPU this runs on: `intel` for "GenuineIntel", `amd` for "AuthenticAMD",
/// `other` for any other string, where CPUID cannot be read, and off x86. Read once, on first
/// call, then cached for the life of the program; callable from any thread.
[[nodiscard]] inline CpuVendor cpu_vendor() noexcept {
#if defined(CHRYSALIS_DETAIL_CPUID)
    static const CpuVendor vendor = [] {
        unsigned int eax = 0, ebx = 0, ecx = 0, edx = 0;
        if (__get_cpuid(0, &eax, &ebx, &ecx, &edx) == 0) return CpuVendor::other;
        char name[13] = {};  // EBX, EDX, ECX: 12 characters
        std::memcpy(name, &ebx, 4);
        std::memcpy(name + 4, &edx, 4);
        std::memcpy(name + 8, &ecx, 4);
        if (std::strcmp(name, "GenuineIntel") == 0) return CpuVendor::intel;
        if (std::strcmp(name, "AuthenticAMD") == 0) return CpuVendor::amd;
        return CpuVendor::other;
    }();
    return vendor;
#else
    return CpuVendor::other;
#endif
}

}  // namespace chrysalis::inline CHRYSALIS_ISA_NAMESPACE::detail
