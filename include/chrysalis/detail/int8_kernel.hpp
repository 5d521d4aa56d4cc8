#pragma once
// chrysalis/detail/int8_kernel.hpp — the int8 × int8 → int32 products of quantize.hpp: packed
// int8 weights (one row per output, each row zero-padded to a multiple of 64 bytes), int8 input
// columns padded the same way, and a blocked product that hands every int32 accumulator of an
// R × C tile to an epilogue. Four kernels compute the same integers:
//
//   scalar     Σ_k int32(w[o,k])·int32(x[k,j]) in plain C++: the reference, always compiled;
//   avx2       vpmaddubsw + vpmaddwd on 256 bits, with the sign trick below;
//   avx512bw   the same on 512 bits (AVX-512 has no vpsignb: a masked subtract negates instead);
//   avx512vnni vpdpbusd on 512 bits (one instruction for the multiply and the int32 sum), compiled
//              only where the compiler targets AVX-512 VNNI (__AVX512VNNI__).
//
// The sign trick. vpmaddubsw multiplies unsigned bytes by signed bytes, so both sides are
// rewritten: a = |x| (an unsigned byte, x ∈ [−127, 127]) and b = w·sign(x) (w ∈ [−127, 127], so
// −w is a byte too: this is why neither side ever holds −128), and a·b = x·w exactly (x = 0 makes
// a = 0, whatever b is). vpmaddubsw adds two such products into an int16 with saturation:
// |a₀b₀ + a₁b₁| ≤ 2·127·127 = 32258 < 32767, so it never saturates and the int16 is exact.
// vpmaddwd against ones adds two int16s into an int32: exact. The int32 sums are exact while
// |Σ_k x_k·w_k| ≤ 127·127·K < 2³¹, i.e. for depths K ≤ 133144 (quantize checks it at compile
// time). Integer addition being associative, every kernel's accumulators equal the scalar
// reference's bit for bit, whatever order each sums in — which is what the tests check.
//
// Everything here is in the instruction-set namespace (isa.hpp): a translation unit built with
// other -march flags gets its own kernels, under another name.

#include "chrysalis/isa.hpp"  // first: see its note on GCC bug 105593

#if defined(__AVX2__)
#include <immintrin.h>
#endif

#include <Eigen/Core>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

namespace chrysalis::inline CHRYSALIS_ISA_NAMESPACE {

/// The int8 product kernels (see chrysalis/detail/int8_kernel.hpp): the scalar reference and
/// the SIMD ones, each compiled where the translation unit's -m flags allow it.
enum class Int8Kernel { scalar, avx2, avx512bw, avx512vnni };

/// Whether `k` is compiled into this translation unit (the scalar one always is). A compiled
/// kernel may run: the compiler only emits AVX2 or AVX-512 where -m flags said the CPU has them.
constexpr bool int8_kernel_compiled(Int8Kernel k) noexcept {
    switch (k) {
        case Int8Kernel::scalar:
            return true;
#if defined(__AVX2__)
        case Int8Kernel::avx2:
            return true;
#endif
#if defined(__AVX512BW__)
        case Int8Kernel::avx512bw:
            return true;
#endif
#if defined(__AVX512BW__) && defined(__AVX512VNNI__)
        case Int8Kernel::avx512vnni:
            return true;
#endif
        default:
            return false;
    }
}

/// The widest compiled kernel: what quantized networks use.
constexpr Int8Kernel int8_best_kernel() noexcept {
#if defined(__AVX512BW__) && defined(__AVX512VNNI__)
    return Int8Kernel::avx512vnni;
#elif defined(__AVX512BW__)
    return Int8Kernel::avx512bw;
#elif defined(__AVX2__)
    return Int8Kernel::avx2;
#else
    return Int8Kernel::scalar;
#endif
}

/// "scalar", "avx2", "avx512bw" or "avx512vnni".
constexpr std::string_view int8_kernel_name(Int8Kernel k) noexcept {
    switch (k) {
        case Int8Kernel::scalar:
            return "scalar";
        case Int8Kernel::avx2:
            return "avx2";
        case Int8Kernel::avx512bw:
            return "avx512bw";
        case Int8Kernel::avx512vnni:
            return "avx512vnni";
    }
    return "?";
}

}  // namespace chrysalis::inline CHRYSALIS_ISA_NAMESPACE

