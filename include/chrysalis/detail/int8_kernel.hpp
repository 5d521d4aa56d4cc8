#pragma once
// chrysalis/detail/int8_kernel.hpp — the int8 × int8 → int32 products of int8_network.hpp: int8
// weights packed output-major for each kernel (Int8Packed: a register holds 4 depths of 8 or 16
// outputs, one output per int32 lane), int8 input columns zero-padded to a multiple of 64 bytes,
// and a blocked product that hands every int32 accumulator of a tile to an epilogue. Four
// kernels compute the same integers:
//
//   scalar     Σ_k int32(w[o,k])·int32(x[k,j]) in plain C++: the reference, always compiled;
//   avx2       vpmaddubsw + vpmaddwd on 256 bits, with the sign trick below;
//   avx512bw   the same on 512 bits (AVX-512 has no vpsignb: a masked subtract negates instead);
//   avx512vnni vpdpbusd on 512 bits (one instruction for the multiply and the int32 sum), compiled
//              only where the compiler targets AVX-512 VNNI (__AVX512VNNI__).
//
// The sign trick. vpmaddubsw multiplies unsigned bytes by signed bytes, so both sides are
// rewritten: a = |x| (an unsigned byte) and b = w·sign(x) (w ∈ [−127, 127], so −w is a byte too:
// this is why weights never hold −128), and a·b = x·w exactly (x = 0 makes a = 0, whatever b is).
//
// The pairing. Activations are quantized to x ∈ [−63, 63] (int8_activation_max: PyTorch's
// "reduce_range" for the same instructions), so vpmaddubsw's sum of two products is at most
// 2·63·127 = 16002 in magnitude, and the sums of two consecutive depth steps added by vpaddw at
// most 32004 < 32767: exact in int16, without saturation. vpmaddwd against ones then adds two
// int16s into an int32 (exact) for both steps at once: five instructions for two steps — two
// vpmaddubsw, vpaddw, vpmaddwd, vpaddd — where full-range bytes (2·127·127 = 32258 a pair,
// which leaves no room for a second) need six, and on CPUs without VNNI the arithmetic ports
// are the bound. The int32 sums are exact while |Σ_k x_k·w_k| ≤ 63·127·K < 2³¹; int8_max_depth
// keeps the stricter 127·127·K. Integer addition being associative, every kernel's
// accumulators equal the scalar reference's bit for bit, whatever order each sums in — which
// is what the tests check. The kernels rely on |x| ≤ 63 (more would wrap the int16 sum);
// int8_network.hpp never makes more, and the tests' blocks respect it.
//
// Everything here is in the instruction-set namespace (isa.hpp): a translation unit built with
// other -march flags gets its own kernels, under another name.

#include "chrysalis/isa.hpp"  // first: see its note on GCC bug 105593

#if defined(__AVX2__)
#include <immintrin.h>
#endif

#include <Eigen/Core>
#include <xsimd/xsimd.hpp>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string_view>
#include <type_traits>
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

/// "scalar", "avx2", "avx512bw" or "avx512vnni"; "?" for a value that is none of the four.
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

/// The largest |q| of a quantized activation (an input of a product): 63, so that the kernels
/// can add two steps' int16 pairs before widening them (the pairing, at the top of this file).
inline constexpr int int8_activation_max = 63;
/// The largest |q| of a quantized weight: 127 (never −128, see the sign trick).
inline constexpr int int8_weight_max = 127;

/// The deepest product whose int32 sums cannot overflow even with full-range bytes on both
/// sides: 127·127·K ≤ 2³¹ − 1 (with activations in ±63, twice as deep would be exact).
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
        std::fill(data.begin(), data.begin() + std::ptrdiff_t{ld * c}, std::int8_t(0));
    }
    std::int8_t* column(long j) noexcept { return data.data() + j * ld; }
    const std::int8_t* column(long j) const noexcept { return data.data() + j * ld; }
};

