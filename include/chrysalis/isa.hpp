#pragma once
// chrysalis/isa.hpp — the instruction set chrysalis's kernels are compiled for, in the name of
// the namespace that holds them.
//
// chrysalis is header-only, and its kernels (softmax, the fused distillation loss, the packed
// GEMM) are written for the widest registers the compiler may use: xsimd picks its batch type
// and the GEMM its micro-kernel from the -m flags of each translation unit. If two files of one
// program are compiled with different flags (say one with -march=native and one without), the
// same inline function would have two different bodies, and the linker keeps one of them for
// both files: an ODR violation that can run AVX-512 code from the file compiled for plain
// x86-64. To rule that out, everything in chrysalis except its error types lives in
// an inline namespace named after the instruction set, chrysalis::CHRYSALIS_ISA_NAMESPACE
// (chrysalis::isa_fma3_avx2, chrysalis::isa_sse2, …): users write chrysalis::softmax as
// always, but the two files' symbols differ, so each runs its own kernels. A chrysalis object
// (a network, a dataset, an optimizer) handed from one such file to the other is a different
// type there: that mistake fails to link instead of running the wrong code. The error types in
// errors.hpp do not depend on the instruction set and are shared, so an error thrown in one file
// is caught as chrysalis::Error in any other.
//
// Eigen itself does not name its instruction set: an Eigen function that the compiler does not
// inline, instantiated identically in both files, can still be merged. chrysalis's own products
// and kernels do not go through Eigen's out-of-line kernels on x86 (see detail/gemm.hpp).

// GCC before 13 reports its own AVX-512 intrinsics (`__m512 __Y = __Y;` in _mm512_undefined_ps
// and its kin) as maybe-uninitialised wherever they are inlined: GCC bug 105593, which a
// three-line plain-Eigen program built with -march=native on an AVX-512 machine shows too.
// GCC decides by the location a warning points at, and these point into the intrinsic headers:
// included for the first time between this push and pop, every location in them lies inside
// the region, so the false warnings are silenced for chrysalis's kernels, Eigen's and xsimd's
// alike, and for no other warning. Every chrysalis header includes this one first. (If the
// program includes <Eigen/Core> or <immintrin.h> before any chrysalis header, they are outside
// the region; docs/getting-started.md says what to add then.)
#if defined(__GNUC__) && !defined(__clang__) && __GNUC__ < 13
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"
#endif
#include <Eigen/Core>
#include <xsimd/xsimd.hpp>
#if defined(__GNUC__) && !defined(__clang__) && __GNUC__ < 13
#pragma GCC diagnostic pop
#endif

// -ffinite-math-only (which -ffast-math implies) lets the compiler assume that no value is NaN
// or infinite. Every check that refuses a NaN feature, logit or parameter then folds to "no",
// and the kernels' handling of masked (−∞) logits and of overflow is undefined: softmax of
// {1, NaN, 2} gave {1/3, 0, 2/3} and fit trained on a NaN feature without a word. So such a file
// does not compile, unless it opts in to unchecked results.
#if defined(__FINITE_MATH_ONLY__) && __FINITE_MATH_ONLY__ && \
    !defined(CHRYSALIS_ALLOW_FINITE_MATH_ONLY)
#error \
    "chrysalis: this file is compiled with -ffinite-math-only (or -ffast-math, which implies \
it), which removes chrysalis's checks for NaN and infinite values and its handling of them, so \
results can be silently wrong. Add -fno-finite-math-only after -ffast-math for the files that \
include chrysalis (the rest of -ffast-math may stay), or define CHRYSALIS_ALLOW_FINITE_MATH_ONLY \
to accept unchecked results (docs/getting-started.md)."
#endif

#include <atomic>
#include <string_view>

// xsimd 8.1's integer select for AVX-512BW (arch/xsimd_avx512bw.hpp) switches on sizeof(T) with
// a plain switch, so every instantiation compiles the _mm512_mask_blend_epi8/_epi16 calls of the
// 1- and 2-byte cases. Without optimisation GCC's headers define those intrinsics as macros that
// cast their arguments to vector types, which an xsimd::batch of 4- or 8-byte integers cannot
// be cast to: a -O0 build with -march=native on an AVX-512BW CPU failed to compile as soon as
// xsimd's log or exp (which select on integer batches) was instantiated. For those widths the
// primary template does nothing but forward to the AVX-512DQ select; these explicit
// specialisations do the same without compiling the other cases. They are defined for every
// compiler and optimisation level alike, so all translation units agree on them.
#if XSIMD_WITH_AVX512BW
namespace xsimd::kernel {
#define CHRYSALIS_DETAIL_AVX512BW_SELECT(T)                                     \
    template <>                                                                 \
    inline batch<T, avx512bw> select<avx512bw, T, void>(                        \
        batch_bool<T, avx512bw> const& cond, batch<T, avx512bw> const& true_br, \
        batch<T, avx512bw> const& false_br, requires_arch<avx512bw>) noexcept { \
        return select(cond, true_br, false_br, avx512dq{});                     \
    }
CHRYSALIS_DETAIL_AVX512BW_SELECT(int)
CHRYSALIS_DETAIL_AVX512BW_SELECT(unsigned int)
CHRYSALIS_DETAIL_AVX512BW_SELECT(long)
CHRYSALIS_DETAIL_AVX512BW_SELECT(unsigned long)
CHRYSALIS_DETAIL_AVX512BW_SELECT(long long)
CHRYSALIS_DETAIL_AVX512BW_SELECT(unsigned long long)
#undef CHRYSALIS_DETAIL_AVX512BW_SELECT
}  // namespace xsimd::kernel
#endif