namespace chrysalis::inline CHRYSALIS_ISA_NAMESPACE::detail {

/// Row length of the packed operands: a multiple of 64 bytes (one AVX-512 register, two AVX2
/// ones), the padding zero.
constexpr long int8_padded(long k) noexcept {
    return (k + 63) / 64 * 64;
}

/// The deepest product whose int32 sums cannot overflow: 127·127·K ≤ 2³¹ − 1.
inline constexpr long int8_max_depth = 2147483647L / (127L * 127L);

/// A column-major rows × cols block of int8 values, each column padded with zeros to
/// int8_padded(rows) bytes (the leading dimension `ld`). Storage only grows.
struct Int8Block {
    std::vector<std::int8_t, Eigen::aligned_allocator<std::int8_t>> data;
    long rows = 0, cols = 0, ld = 0;
    /// Makes it rows × cols. The values are left as they were (new storage is zero): whoever
    /// fills a column writes all ld bytes of it, the zero padding included.
    void resize(long r, long c) {
        rows = r;
        cols = c;
        ld = int8_padded(r);
        const auto size = std::size_t(ld * c);
        if (data.size() < size) data.resize(size);
    }
    /// Makes it rows × cols, every value (padding included) zero.
    void reset(long r, long c) {
        resize(r, c);
        std::fill(data.begin(), data.begin() + std::ptrdiff_t(ld * c), std::int8_t(0));
    }
    std::int8_t* column(long j) noexcept { return data.data() + j * ld; }
    const std::int8_t* column(long j) const noexcept { return data.data() + j * ld; }
};

// ---- the vector operations of each kernel -------------------------------------------------
//
// Each Ops type has: `Acc` (int32 lanes), `XPrep` (what is kept per input vector: |x| and
// whatever gives sign(x)), `width` (bytes per step), and
//   prep(x) → XPrep;  dot(acc, xp, w) → acc + the per-lane int32 sums of x·w;
//   dot_unsigned(acc, x, w) → the same for x ≥ 0, which is its own |x| (no sign to move);
//   sum(acc) → int32.
// Inputs are often all ≥ 0 — pixels, and every hidden layer after a ReLU — and dot_unsigned
// saves the sign operation, one of the four of every step in the AVX2 and AVX-512BW kernels.

#if defined(__AVX2__)
struct Int8OpsAvx2 {
    using Acc = __m256i;
    static constexpr long width = 32;
    struct XPrep {
        __m256i x, abs;
    };
    static Acc zero() noexcept { return _mm256_setzero_si256(); }
    static __m256i load(const std::int8_t* p) noexcept {
        return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p));
    }
    static XPrep prep(__m256i x) noexcept { return {x, _mm256_abs_epi8(x)}; }
    static Acc dot(Acc acc, const XPrep& xp, __m256i w) noexcept {
        // |x| (u8) · w·sign(x) (s8): pairs summed into int16, exact (≤ 32258, see the top).
        const __m256i pairs = _mm256_maddubs_epi16(xp.abs, _mm256_sign_epi8(w, xp.x));
        return _mm256_add_epi32(acc, _mm256_madd_epi16(pairs, _mm256_set1_epi16(1)));
    }
    static Acc dot_unsigned(Acc acc, __m256i x, __m256i w) noexcept {
        const __m256i pairs = _mm256_maddubs_epi16(x, w);
        return _mm256_add_epi32(acc, _mm256_madd_epi16(pairs, _mm256_set1_epi16(1)));
    }
    static std::int32_t sum(Acc acc) noexcept {
        __m128i s = _mm_add_epi32(_mm256_castsi256_si128(acc), _mm256_extracti128_si256(acc, 1));
        s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0x4E));
        s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0xB1));
        return _mm_cvtsi128_si32(s);
    }
};
#endif