// ---- the vector operations of each kernel -------------------------------------------------
//
// Each Ops type has: `Acc` (`lanes` int32 lanes), `XPrep` (what is kept per input vector: |x|
// and whatever gives sign(x)), `width` (bytes per register), and
//   broadcast4(p) → the 4 bytes at p in every int32 lane;  load(p) → a register of weights;
//   prep(x) → XPrep;  dot(acc, xp, w) → acc + the per-lane int32 sums of x·w (4 bytes a lane);
//   dot_unsigned(acc, x, w) → the same for x ≥ 0, which is its own |x| (no sign to move);
//   dot2(acc, xp0, w0, xp1, w1), dot2_unsigned(acc, x0, w0, x1, w1) → two steps at once (the
//   pairing at the top: |x| ≤ 63);
//   store(acc, out) → the lanes to out[0, lanes).
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
    static Acc dot2(Acc acc, const XPrep& a, __m256i wa, const XPrep& b, __m256i wb) noexcept {
        return dot2_unsigned(acc, a.abs, _mm256_sign_epi8(wa, a.x), b.abs,
                             _mm256_sign_epi8(wb, b.x));
    }
    static Acc dot2_unsigned(Acc acc, __m256i xa, __m256i wa, __m256i xb, __m256i wb) noexcept {
        const __m256i pairs =
            _mm256_add_epi16(_mm256_maddubs_epi16(xa, wa), _mm256_maddubs_epi16(xb, wb));
        return _mm256_add_epi32(acc, _mm256_madd_epi16(pairs, _mm256_set1_epi16(1)));
    }
    /// The int32 lanes of Acc: the outputs one packed step holds (see Int8Packed).
    static constexpr long lanes = 8;
    /// The four bytes at p (any alignment) in every int32 lane.
    static __m256i broadcast4(const std::int8_t* p) noexcept {
        std::int32_t v;
        std::memcpy(&v, p, sizeof v);
        return _mm256_set1_epi32(v);
    }
    static void store(Acc acc, std::int32_t* out) noexcept {
        _mm256_storeu_si256(reinterpret_cast<__m256i*>(out), acc);
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
        return dot_unsigned(acc, xp.abs, signed_w(xp, w));
    }
    /// acc + vpmaddwd(vpmaddubsw(x, w), 1). With GNU asm, the three instructions as one
    /// statement that updates acc in its register: written with intrinsics, GCC 12 computes a
    /// 6 × 3 tile's eighteen vpmaddubsw first, runs out of registers, and spills accumulators
    /// and shuffles them between registers on every step (about a quarter more instructions
    /// on the two ports that do the arithmetic). The integers are the same either way.
    static Acc dot_unsigned(Acc acc, __m512i x, __m512i w) noexcept {
        const __m512i ones = _mm512_set1_epi16(1);
#if defined(__GNUC__)
        __m512i pairs;
        asm("vpmaddubsw %[w], %[x], %[pairs]\n\t"
            "vpmaddwd %[ones], %[pairs], %[pairs]\n\t"
            "vpaddd %[pairs], %[acc], %[acc]"
            : [acc] "+v"(acc), [pairs] "=&v"(pairs)
            : [w] "v"(w), [x] "v"(x), [ones] "v"(ones));
        return acc;
#else
        return _mm512_add_epi32(acc, _mm512_madd_epi16(_mm512_maddubs_epi16(x, w), ones));
#endif
    }
    static Acc dot2(Acc acc, const XPrep& a, __m512i wa, const XPrep& b, __m512i wb) noexcept {
        return dot2_unsigned(acc, a.abs, signed_w(a, wa), b.abs, signed_w(b, wb));
    }
    /// Two steps: acc + vpmaddwd(vpaddw(vpmaddubsw(xa, wa), vpmaddubsw(xb, wb)), 1), as one
    /// asm statement for the same reason as dot_unsigned.
    static Acc dot2_unsigned(Acc acc, __m512i xa, __m512i wa, __m512i xb, __m512i wb) noexcept {
        const __m512i ones = _mm512_set1_epi16(1);
#if defined(__GNUC__)
        __m512i pa, pb;
        asm("vpmaddubsw %[wa], %[xa], %[pa]\n\t"
            "vpmaddubsw %[wb], %[xb], %[pb]\n\t"
            "vpaddw %[pb], %[pa], %[pa]\n\t"
            "vpmaddwd %[ones], %[pa], %[pa]\n\t"
            "vpaddd %[pa], %[acc], %[acc]"
            : [acc] "+v"(acc), [pa] "=&v"(pa), [pb] "=&v"(pb)
            : [wa] "v"(wa), [xa] "v"(xa), [wb] "v"(wb), [xb] "v"(xb), [ones] "v"(ones));
        return acc;
#else
        const __m512i pairs =
            _mm512_add_epi16(_mm512_maddubs_epi16(xa, wa), _mm512_maddubs_epi16(xb, wb));
        return _mm512_add_epi32(acc, _mm512_madd_epi16(pairs, ones));
#endif
    }
    static constexpr long lanes = 16;
    static __m512i broadcast4(const std::int8_t* p) noexcept {
        std::int32_t v;
        std::memcpy(&v, p, sizeof v);
        return _mm512_set1_epi32(v);
    }
    static void store(Acc acc, std::int32_t* out) noexcept {
        _mm512_storeu_si512(out, acc);
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
    /// No int16 step to share: two vpdpbusd.
    static Acc dot2(Acc acc, const XPrep& a, __m512i wa, const XPrep& b, __m512i wb) noexcept {
        return dot(dot(acc, a, wa), b, wb);
    }
    static Acc dot2_unsigned(Acc acc, __m512i xa, __m512i wa, __m512i xb, __m512i wb) noexcept {
        return dot_unsigned(dot_unsigned(acc, xa, wa), xb, wb);
    }
};
#endif

