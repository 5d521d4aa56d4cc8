#pragma once
// chrysalis/detail/elementwise.hpp — loops over contiguous elements, one SIMD register at a time
// and then one element at a time, with one body for both (optimizer updates, finiteness checks).

#include "chrysalis/isa.hpp"  // first: see its note on GCC bug 105593

#include <Eigen/Core>
#include <xsimd/xsimd.hpp>

#include <type_traits>

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

}  // namespace detail
}  // namespace chrysalis::inline CHRYSALIS_ISA_NAMESPACE