#if defined(__AVX512BW__)
struct Int8OpsAvx512bw {
    using Acc = __m512i;
    static constexpr long width = 64;
    struct XPrep {
        __m512i abs;
        __mmask64 negative;  // the lanes where x < 0
    };
    static Acc zero() noexcept { return _mm512_setzero_si512(); }
    static __m512i load(const std::int8_t* p) noexcept { return _mm512_loadu_si512(p); }
    static XPrep prep(__m512i x) noexcept { return {_mm512_abs_epi8(x), _mm512_movepi8_mask(x)}; }
    /// w·sign(x), with x = 0 left as w: its |x| is 0. −w is a byte: w ≠ −128.
    static __m512i signed_w(const XPrep& xp, __m512i w) noexcept {
        return _mm512_mask_sub_epi8(w, xp.negative, _mm512_setzero_si512(), w);
    }
    static Acc dot(Acc acc, const XPrep& xp, __m512i w) noexcept {
        const __m512i pairs = _mm512_maddubs_epi16(xp.abs, signed_w(xp, w));
        return _mm512_add_epi32(acc, _mm512_madd_epi16(pairs, _mm512_set1_epi16(1)));
    }
    static Acc dot_unsigned(Acc acc, __m512i x, __m512i w) noexcept {
        const __m512i pairs = _mm512_maddubs_epi16(x, w);
        return _mm512_add_epi32(acc, _mm512_madd_epi16(pairs, _mm512_set1_epi16(1)));
    }
    static std::int32_t sum(Acc acc) noexcept { return _mm512_reduce_add_epi32(acc); }
    /// out[c] = the sum of a[c]'s lanes, for four accumulators at once: folded to 256 bits,
    /// two per register, then two horizontal adds (about 22 operations against 4 × 9).
    static void sum4(const Acc* a, std::int32_t* out) noexcept {
        __m256i b[4];
        for (int i = 0; i < 4; ++i)
            b[i] =
                _mm256_add_epi32(_mm512_castsi512_si256(a[i]), _mm512_extracti64x4_epi64(a[i], 1));
        // [a0's four partial sums | a1's], [a2's | a3's]
        const __m256i c01 = _mm256_add_epi32(_mm256_permute2x128_si256(b[0], b[1], 0x20),
                                             _mm256_permute2x128_si256(b[0], b[1], 0x31));
        const __m256i c23 = _mm256_add_epi32(_mm256_permute2x128_si256(b[2], b[3], 0x20),
                                             _mm256_permute2x128_si256(b[2], b[3], 0x31));
        const __m256i h = _mm256_hadd_epi32(c01, c23);  // [a0 a0 a2 a2 | a1 a1 a3 a3] pairs
        const __m256i t = _mm256_hadd_epi32(h, h);      // [S0 S2 S0 S2 | S1 S3 S1 S3]
        alignas(32) std::int32_t lanes[8];
        _mm256_store_si256(reinterpret_cast<__m256i*>(lanes), t);
        out[0] = lanes[0];
        out[1] = lanes[4];
        out[2] = lanes[1];
        out[3] = lanes[5];
    }
};
#endif

#if defined(__AVX512BW__) && defined(__AVX512VNNI__)
/// VNNI: vpdpbusd adds the four u8·s8 products of each int32 lane into it, without an int16
/// step (and without saturation: the non-"s" form).
struct Int8OpsAvx512vnni : Int8OpsAvx512bw {
    static Acc dot(Acc acc, const XPrep& xp, __m512i w) noexcept {
        return _mm512_dpbusd_epi32(acc, xp.abs, signed_w(xp, w));
    }
    static Acc dot_unsigned(Acc acc, __m512i x, __m512i w) noexcept {
        return _mm512_dpbusd_epi32(acc, x, w);
    }
};
#endif

/// One R × C tile: out(r, c) = Σ_k w_rows[r][k]·x_cols[c][k] over `ld` bytes (a multiple of
/// Ops::width; the padding of both operands is zero). `Unsigned`: every x_cols value is ≥ 0.
template <class Ops, int R, int C, bool Unsigned>
inline void int8_tile(const std::int8_t* const* w_rows, const std::int8_t* const* x_cols, long ld,
                      std::int32_t (&out)[R][C]) noexcept {
    typename Ops::Acc acc[R][C];
    for (int r = 0; r < R; ++r)
        for (int c = 0; c < C; ++c) acc[r][c] = Ops::zero();
    for (long k = 0; k < ld; k += Ops::width) {
        if constexpr (Unsigned) {
            decltype(Ops::load(x_cols[0])) xv[C];
            for (int c = 0; c < C; ++c) xv[c] = Ops::load(x_cols[c] + k);
            for (int r = 0; r < R; ++r) {
                const auto w = Ops::load(w_rows[r] + k);
                for (int c = 0; c < C; ++c) acc[r][c] = Ops::dot_unsigned(acc[r][c], xv[c], w);
            }
        } else {
            typename Ops::XPrep xp[C];
            for (int c = 0; c < C; ++c) xp[c] = Ops::prep(Ops::load(x_cols[c] + k));
            for (int r = 0; r < R; ++r) {
                const auto w = Ops::load(w_rows[r] + k);
                for (int c = 0; c < C; ++c) acc[r][c] = Ops::dot(acc[r][c], xp[c], w);
            }
        }
    }
    for (int r = 0; r < R; ++r) {
        if constexpr (C == 4 && requires { Ops::sum4(acc[r], out[r]); }) {
            Ops::sum4(acc[r], out[r]);
        } else {
            for (int c = 0; c < C; ++c) out[r][c] = Ops::sum(acc[r][c]);
        }
    }
}