/// The weights of one layer, laid out for one kernel. For the SIMD kernels (lanes L = the int32
/// lanes of a register: 8 for AVX2, 16 for AVX-512) the outputs go in groups of L and the depth
/// in steps of 4: step s of group g is one register of 4·L bytes at data[(g·steps + s)·4·L],
/// whose int32 lane i holds w[g·L + i][4s … 4s + 3]. A product step broadcasts the four input
/// bytes x[4s … 4s + 3] of a column to every lane and multiply-adds them against the register,
/// so each lane accumulates its own output's sum — no horizontal reduction at the end, and the
/// depth is padded to 4 only (not to the register width). Outputs beyond `rows` and depths
/// beyond `depth` are zero. The scalar reference keeps the plain row-major copy (row o at
/// data[o·ld], ld = int8_padded(depth)), so it shares no layout with the kernels it checks.
struct Int8Packed {
    Int8Kernel kernel = Int8Kernel::scalar;
    long rows = 0, depth = 0;
    long lanes = 0;  ///< outputs per group; 0 for the row-major layout of the scalar reference
    long steps = 0;  ///< ceil(depth / 4): steps per group
    long ld = 0;     ///< the row-major layout's row length
    std::vector<std::int8_t, Eigen::aligned_allocator<std::int8_t>> data;
};

/// The int32 lanes of kernel k's registers: the group size of its packed layout (0: row-major).
constexpr long int8_kernel_lanes(Int8Kernel k) noexcept {
    switch (k) {
        case Int8Kernel::avx2:
            return 8;
        case Int8Kernel::avx512bw:
        case Int8Kernel::avx512vnni:
            return 16;
        default:
            return 0;
    }
}

/// Packs rows × depth weights (row-major, row o at w[o·ld], ld ≥ depth) for `kernel`; for a
/// kernel not compiled here, in the scalar reference's layout (p.kernel says which).
inline Int8Packed int8_pack(Int8Kernel kernel, const std::int8_t* w, long rows, long ld,
                            long depth) {
    Int8Packed p;
    p.lanes = int8_kernel_compiled(kernel) ? int8_kernel_lanes(kernel) : 0;
    p.kernel = p.lanes > 0 ? kernel : Int8Kernel::scalar;
    p.rows = rows;
    p.depth = depth;
    p.steps = (depth + 3) / 4;
    p.ld = int8_padded(depth);
    if (p.lanes == 0) {
        p.data.assign(std::size_t(rows * p.ld), std::int8_t(0));
        for (long o = 0; o < rows; ++o)
            std::copy(w + o * ld, w + o * ld + depth, &p.data[std::size_t(o * p.ld)]);
        return p;
    }
    const long groups = (rows + p.lanes - 1) / p.lanes;
    p.data.assign(std::size_t(groups * p.steps * 4 * p.lanes), std::int8_t(0));
    for (long o = 0; o < rows; ++o) {
        const long g = o / p.lanes, lane = o % p.lanes;
        for (long k = 0; k < depth; ++k) {
            const long s = k / 4;
            p.data[std::size_t((g * p.steps + s) * 4 * p.lanes + lane * 4 + k % 4)] = w[o * ld + k];
        }
    }
    return p;
}

