#pragma once
// chrysalis/losses.hpp — losses over classes × batch logits: value and gradient with respect to
// the logits.

#include <Eigen/Core>

#include <span>
#include <stdexcept>
#include <type_traits>

#include "chrysalis/config.hpp"
#include "chrysalis/softmax.hpp"
#include "chrysalis/tensor.hpp"

namespace chrysalis {

/// A loss value and its gradient with respect to the logits.
template <class Scalar>
struct LossResult {
    Scalar loss;
    Matrix<Scalar> gradient;
};

namespace detail {
/// Throws std::invalid_argument unless there is one label per column, each in [0, classes).
inline void check_labels(std::span<const int> labels, Eigen::Index classes, Eigen::Index batch,
                         const char* what) {
    if (Eigen::Index(labels.size()) != batch) {
        throw std::invalid_argument(concat(what, ": ", labels.size(), " labels for a batch of ",
                                           batch, " samples (one label per logits column)"));
    }
    for (std::size_t b = 0; b < labels.size(); ++b) {
        if (labels[b] < 0 || labels[b] >= classes) {
            throw std::invalid_argument(concat(what, ": label ", labels[b], " of sample ", b,
                                               " is outside [0, ", classes, ")"));
        }
    }
}
}  // namespace detail

/// Cross-entropy of hard labels, from logits, batch mean:
///   L = −(1/B)·Σ_b log softmax(z_b)[y_b],     ∂L/∂z_b = (softmax(z_b) − onehot(y_b))/B.
/// Stable for any finite logits: the loss uses log_softmax (never log of a probability).
struct CrossEntropy {
    /// Returns the loss and the gradient (allocates the gradient).
    /// Throws std::invalid_argument for a label count other than the batch size or a label
    /// outside [0, classes).
    template <class Derived>
    LossResult<typename Derived::Scalar> operator()(const Eigen::MatrixBase<Derived>& logits,
                                                    std::span<const int> labels) const {
        LossResult<typename Derived::Scalar> r;
        r.loss = (*this)(logits, labels, r.gradient);
        return r;
    }

    /// Writes the gradient into `gradient` (resized if it is a resizable matrix; allocates
    /// nothing when it already has the logits' size) and returns the loss.
    template <class Derived, class Out>
    typename Derived::Scalar operator()(const Eigen::MatrixBase<Derived>& logits,
                                        std::span<const int> labels, Out&& gradient) const {
        using S = typename Derived::Scalar;
        const Eigen::Index classes = logits.rows(), batch = logits.cols();
        detail::check_labels(labels, classes, batch, "chrysalis::CrossEntropy");
        if (batch == 0) return S(0);
        // log p first, for the loss; then p, for the gradient, in the same storage.
        log_softmax(logits, 1.0, gradient);
        double loss = 0;
        for (Eigen::Index b = 0; b < batch; ++b) loss -= double(gradient(labels[b], b));
        softmax(logits, 1.0, gradient);
        const S inv_b = S(1) / S(batch);
        for (Eigen::Index b = 0; b < batch; ++b) gradient(labels[b], b) -= S(1);
        gradient *= inv_b;
        return S(loss / double(batch));
    }
};

}  // namespace chrysalis