// The instruction set: the widest one xsimd sees in this translation unit (the same macros decide
// Eigen's packets and the GEMM's micro-kernel).
#if XSIMD_WITH_AVX512BW
#define CHRYSALIS_DETAIL_ISA_BASE isa_avx512bw
#elif XSIMD_WITH_AVX512DQ
#define CHRYSALIS_DETAIL_ISA_BASE isa_avx512dq
#elif XSIMD_WITH_AVX512CD
#define CHRYSALIS_DETAIL_ISA_BASE isa_avx512cd
#elif XSIMD_WITH_AVX512F
#define CHRYSALIS_DETAIL_ISA_BASE isa_avx512f
#elif XSIMD_WITH_FMA3_AVX2
#define CHRYSALIS_DETAIL_ISA_BASE isa_fma3_avx2
#elif XSIMD_WITH_AVX2
#define CHRYSALIS_DETAIL_ISA_BASE isa_avx2
#elif XSIMD_WITH_FMA3_AVX
#define CHRYSALIS_DETAIL_ISA_BASE isa_fma3_avx
#elif XSIMD_WITH_AVX
#define CHRYSALIS_DETAIL_ISA_BASE isa_avx
#elif XSIMD_WITH_FMA3_SSE
#define CHRYSALIS_DETAIL_ISA_BASE isa_fma3_sse
#elif XSIMD_WITH_SSE4_2
#define CHRYSALIS_DETAIL_ISA_BASE isa_sse4_2
#elif XSIMD_WITH_SSE4_1
#define CHRYSALIS_DETAIL_ISA_BASE isa_sse4_1
#elif XSIMD_WITH_SSSE3
#define CHRYSALIS_DETAIL_ISA_BASE isa_ssse3
#elif XSIMD_WITH_SSE3
#define CHRYSALIS_DETAIL_ISA_BASE isa_sse3
#elif XSIMD_WITH_SSE2
#define CHRYSALIS_DETAIL_ISA_BASE isa_sse2
#elif XSIMD_WITH_NEON64
#define CHRYSALIS_DETAIL_ISA_BASE isa_neon64
#elif XSIMD_WITH_NEON
#define CHRYSALIS_DETAIL_ISA_BASE isa_neon
#else
#define CHRYSALIS_DETAIL_ISA_BASE isa_generic
#endif
// CHRYSALIS_DISABLE_SIMD swaps the softmax and distillation kernels for plain scalar loops.
#if defined(CHRYSALIS_DISABLE_SIMD)
#define CHRYSALIS_DETAIL_ISA_CAT2(a, b) a##b
#define CHRYSALIS_DETAIL_ISA_CAT(a, b) CHRYSALIS_DETAIL_ISA_CAT2(a, b)
#define CHRYSALIS_DETAIL_ISA CHRYSALIS_DETAIL_ISA_CAT(CHRYSALIS_DETAIL_ISA_BASE, _scalar)
#else
#define CHRYSALIS_DETAIL_ISA CHRYSALIS_DETAIL_ISA_BASE
#endif

// The namespace's name: the instruction set's. A user may define it beforehand to choose another
// name, e.g. to keep two builds for the same flags apart.
#ifndef CHRYSALIS_ISA_NAMESPACE
#define CHRYSALIS_ISA_NAMESPACE CHRYSALIS_DETAIL_ISA
#endif

#define CHRYSALIS_DETAIL_ISA_STR2(x) #x
#define CHRYSALIS_DETAIL_ISA_STR(x) CHRYSALIS_DETAIL_ISA_STR2(x)

namespace chrysalis {

namespace isa_trace {
/// Where the kernels record their instruction set as they run (see last_kernel_isa). Shared by
/// every translation unit, whatever its flags: it is the witness that each unit ran its own.
inline std::atomic<const char*> last{nullptr};
}  // namespace isa_trace

/// The instruction set of the chrysalis kernel that ran last, on any thread: "isa_fma3_avx2",
/// "isa_sse2", …, what its code was compiled for (nullptr before any kernel ran). The softmax and
/// log-softmax, the fused distillation loss and the matrix products of the layers record it on
/// entry. A diagnostic: it tells which build of the kernels a call really used when files of one
/// program are compiled with different -march flags.
[[nodiscard]] inline const char* last_kernel_isa() noexcept {
    return isa_trace::last.load(std::memory_order_relaxed);
}

inline namespace CHRYSALIS_ISA_NAMESPACE {

/// The instruction set this translation unit's chrysalis kernels are compiled for:
/// "isa_avx512bw", "isa_fma3_avx2", "isa_sse2", … (also the name of their namespace, unless the
/// user chose another with CHRYSALIS_ISA_NAMESPACE).
inline constexpr std::string_view compiled_isa = CHRYSALIS_DETAIL_ISA_STR(CHRYSALIS_DETAIL_ISA);

namespace detail {
/// Records that a kernel of this translation unit's instruction set is running (one relaxed
/// store per call, not per element).
inline void note_kernel_isa() noexcept {
    isa_trace::last.store(CHRYSALIS_DETAIL_ISA_STR(CHRYSALIS_DETAIL_ISA),
                          std::memory_order_relaxed);
}
}  // namespace detail

}  // namespace CHRYSALIS_ISA_NAMESPACE
}  // namespace chrysalis