/// One tile of R groups × C columns: out[r][c][i] = Σ_k w[(g0 + r)·L + i][k]·x_cols[c][k], from
/// the packed group panels at w (group r at w + r·group_bytes). `Unsigned`: every x value ≥ 0;
/// every |x| ≤ int8_activation_max (the pairing). The loops over R and C are unrolled whatever
/// the optimisation level, so that acc stays in registers (see micro_kernel in gemm_kernel.hpp).
template <class Ops, int R, int C, bool Unsigned>
inline void int8_tile(
    const std::int8_t* w, long group_bytes, long steps, const std::int8_t* const* x_cols,
    std::int32_t (&out)[std::size_t(R)][std::size_t(C)][std::size_t(Ops::lanes)]) noexcept {
    typename Ops::Acc acc[std::size_t(R)][std::size_t(C)];
#pragma GCC unroll 16
    for (int r = 0; r < R; ++r)
#pragma GCC unroll 16
        for (int c = 0; c < C; ++c) acc[r][c] = Ops::zero();
    long s = 0;
    for (; s + 2 <= steps; s += 2) {  // two steps at a time: the pairing (top of the file)
        const std::int8_t* ws = w + s * Ops::width;
        if constexpr (Unsigned) {
            decltype(Ops::broadcast4(x_cols[0])) xa[std::size_t(C)], xb[std::size_t(C)];
#pragma GCC unroll 16
            for (int c = 0; c < C; ++c) {
                xa[c] = Ops::broadcast4(x_cols[c] + 4 * s);
                xb[c] = Ops::broadcast4(x_cols[c] + 4 * s + 4);
            }
#pragma GCC unroll 16
            for (int r = 0; r < R; ++r) {
                const auto wa = Ops::load(ws + r * group_bytes);
                const auto wb = Ops::load(ws + Ops::width + r * group_bytes);
#pragma GCC unroll 16
                for (int c = 0; c < C; ++c)
                    acc[r][c] = Ops::dot2_unsigned(acc[r][c], xa[c], wa, xb[c], wb);
            }
        } else {
            typename Ops::XPrep xa[std::size_t(C)], xb[std::size_t(C)];
#pragma GCC unroll 16
            for (int c = 0; c < C; ++c) {
                xa[c] = Ops::prep(Ops::broadcast4(x_cols[c] + 4 * s));
                xb[c] = Ops::prep(Ops::broadcast4(x_cols[c] + 4 * s + 4));
            }
#pragma GCC unroll 16
            for (int r = 0; r < R; ++r) {
                const auto wa = Ops::load(ws + r * group_bytes);
                const auto wb = Ops::load(ws + Ops::width + r * group_bytes);
#pragma GCC unroll 16
                for (int c = 0; c < C; ++c) acc[r][c] = Ops::dot2(acc[r][c], xa[c], wa, xb[c], wb);
            }
        }
    }
    for (; s < steps; ++s) {  // an odd last step
        const std::int8_t* ws = w + s * Ops::width;
        if constexpr (Unsigned) {
            decltype(Ops::broadcast4(x_cols[0])) xv[std::size_t(C)];
#pragma GCC unroll 16
            for (int c = 0; c < C; ++c) xv[c] = Ops::broadcast4(x_cols[c] + 4 * s);
#pragma GCC unroll 16
            for (int r = 0; r < R; ++r) {
                const auto wv = Ops::load(ws + r * group_bytes);
#pragma GCC unroll 16
                for (int c = 0; c < C; ++c) acc[r][c] = Ops::dot_unsigned(acc[r][c], xv[c], wv);
            }
        } else {
            typename Ops::XPrep xp[std::size_t(C)];
#pragma GCC unroll 16
            for (int c = 0; c < C; ++c) xp[c] = Ops::prep(Ops::broadcast4(x_cols[c] + 4 * s));
#pragma GCC unroll 16
            for (int r = 0; r < R; ++r) {
                const auto wv = Ops::load(ws + r * group_bytes);
#pragma GCC unroll 16
                for (int c = 0; c < C; ++c) acc[r][c] = Ops::dot(acc[r][c], xp[c], wv);
            }
        }
    }
#pragma GCC unroll 16
    for (int r = 0; r < R; ++r)
#pragma GCC unroll 16
        for (int c = 0; c < C; ++c) Ops::store(acc[r][c], out[r][c]);
}