/// Whether every byte of x[0, n) is ≥ 0 (the OR of all has no sign bit; vectorised by the
/// compiler). Once per column block: a pass over C columns, against R·C per row block.
inline bool int8_nonnegative(const std::int8_t* x, long n) noexcept {
    std::uint8_t bits = 0;
    for (long k = 0; k < n; ++k) bits |= std::uint8_t(x[k]);
    return (bits & 0x80) == 0;
}

/// The blocked product over all rows of `w` (rows × depth, row-major, ld bytes per row) and the
/// columns [j0, j0 + n) of `x`: for each column block of C and row block of R, `epilogue(o, j,
/// acc)` receives every int32 accumulator of the tile. Columns are the outer loop, so a block of
/// C input columns stays in L1 while the weights stream past it once; each weight vector loaded
/// serves C columns and each input vector R rows.
template <class Ops, int R, int C, class Epilogue>
inline void int8_product_with(const std::int8_t* w, long rows, long ld, const Int8Block& x, long j0,
                              long n, Epilogue& epilogue) {
    const auto run_columns = [&]<int CC>(long j) {
        const std::int8_t* xc[CC];
        for (int c = 0; c < CC; ++c) xc[c] = x.column(j + c);
        bool unsigned_x = true;
        for (int c = 0; c < CC; ++c) unsigned_x &= int8_nonnegative(xc[c], x.ld);
        long o = 0;
        const auto tile = [&]<int RR, bool U>() {
            const std::int8_t* wr[RR];
            for (int r = 0; r < RR; ++r) wr[r] = w + (o + r) * ld;
            std::int32_t out[RR][CC];
            int8_tile<Ops, RR, CC, U>(wr, xc, ld, out);
            for (int c = 0; c < CC; ++c)
                for (int r = 0; r < RR; ++r) epilogue(o + r, j + c, out[r][c]);
            o += RR;
        };
        if (unsigned_x) {
            while (o + R <= rows) tile.template operator()<R, true>();
            while (o < rows) tile.template operator()<1, true>();
        } else {
            while (o + R <= rows) tile.template operator()<R, false>();
            while (o < rows) tile.template operator()<1, false>();
        }
    };
    long j = j0;
    for (; j + C <= j0 + n; j += C) run_columns.template operator()<C>(j);
    for (; j < j0 + n; ++j) run_columns.template operator()<1>(j);
}

/// The scalar reference: the same epilogue calls, each accumulator a plain sum over the depth.
template <class Epilogue>
inline void int8_product_scalar(const std::int8_t* w, long rows, long ld, long depth,
                                const Int8Block& x, long j0, long n, Epilogue& epilogue) {
    for (long j = j0; j < j0 + n; ++j) {
        const std::int8_t* xj = x.column(j);
        for (long o = 0; o < rows; ++o) {
            const std::int8_t* wo = w + o * ld;
            std::int32_t acc = 0;
            for (long k = 0; k < depth; ++k) acc += std::int32_t(wo[k]) * std::int32_t(xj[k]);
            epilogue(o, j, acc);
        }
    }
}

/// Runs kernel `kernel` (which must be compiled here: int8_kernel_compiled) on rows × depth
/// weights `w` (row stride ld = int8_padded(depth), padding zero) and columns [j0, j0 + n) of x
/// (x.rows == depth), calling epilogue(o, j, acc) once for every output (o, j), in an order
/// that depends on the kernel. Falls back to the scalar reference for a kernel not compiled.
template <class Epilogue>
inline void int8_product(Int8Kernel kernel, const std::int8_t* w, long rows, long ld, long depth,
                         const Int8Block& x, long j0, long n, Epilogue&& epilogue) {
    switch (kernel) {
#if defined(__AVX2__)
        // 16 ymm registers: 4 × 2 accumulators, 2 × 2 prepared inputs, a weight vector, a temp.
        case Int8Kernel::avx2:
            return int8_product_with<Int8OpsAvx2, 4, 2>(w, rows, ld, x, j0, n, epilogue);
#endif
#if defined(__AVX512BW__)
        // 32 zmm registers: 4 × 4 accumulators, 4 × |x| (and 4 mask registers), weights, temps.
        case Int8Kernel::avx512bw:
            return int8_product_with<Int8OpsAvx512bw, 4, 4>(w, rows, ld, x, j0, n, epilogue);
#endif
#if defined(__AVX512BW__) && defined(__AVX512VNNI__)
        case Int8Kernel::avx512vnni:
            return int8_product_with<Int8OpsAvx512vnni, 4, 4>(w, rows, ld, x, j0, n, epilogue);
#endif
        default:
            return int8_product_scalar(w, rows, ld, depth, x, j0, n, epilogue);
    }
}

}  // namespace chrysalis::inline CHRYSALIS_ISA_NAMESPACE::detail
