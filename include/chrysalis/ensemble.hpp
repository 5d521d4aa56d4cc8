#pragma once
// chrysalis/ensemble.hpp — the soft targets of an ensemble of teachers, for distill_soft.

#include "chrysalis/isa.hpp"  // first: see its note on GCC bug 105593

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <span>
#include <string>

#include "chrysalis/config.hpp"
#include "chrysalis/detail/data_checks.hpp"
#include "chrysalis/errors.hpp"
#include "chrysalis/softmax.hpp"
#include "chrysalis/tensor.hpp"

namespace chrysalis::inline CHRYSALIS_ISA_NAMESPACE {

/// Soft targets of an ensemble of teachers: the weighted mean of their probabilities at
/// temperature T, Σ_k w_k·softmax(z_k/T) / Σ_k w_k (averaging in probability space, not logits).
/// Use with distill_soft.
///
/// Requires: weights empty (equal weights) or one per teacher, each finite and ≥ 0, not all 0 —
///   any finite weights, even ones whose sum overflows (they are divided by the largest first,
///   so {1e308, 1e308} is {1, 1}); T in [1e-3, 1e3], the range the distillation losses take.
/// Ensures: for finite logits, columns of probabilities summing to 1 (to rounding); logits of
///   B = 0 columns (and at least one class) give an empty classes × 0 matrix.
/// Throws: ValueError for no teachers, negative / non-finite / all-zero weights, a T outside
///   [1e-3, 1e3] or a NaN or infinite teacher logit (naming the teacher, the logit and the
///   sample); ShapeError for mismatched shapes, logits with no rows (0 classes: no
///   distribution to average, whatever B) or a weight count other than the teacher count —
///   each naming chrysalis::ensemble_probabilities (never the softmax it runs).
template <class Scalar>
Matrix<Scalar> ensemble_probabilities(std::span<const Matrix<Scalar>> teacher_logits,
                                      std::span<const double> weights, double temperature) {
    constexpr const char* what = "chrysalis::ensemble_probabilities";
    // Checked here, not by the softmax below, so that the error names this function.
    detail::require_temperature(temperature, what, "temperature T");
    if (teacher_logits.empty()) throw ValueError(detail::concat(what, ": no teachers given"));
    if (!weights.empty() && weights.size() != teacher_logits.size())
        throw ShapeError(detail::concat(what, ": ", weights.size(), " weights for ",
                                        teacher_logits.size(), " teachers"));
    double largest = 0;
    for (double w : weights) {
        if (!(w >= 0) || !std::isfinite(w))
            throw ValueError(detail::concat(what, ": weights must be finite and >= 0, got ", w));
        largest = std::max(largest, w);
    }
    if (!weights.empty() && !(largest > 0))
        throw ValueError(detail::concat(what, ": the weights sum to 0"));
    // Scaled by the largest weight, each is in [0, 1] and the sum in [1, teachers]: no overflow
    // (the sum of {1e308, 1e308} is ∞) and no underflow to 0 (the sum of {1e-320} is subnormal).
    double total = 0;
    for (double w : weights) total += w / largest;
    if (weights.empty()) total = double(teacher_logits.size());
    const auto& first = teacher_logits.front();
    if (first.rows() == 0) {  // every teacher has first's shape (checked below)
        throw ShapeError(detail::concat(what, ": teacher 0's logits are 0x", first.cols(),
                                        " (classes x samples); expected at least 1 class (row)"));
    }
    Matrix<Scalar> sum = Matrix<Scalar>::Zero(first.rows(), first.cols());
    Matrix<Scalar> p(first.rows(), first.cols());
    for (std::size_t k = 0; k < teacher_logits.size(); ++k) {
        const auto& z = teacher_logits[k];
        if (z.rows() != first.rows() || z.cols() != first.cols())
            throw ShapeError(detail::concat(
                "chrysalis::ensemble_probabilities: teacher ", k, " logits are ", z.rows(), "x",
                z.cols(), " but teacher 0's are ", first.rows(), "x", first.cols()));
        if (!detail::all_finite(z)) {  // a NaN would make the mean NaN, an ∞ a made-up 1
            const std::string name = detail::concat("teacher ", k, "'s logits");
            detail::require_finite(z, what, name.c_str(), "logit");
        }
        softmax(z, temperature, p);
        sum += Scalar((weights.empty() ? 1.0 : weights[k] / largest) / total) * p;
    }
    return sum;
}

}  // namespace chrysalis::inline CHRYSALIS_ISA_NAMESPACE