/// Whether every byte of x[0, n) is ≥ 0 (the OR of all has no sign bit), a register at a time
/// (g++ 12 vectorises the scalar loop by itself at -O3 only). Once per column block: a pass over
/// C columns, against R·C per row block.
inline bool int8_nonnegative(const std::int8_t* x, long n) noexcept {
    using B = xsimd::batch<std::int8_t>;
    constexpr long lanes = long(B::size);
    long k = 0;
    B ored(std::int8_t(0));
    for (; k + lanes <= n; k += lanes) ored = ored | B::load_unaligned(x + k);
    std::uint8_t bits = 0;
    if (k > 0 && xsimd::any(ored < B(std::int8_t(0)))) bits = 0x80;
    for (; k < n; ++k) bits |= std::uint8_t(x[k]);
    return (bits & 0x80) == 0;
}

/// Hands `count` (≤ Group) accumulators of consecutive outputs o0 … of column j to an epilogue,
/// which is either epilogue(o0, j, acc, count, std::integral_constant<long, Group>{}) — all at
/// once, the group size known at compile time — or epilogue(o, j, acc[o − o0]) — one by one.
template <long Group, class Epilogue>
inline void int8_emit(Epilogue& epilogue, long o0, long j, const std::int32_t* acc, long count) {
    using G = std::integral_constant<long, Group>;
    if constexpr (std::is_invocable_v<Epilogue&, long, long, const std::int32_t*, long, G>) {
        epilogue(o0, j, acc, count, G{});
    } else {
        for (long i = 0; i < count; ++i) epilogue(o0 + i, j, acc[i]);
    }
}

/// The blocked product of packed weights p and the columns [j0, j0 + n) of x: for each block of
/// C columns and R groups of outputs, the epilogue receives every int32 accumulator of the tile
/// (int8_emit). Columns are the outer loop, so a block of C input columns stays in L1 while the
/// weights stream past it once; each weight register loaded serves C columns and each input
/// broadcast R groups.
template <class Ops, int R, int C, class Epilogue>
inline void int8_product_with(const Int8Packed& p, const Int8Block& x, long j0, long n,
                              Epilogue& epilogue) {
    constexpr long L = Ops::lanes;
    const long groups = (p.rows + L - 1) / L, group_bytes = p.steps * Ops::width;
    const auto run_columns = [&]<int CC>(long j) {
        const std::int8_t* xc[std::size_t(CC)];
        for (int c = 0; c < CC; ++c) xc[c] = x.column(j + c);
        bool unsigned_x = true;
        for (int c = 0; c < CC; ++c) unsigned_x &= int8_nonnegative(xc[c], 4 * p.steps);
        long g = 0;
        const auto tile = [&]<int RR, bool U>() {
            std::int32_t out[std::size_t(RR)][std::size_t(CC)][std::size_t(L)];
            int8_tile<Ops, RR, CC, U>(p.data.data() + g * group_bytes, group_bytes, p.steps, xc,
                                      out);
            for (int c = 0; c < CC; ++c)
                for (int r = 0; r < RR; ++r) {
                    const long o0 = (g + r) * L;
                    int8_emit<L>(epilogue, o0, j + c, out[r][c], std::min(L, p.rows - o0));
                }
            g += RR;
        };
        // Full tiles, then the groups left over two at a time (each input broadcast serving
        // two weight registers), then one.
        const auto all_groups = [&]<bool U>() {
            while (g + R <= groups) tile.template operator()<R, U>();
            if constexpr (R > 2)
                while (g + 2 <= groups) tile.template operator()<2, U>();
            while (g < groups) tile.template operator()<1, U>();
        };
        if (unsigned_x)
            all_groups.template operator()<true>();
        else
            all_groups.template operator()<false>();
    };
    // Full blocks of C columns, then two columns together (each weight register serving two),
    // then one.
    long t = 0;
    for (; t + C <= n; t += C) run_columns.template operator()<C>(j0 + t);
    if constexpr (C > 2)
        for (; t + 2 <= n; t += 2) run_columns.template operator()<2>(j0 + t);
    for (; t < n; ++t) run_columns.template operator()<1>(j0 + t);
}

