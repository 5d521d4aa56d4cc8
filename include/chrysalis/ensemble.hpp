#pragma once
// chrysalis/ensemble.hpp — the soft targets of an ensemble of teachers, for distill_soft.

#include "chrysalis/isa.hpp"  // first: see its note on GCC bug 105593

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
/// Use with distill_soft. Throws ValueError for a temperature that is not finite and > 0, no
/// teachers, negative / non-finite / all-zero weights or a NaN or infinite teacher logit (naming
/// the teacher, the logit and the sample); ShapeError for mismatched shapes or a weight count
/// other than the teacher count — each naming chrysalis::ensemble_probabilities (never the
/// softmax it runs).
template <class Scalar>
Matrix<Scalar> ensemble_probabilities(std::span<const Matrix<Scalar>> teacher_logits,
                                      std::span<const double> weights, double temperature) {
    constexpr const char* what = "chrysalis::ensemble_probabilities";
    // Checked here, not by the softmax below, so that the error names this function.
    detail::require_positive_finite(temperature, what, "temperature T");
    if (teacher_logits.empty())
        throw ValueError("chrysalis::ensemble_probabilities: no teachers given");
    if (!weights.empty() && weights.size() != teacher_logits.size())
        throw ShapeError(detail::concat("chrysalis::ensemble_probabilities: ", weights.size(),
                                        " weights for ", teacher_logits.size(), " teachers"));
    double total = 0;
    for (double w : weights) {
        if (!(w >= 0) || !std::isfinite(w))
            throw ValueError(detail::concat(
                "chrysalis::ensemble_probabilities: weights must be finite and >= 0, got ", w));
        total += w;
    }
    if (weights.empty()) total = double(teacher_logits.size());
    if (!(total > 0)) throw ValueError("chrysalis::ensemble_probabilities: the weights sum to 0");
    const auto& first = teacher_logits.front();
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
        sum += Scalar((weights.empty() ? 1.0 : weights[k]) / total) * p;
    }
    return sum;
}

}  // namespace chrysalis::inline CHRYSALIS_ISA_NAMESPACE
