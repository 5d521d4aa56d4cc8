#pragma once
// chrysalis/softmax.hpp — the temperature-scaled softmax and log-softmax over each column of a
// classes × batch matrix (one column per sample).
//
//   softmax(z, T)_i     = exp((z_i − max z)/T) / Σ_j exp((z_j − max z)/T)
//   log_softmax(z, T)_i = (z_i − max z)/T − log Σ_j exp((z_j − max z)/T)
//
// Both are exact rewrites of exp(z_i/T)/Σ exp(z_j/T): subtracting the maximum keeps every
// exponent ≤ 0, so any finite logits (1e4, offsets of 1e3, ties) and any T in (0, ∞) give finite
// results; log-softmax never takes the log of a probability that rounded to zero.

#include "chrysalis/isa.hpp"  // first: see its note on GCC bug 105593

#include <Eigen/Core>

#include <cstddef>
#include <stdexcept>
#include <type_traits>
#include <utility>

#include "chrysalis/config.hpp"
#include "chrysalis/detail/softmax_kernels.hpp"
#include "chrysalis/errors.hpp"
#include "chrysalis/tensor.hpp"

namespace chrysalis::inline CHRYSALIS_ISA_NAMESPACE {

namespace detail {

/// An Eigen object whose columns can be read in place: direct access, and each column's
/// coefficients adjacent in memory (column-major, or a single row).
template <class Derived>
[[nodiscard]] bool has_contiguous_columns(const Eigen::DenseBase<Derived>& m) {
    if constexpr ((int(Derived::Flags) & Eigen::DirectAccessBit) != 0) {
        return m.rows() <= 1 || m.derived().rowStride() == 1;
    } else {
        return false;
    }
}

/// The column-major plain matrix softmax(logits) returns: same scalar and compile-time sizes.
template <class Derived>
using SoftmaxResult =
    Eigen::Matrix<typename Derived::Scalar, Derived::RowsAtCompileTime, Derived::ColsAtCompileTime,
                  column_major_options<Derived::RowsAtCompileTime, Derived::ColsAtCompileTime>>;

template <class Out>
concept WritableDense =
    std::is_base_of_v<Eigen::DenseBase<std::remove_cvref_t<Out>>, std::remove_cvref_t<Out>> &&
    !std::is_const_v<std::remove_reference_t<Out>> &&
    (int(std::remove_cvref_t<Out>::Flags) & Eigen::LvalueBit) != 0;

template <class Derived, class Out>
void check_scalars() {
    static_assert(is_supported_scalar_v<typename Derived::Scalar>,
                  "chrysalis::softmax and log_softmax need float or double logits; convert "
                  "integer or other logits with .template cast<float>() first");
    static_assert(std::is_same_v<typename Derived::Scalar, typename Out::Scalar>,
                  "chrysalis::softmax and log_softmax write into a matrix of the logits' own "
                  "scalar type (float into float, double into double)");
}

/// Makes `out` logits.rows() × logits.cols() (resizing the dynamic dimensions of a Matrix or
/// Array, which allocates nothing when the size already matches) or throws naming `name` and what
/// was wrong with `out`.
template <class Out>
void prepare_output(Out& out, Eigen::Index rows, Eigen::Index cols, const char* name) {
    constexpr bool resizable_rows = Out::RowsAtCompileTime == Eigen::Dynamic;
    constexpr bool resizable_cols = Out::ColsAtCompileTime == Eigen::Dynamic;
    if constexpr (std::is_base_of_v<Eigen::PlainObjectBase<Out>, Out>) {
        if ((resizable_rows || out.rows() == rows) && (resizable_cols || out.cols() == cols)) {
            out.resize(rows, cols);
        }
    }
    if (out.rows() != rows || out.cols() != cols) {
        throw ShapeError(concat(name, ": out is ", out.rows(), "x", out.cols(),
                                " but the logits are ", rows, "x", cols,
                                " (classes x batch); pass an output of that size"));
    }
    if (!has_contiguous_columns(out)) {
        throw ShapeError(
            concat(name,
                   ": out must store each column contiguously (a column-major matrix, a Map or a "
                   "block of whole columns of one)"));
    }
}

/// Distance between the starts of consecutive columns (any value for a single column).
template <class Derived>
[[nodiscard]] std::ptrdiff_t column_stride(const Eigen::DenseBase<Derived>& m) {
    return m.cols() > 1 ? std::ptrdiff_t(m.derived().colStride()) : std::ptrdiff_t(m.rows());
}

template <SoftmaxOutput Output, class Derived, class Out>
void softmax_into(const Eigen::DenseBase<Derived>& logits, double temperature, Out& out,
                  const char* name) {
    using S = typename Derived::Scalar;
    if constexpr (is_supported_scalar_v<S> && std::is_same_v<S, typename Out::Scalar>) {
        require_positive_finite(temperature, name, "temperature T");
        const Eigen::Index rows = logits.rows(), cols = logits.cols();
        // No class: a column has no distribution to give (nothing sums to 1), and the kernels
        // take each column's maximum. A batch of no samples is fine: an empty result.
        if (rows == 0) {
            throw ShapeError(concat(name, ": the logits are 0x", cols,
                                    " (classes x batch); expected at least 1 class (row)"));
        }
        prepare_output(out, rows, cols, name);
        if (cols == 0) return;
        const S t = inverse_temperature<S>(temperature);
        const ColumnBlock<S> in_place{
            out.data(), column_stride(out), out.data(), column_stride(out), rows, cols};

        constexpr bool direct = (int(Derived::Flags) & Eigen::DirectAccessBit) != 0;
        if constexpr (direct) {
            if (has_contiguous_columns(logits)) {  // read the logits where they are
                ColumnBlock<S> b = in_place;
                b.in = logits.derived().data();
                b.in_stride = column_stride(logits);
                softmax_columns<Output>(b, t);
                return;
            }
        }
        // An expression, a row-major matrix or a strided view: evaluate it into out (already the
        // right size, so nothing is allocated), then work in place.
        if constexpr (std::is_base_of_v<Eigen::MatrixBase<Out>, Out>) {
            out.noalias() = logits.derived().matrix();
        } else {
            out = logits.derived().array();
        }
        softmax_columns<Output>(in_place, t);
    }
    // Otherwise check_scalars has already stopped the build with a readable message.
}

}  // namespace detail

/// Temperature softmax of each column of `logits` (classes × batch, one column per sample).
///
/// Requires: `logits` is any Eigen dense expression (Matrix, Array, Map, block, product, …) of
///   float or double; `temperature` is finite and > 0.
/// Ensures: returns an evaluated column-major matrix of the same size whose column j is
///   softmax(logits.col(j) / T): entries in [0, 1] summing to 1 (to rounding) for finite logits.
///   A NaN logit makes its own column NaN; other columns are unaffected. A −∞ logit (a masked
///   class) gets probability 0, provided its column has a finite logit. Logits whose difference
///   overflows (−FLT_MAX and FLT_MAX in float) are still exact: (z_i − max z)/T is then formed as
///   z_i/T − max z/T, so log_softmax is finite wherever its exact value is representable.
///   The kernel multiplies by 1/T in the logits' scalar type, so a T beyond that type's range
///   acts as the nearest representable one: 1/T is capped at the largest finite value (T below
///   about 2.9e-39 in float is one-hot already) and floored at the smallest subnormal (a T above
///   about 7e44 in float is uniform already).
///   Logits of B = 0 columns (an empty batch) give an empty classes × 0 result.
/// Throws: ValueError naming the temperature T when T ≤ 0, NaN or infinite; ShapeError for
///   logits with no rows (0 classes, whatever B: a column of no class has no distribution).
template <class Derived>
[[nodiscard]] detail::SoftmaxResult<Derived> softmax(const Eigen::DenseBase<Derived>& logits,
                                                     double temperature) {
    detail::check_scalars<Derived, Derived>();
    detail::SoftmaxResult<Derived> out(logits.rows(), logits.cols());
    detail::softmax_into<detail::SoftmaxOutput::probabilities>(logits, temperature, out,
                                                               "chrysalis::softmax");
    return out;
}

/// Temperature softmax written into `out`, which the caller owns; allocates nothing.
///
/// Requires: as softmax(logits, T); `out` has the logits' scalar type and stores each column
///   contiguously (column-major Matrix or Array, a Map of one, a block of whole columns). A
///   resizable `out` is resized (a no-op when the size already matches); any other must already
///   be logits.rows() × logits.cols(). `out` may be the logits matrix itself (in place); any other
///   overlap between the two is not allowed.
/// Throws: ValueError for a bad T; ShapeError for logits with no rows (0 classes), a wrongly
///   sized `out` or non-contiguous columns.
template <class Derived, class Out>
requires detail::WritableDense<Out>
void softmax(const Eigen::DenseBase<Derived>& logits, double temperature, Out&& out) {
    using O = std::remove_cvref_t<Out>;
    detail::check_scalars<Derived, O>();
    O& target = out;
    detail::softmax_into<detail::SoftmaxOutput::probabilities>(logits, temperature, target,
                                                               "chrysalis::softmax");
}

/// Temperature log-softmax of each column: log_softmax(z, T)_i = (z_i − max z)/T − log Σ_j
/// exp((z_j − max z)/T), computed directly (never as log(softmax)), so it stays finite and exact
/// where a probability underflows to 0.
///
/// Requires / ensures / throws: as softmax(logits, T), except that entries are ≤ 0 and their
/// exponentials sum to 1.
template <class Derived>
[[nodiscard]] detail::SoftmaxResult<Derived> log_softmax(const Eigen::DenseBase<Derived>& logits,
                                                         double temperature) {
    detail::check_scalars<Derived, Derived>();
    detail::SoftmaxResult<Derived> out(logits.rows(), logits.cols());
    detail::softmax_into<detail::SoftmaxOutput::log_probabilities>(logits, temperature, out,
                                                                   "chrysalis::log_softmax");
    return out;
}

/// Temperature log-softmax written into the caller's `out`; allocates nothing. The contract on
/// `out` is that of softmax(logits, T, out).
template <class Derived, class Out>
requires detail::WritableDense<Out>
void log_softmax(const Eigen::DenseBase<Derived>& logits, double temperature, Out&& out) {
    using O = std::remove_cvref_t<Out>;
    detail::check_scalars<Derived, O>();
    O& target = out;
    detail::softmax_into<detail::SoftmaxOutput::log_probabilities>(logits, temperature, target,
                                                                   "chrysalis::log_softmax");
}

}  // namespace chrysalis::inline CHRYSALIS_ISA_NAMESPACE