/// The scalar reference on the row-major layout: the same epilogue calls, each accumulator a
/// plain sum over the depth.
template <class Epilogue>
inline void int8_product_scalar(const Int8Packed& p, const Int8Block& x, long j0, long n,
                                Epilogue& epilogue) {
    for (long j = j0; j < j0 + n; ++j) {
        const std::int8_t* xj = x.column(j);
        for (long o = 0; o < p.rows; ++o) {
            const std::int8_t* wo = p.data.data() + o * p.ld;
            std::int32_t acc = 0;
            for (long k = 0; k < p.depth; ++k) acc += std::int32_t(wo[k]) * std::int32_t(xj[k]);
            int8_emit<1>(epilogue, o, j, &acc, 1);
        }
    }
}

/// Runs p's kernel on the columns [j0, j0 + n) of x (x.rows == p.depth; its padding zero; every
/// value in [−int8_activation_max, int8_activation_max]), handing every output (o, j) to the
/// epilogue once (int8_emit: one by one, or in runs of consecutive outputs of a column), in an
/// order that depends on the kernel. p must come from int8_pack for a kernel compiled here
/// (int8_kernel_compiled); a kernel not compiled runs the scalar reference on a row-major p only.
template <class Epilogue>
inline void int8_product(const Int8Packed& p, const Int8Block& x, long j0, long n,
                         Epilogue&& epilogue) {
    switch (p.kernel) {
#if defined(__AVX2__)
        // 16 ymm registers: 4 × 2 accumulators, 2 prepared inputs, a weight register, temps.
        case Int8Kernel::avx2:
            return int8_product_with<Int8OpsAvx2, 4, 2>(p, x, j0, n, epilogue);
#endif
#if defined(__AVX512BW__)
        // 32 zmm registers: 4 × 4 accumulators, 2 × 4 broadcast inputs (two steps of four
        // columns: the pairing), 2 weight registers, 2 temporaries and the ones. On a
        // Skylake-SP (int8_bench's int8_tile/RxC, medians of 5): 4×4 78.7–80.0 G
        // multiply-adds/s, 5×3 76–80, 3×4 76–79, 2×8 75–77, 6×3 76–77 (the fastest before
        // the pairing); the pairing's ceiling there is 2 ports × 128 multiply-adds per 5
        // instructions × 1.66 GHz ≈ 85 G/s. Four columns also divide the 16-column blocks of
        // Int8Network::forward.
        case Int8Kernel::avx512bw:
            return int8_product_with<Int8OpsAvx512bw, 4, 4>(p, x, j0, n, epilogue);
#endif
#if defined(__AVX512BW__) && defined(__AVX512VNNI__)
        case Int8Kernel::avx512vnni:
            return int8_product_with<Int8OpsAvx512vnni, 4, 4>(p, x, j0, n, epilogue);
#endif
        default:
            return int8_product_scalar(p, x, j0, n, epilogue);
    }
}

}  // namespace chrysalis::inline CHRYSALIS_ISA_NAMESPACE::detail
