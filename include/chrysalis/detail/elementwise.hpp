#pragma once
// chrysalis/detail/elementwise.hpp — loops over contiguous elements, one SIMD register at a time
// and then one element at a time, with one body for both (optimizer updates, finiteness checks,
// the selects of ReLU and LeakyReLU).

#include "chrysalis/isa.hpp"  // first: see its note on GCC bug 105593

#include <Eigen/Core>
#include <xsimd/xsimd.hpp>

#include <cstdint>
#include <type_traits>

#include "chrysalis/parallel.hpp"

namespace chrysalis::inline CHRYSALIS_ISA_NAMESPACE {
namespace detail {

/// Loads one element (T = S) or one register of elements (T = xsimd::batch<S>) from p.
template <class T, class S>
[[nodiscard]] T load_as(const S* p) noexcept {
    if constexpr (std::is_same_v<T, S>)
        return *p;
    else
        return T::load_unaligned(p);
}
/// Stores x, one element or one register of them, at p.
template <class T, class S>
void store_as(S* p, const T& x) noexcept {
    if constexpr (std::is_same_v<T, S>)
        *p = x;
    else
        x.store_unaligned(p);
}
/// Calls f(T{}, i) over [0, n): with T = xsimd::batch<S> at every i where a whole register of
/// elements fits, then with T = S for the rest, one element each. `f` reads and writes the
/// elements from i on through load_as<T> and store_as, with the same arithmetic for both types.
/// An update written this way costs the compiler a fraction of the same update as an Eigen
/// array expression, makes one pass over memory where a chain of Eigen assignments makes one per
/// assignment, and is vectorised at any optimisation level (docs/performance.md, "Compile time"
/// and "The optimizer update alone").
template <class S, class F>
void elementwise(Eigen::Index n, F&& f) {
    using B = xsimd::batch<S>;
    constexpr auto lanes = Eigen::Index(B::size);
    Eigen::Index i = 0;
    for (; i + lanes <= n; i += lanes) f(B{}, i);
    for (; i < n; ++i) f(S{}, i);
}

/// out[i] = f(in[i]...) for i in [0, n), every element computed in a whole register
/// (xsimd::batch<S>): the last n mod lanes elements in a register padded with zeros, so that
/// each element gets the same arithmetic wherever it falls — for a function whose vector and
/// scalar versions differ in their last bits (xsimd::erf against std::erf), an element's value
/// then depends neither on its row nor on how a pass is split. f takes and returns registers,
/// and must accept the zeros of the padding.
template <class S, class F, class... In>
void map_registers(Eigen::Index n, S* out, F&& f, const In*... in) {
    using B = xsimd::batch<S>;
    constexpr auto lanes = Eigen::Index(B::size);
    Eigen::Index i = 0;
    for (; i + lanes <= n; i += lanes) f(B::load_unaligned(in + i)...).store_unaligned(out + i);
    if (i == n) return;
    const Eigen::Index rest = n - i;
    const auto padded = [&](const S* p) {
        S buffer[std::size_t(lanes)] = {};
        for (Eigen::Index k = 0; k < rest; ++k) buffer[k] = p[i + k];
        return B::load_unaligned(buffer);
    };
    S result[std::size_t(lanes)];
    f(padded(in)...).store_unaligned(result);
    for (Eigen::Index k = 0; k < rest; ++k) out[i + k] = result[k];
}

/// How far ahead of the register it is computing an optimizer update asks for its arrays'
/// values: 1024 elements (4 KiB of floats, 8 KiB of doubles) in each of the gradient, the
/// parameters and the state. The hardware prefetcher alone left the update waiting for memory:
/// on a 2-vCPU Zen 5, Sgd's update of the teacher's 2.39 M parameters inside a two-thread
/// training step took 0.92–0.99 ms with this prefetch against 1.19–1.31 without, and the same
/// update alone 0.55 against 0.69 ms on one thread (docs/performance.md, "The optimizer update
/// prefetched"). 2048 and 4096 measured about the same as 1024.
inline constexpr Eigen::Index update_prefetch_distance = 1024;

/// For a register of elements at i (T = xsimd::batch<S>; nothing for the scalar tail, T = S):
/// asks for the cache lines update_prefetch_distance elements further on in the array the update
/// only reads (the gradient) and, for writing, in those it writes back (parameters, state). A
/// prefetch past an array's end is harmless: it never faults and changes no value (its address is
/// computed as an integer, so no pointer past the array is formed). Compiles to nothing where
/// the compiler has no __builtin_prefetch.
template <class T, class S, class... Written>
[[gnu::always_inline]] inline void prefetch_update([[maybe_unused]] Eigen::Index i,
                                                   [[maybe_unused]] const S* read,
                                                   [[maybe_unused]] Written*... written) noexcept {
#if defined(__GNUC__)
    if constexpr (!std::is_same_v<T, S>) {
        const auto ahead = [i](const S* p) {
            return reinterpret_cast<const void*>(reinterpret_cast<std::uintptr_t>(p) +
                                                 std::uintptr_t(i + update_prefetch_distance) *
                                                     sizeof(S));
        };
        __builtin_prefetch(ahead(read), 0, 3);
        (__builtin_prefetch(ahead(written), 1, 3), ...);
    }
#endif
}

/// f(std::true_type{}) when b, else f(std::false_type{}): a setting tested once, outside the
/// loop f runs, whose body is then compiled for each value (`if constexpr (flag)` inside).
template <class F>
decltype(auto) with_constant(bool b, F&& f) {
    if (b) return f(std::true_type{});
    return f(std::false_type{});
}

/// Calls f(first, count) over the columns [0, cols) of an element-wise pass over a rows × cols
/// matrix: on the calling thread alone when the pass is small, else cut into four blocks of
/// columns per thread, which the threads claim one at a time (parallel_share), as the optimizer
/// update's runs are. A layer's activations at batch 128 (1200 × 128 floats) are one such pass:
/// on one thread it left the other idle between two split products, reading the half of the
/// product's output the other core had written (docs/performance.md, "Element-wise passes
/// split"). Each element's arithmetic does not depend on the cut, so neither does the result.
/// f must not throw.
template <class F>
void for_column_blocks(Eigen::Index rows, Eigen::Index cols, F&& f) {
    constexpr double grain = 1 << 15;  // elements: 128 KiB of floats read, a few microseconds
    parallel_share(long(cols), double(rows) * double(cols), grain, 1,
                   [&](long first, long count) { f(Eigen::Index(first), Eigen::Index(count)); });
}

/// True when M's columns are contiguous in memory (Matrix, Map, Ref, a block of whole columns):
/// data() + j·outerStride() is column j, its elements one after another.
template <class M>
inline constexpr bool contiguous_columns_v = (int(M::Flags) & Eigen::DirectAccessBit) != 0 &&
                                             (int(M::Flags) & Eigen::RowMajorBit) == 0 &&
                                             int(M::InnerStrideAtCompileTime) == 1;

/// Whether select_positive takes (c, a, out) of these types: contiguous columns, one scalar type,
/// out writable. Otherwise the caller writes the select as an Eigen expression.
template <class C, class A, class Out>
inline constexpr bool select_positive_applies = [] {
    using O = std::remove_cvref_t<Out>;
    if constexpr (contiguous_columns_v<C> && contiguous_columns_v<A> && contiguous_columns_v<O>)
        return std::is_same_v<typename C::Scalar, typename A::Scalar> &&
               std::is_same_v<typename O::Scalar, typename A::Scalar> &&
               (int(O::Flags) & Eigen::LvalueBit) != 0;
    else
        return false;
}();

/// out(i, j) = c(i, j) > 0 ? a(i, j) : otherwise(a(i, j)) for matrices of one shape and scalar
/// (out may be c or a): the select of ReLU's and LeakyReLU's passes, column by column, a register
/// at a time. Eigen 3.4 does not vectorise a select (`(c.array() > 0).select(a, b)`), and g++ 12
/// vectorises the scalar loop it leaves at -O3 only: at -O2 ReLU's backward was a scalar loop, a
/// tenth of the teacher's training step (docs/performance.md, "-O2 as fast as -O3"). The same
/// comparison and the same `otherwise` on each element, so the results are those of the select
/// to the bit. `otherwise(v)` gets an element (S) or a register of them (xsimd::batch<S>) and
/// returns the same type and must not throw. Large passes are split among threads by columns
/// (for_column_blocks).
/// Requires: select_positive_applies<C, A, Out>.
template <class C, class A, class Out, class F>
void select_positive(const Eigen::MatrixBase<C>& c, const Eigen::MatrixBase<A>& a, Out&& out,
                     F otherwise) {
    using S = typename A::Scalar;
    static_assert(select_positive_applies<C, A, Out>);
    const Eigen::Index rows = out.rows();
    for_column_blocks(rows, out.cols(), [&](Eigen::Index first, Eigen::Index count) {
        for (Eigen::Index j = first; j < first + count; ++j) {
            const S* cj = c.derived().data() + j * c.derived().outerStride();
            const S* aj = a.derived().data() + j * a.derived().outerStride();
            S* oj = out.data() + j * out.outerStride();
            elementwise<S>(rows, [&](auto t, Eigen::Index i) {
                using T = decltype(t);
                const T av = load_as<T>(aj + i);
                if constexpr (std::is_same_v<T, S>)
                    store_as(oj + i, cj[i] > S(0) ? av : T(otherwise(av)));
                else
                    store_as(oj + i,
                             xsimd::select(load_as<T>(cj + i) > T(S(0)), av, T(otherwise(av))));
            });
        }
    });
}

}  // namespace detail
}  // namespace chrysalis::inline CHRYSALIS_ISA_NAMESPACE
