#pragma once
// chrysalis/metrics.hpp — classification metrics on a logits matrix (classes × B, one column per
// sample): argmax and accuracy, for a user's own evaluation loop. The overloads on a network and
// a data set (accuracy(net, data), confusion_matrix, evaluate) run the network and call these
// semantics; these take the logits themselves.

#include "chrysalis/isa.hpp"  // first: see its note on GCC bug 105593

#include <Eigen/Core>

#include <cmath>
#include <cstddef>
#include <span>
#include <type_traits>

#include "chrysalis/config.hpp"
#include "chrysalis/errors.hpp"
#include "chrysalis/labels.hpp"

namespace chrysalis::inline CHRYSALIS_ISA_NAMESPACE {

namespace detail {
/// A type derived from Eigen::MatrixBase (a matrix, a block, a map, an expression). argmax and
/// accuracy take `const T&` constrained by it rather than `const Eigen::MatrixBase<T>&`, so that
/// a call such as accuracy<float>(…) meant for another function template (a user's own
/// accuracy<S>) drops these overloads quietly: naming MatrixBase<float> would fail inside Eigen.
template <class T>
concept EigenMatrixExpression = std::is_class_v<T> && std::is_base_of_v<Eigen::MatrixBase<T>, T>;

/// argmax, naming `what` in its errors.
template <class Derived>
Eigen::VectorXi argmax(const Eigen::MatrixBase<Derived>& logits, const char* what) {
    const Eigen::Index classes = logits.rows(), batch = logits.cols();
    if (classes == 0) {  // whatever the batch: no class is no classifier
        throw ShapeError(concat(what, ": the logits have 0 rows (classes) for ", batch,
                                " samples; expected at least one class"));
    }
    // Evaluates an expression once (a plain matrix is read where it is).
    const auto& z = logits.derived().eval();
    Eigen::VectorXi out(batch);
    for (Eigen::Index b = 0; b < batch; ++b) {
        Eigen::Index best = 0;
        for (Eigen::Index i = 0; i < classes; ++i) {
            const auto v = z(i, b);
            if constexpr (!Eigen::NumTraits<typename Derived::Scalar>::IsInteger) {
                if (std::isnan(v)) {
                    throw ValueError(concat(what, ": logit ", i, " of sample ", b,
                                            " is NaN; a column with a NaN has no largest logit"));
                }
            }
            if (v > z(best, b)) best = i;  // strict: the first of equal maxima stays
        }
        out(b) = int(best);
    }
    return out;
}
}  // namespace detail

/// The predicted class of each sample: the row of each column's largest logit.
///
/// Requires: `logits` any Eigen dense matrix expression, classes × B, of a floating-point (or
///   integer) scalar.
/// Ensures: returns a B-vector whose entry b is the smallest i with logits(i, b) = max_j
///   logits(j, b): ties go to the lowest index. +∞ and −∞ compare as usual. B = 0 (classes ≥ 1)
///   gives an empty vector.
/// Throws: ValueError ("chrysalis::argmax: logit 3 of sample 7 is NaN; …") for a NaN anywhere
///   in a column (a NaN has no order, so the column has no largest logit — never a silent
///   class); ShapeError for logits with no rows (classes = 0), whatever B.
template <detail::EigenMatrixExpression Logits>
[[nodiscard]] Eigen::VectorXi argmax(const Logits& logits) {
    return detail::argmax(logits, "chrysalis::argmax");
}

/// Fraction of samples whose largest logit is at the label: (1/B)·#{b : argmax(logits)_b = y_b}.
///
/// Requires: `logits` an Eigen dense matrix expression, classes × B; `labels` a LabelRange of B
///   labels in [0, classes). (Constrained to Eigen matrices, so it never competes with the
///   accuracy(network, data set) overload of the training headers.)
/// Ensures: returns a double in [0, 1]; ties in a column count for the lowest class, as argmax.
/// Throws: ShapeError for logits with no rows (0 classes; checked before the labels, which could
///   otherwise only be reported as out of [0, 0)), a label count other than B, or B = 0 (the
///   accuracy of no samples is undefined); ValueError for a label outside [0, classes) or not
///   fitting in an int, or a NaN logit (as argmax) — each naming chrysalis::accuracy.
template <detail::EigenMatrixExpression Logits, LabelRange Labels = std::span<const int>>
[[nodiscard]] double accuracy(const Logits& logits, const Labels& labels) {
    constexpr const char* what = "chrysalis::accuracy";
    if (logits.rows() == 0) {
        throw ShapeError(detail::concat(what, ": the logits have 0 rows (classes) for ",
                                        logits.cols(), " samples; expected at least one class"));
    }
    const IntLabels ints = int_labels(labels, what);
    const std::span<const int> y = ints.span();
    check_labels(y, logits.rows(), logits.cols(), what);
    if (logits.cols() == 0)
        throw ShapeError("chrysalis::accuracy: no samples (the logits have 0 columns)");
    const Eigen::VectorXi predicted = detail::argmax(logits, what);
    std::size_t right = 0;
    for (std::size_t b = 0; b < y.size(); ++b) right += predicted(Eigen::Index(b)) == y[b];
    return double(right) / double(y.size());
}

}  // namespace chrysalis::inline CHRYSALIS_ISA_NAMESPACE
