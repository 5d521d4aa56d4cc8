#pragma once
// chrysalis/concepts/loss.hpp — the contracts of a loss: Loss (logits and hard labels) and
// DistillationLoss (student logits, teacher logits, labels). The training loops call a loss
// exactly as these requires-expressions do; a type that models the concept trains.

#include "chrysalis/isa.hpp"  // first: see its note on GCC bug 105593

#include <concepts>
#include <span>
#include <type_traits>

#include "chrysalis/tensor.hpp"

namespace chrysalis::inline CHRYSALIS_ISA_NAMESPACE {

/// Loss<L, Scalar> — a loss of a network's logits against hard labels (CrossEntropy).
///
/// Represents: L(z, y) = (1/B)·Σ_b ℓ(z_b, y_b), a batch mean over the B columns of a
///   classes × B logits matrix z, with y_b the class of sample b.
/// Requires:
///   - `loss(logits, labels, gradient)`, called with
///       logits:   ConstMatrixRef<Scalar>, classes × B, finite;
///       labels:   std::span<const int> of B labels, each in [0, classes);
///       gradient: MatrixRef<Scalar>, classes × B, sized by the caller, not overlapping logits.
///     It returns the loss (convertible to Scalar) and overwrites `gradient` with ∂L/∂logits —
///     the gradient of the batch mean, so it already carries the 1/B. `loss` is called on a
///     non-const lvalue, so it may keep scratch buffers between calls.
/// Ensures (for a well-behaved model; the compiler checks only the signature):
///   - the value and the gradient agree: gradcheck_loss(loss, z, y) passes in double;
///   - a call allocates nothing once the loss has seen the batch size (the loops' training
///     steps are allocation-free);
///   - wrong arguments throw chrysalis::ShapeError (label count ≠ B, gradient of another size)
///     or chrysalis::ValueError (a label outside [0, classes)), naming the loss.
/// Shipped models: CrossEntropy.
template <class L, class Scalar = float>
concept Loss = requires(L& loss, ConstMatrixRef<Scalar> logits, std::span<const int> labels,
                        MatrixRef<Scalar> gradient) {
    { loss(logits, labels, gradient) } -> std::convertible_to<Scalar>;
};

/// DistillationLoss<L, Scalar> — a loss of a student's logits against a teacher's logits (and,
/// if it uses them, hard labels): Distillation, SoftTargetCrossEntropy, LogitMatching,
/// ReverseKL, or your own (docs/extending.md).
///
/// Represents: L(z_s, z_t, y), a batch mean over the B columns; only the student is trained,
///   so only ∂L/∂z_s is needed.
/// Requires:
///   - `loss(student, teacher, labels, gradient)`, called with
///       student:  ConstMatrixRef<Scalar>, classes × B, the student's logits;
///       teacher:  ConstMatrixRef<Scalar>, classes × B, the teacher's logits for the same
///                 samples (or whatever target the loss documents, e.g. probabilities for
///                 SoftTargetCrossEntropy);
///       labels:   std::span<const int> of B labels in [0, classes) — the loops always pass
///                 them; a loss without a hard-label term may ignore them;
///       gradient: MatrixRef<Scalar>, classes × B, sized by the caller, not overlapping the
///                 logits.
///     It returns the loss (convertible to Scalar) and overwrites `gradient` with ∂L/∂student,
///     the gradient of the batch mean. `loss` is a non-const lvalue (scratch buffers allowed).
///   - optionally `static constexpr bool takes_probabilities = true;` for a loss whose teacher
///     argument is a probability distribution (SoftTargetCrossEntropy): distill, which hands it
///     logits, then does not compile, and distill_soft, which hands it probabilities, does.
/// Ensures (for a well-behaved model): as Loss — the gradient passes
///   gradcheck_loss(loss, z_s, z_t, y) in double, no allocation once the batch size has been
///   seen, ShapeError for a teacher, label count or gradient that does not fit, ValueError for a
///   label outside [0, classes), each naming the loss.
template <class L, class Scalar = float>
concept DistillationLoss = requires(L& loss, ConstMatrixRef<Scalar> student,
                                    ConstMatrixRef<Scalar> teacher, std::span<const int> labels,
                                    MatrixRef<Scalar> gradient) {
    { loss(student, teacher, labels, gradient) } -> std::convertible_to<Scalar>;
};

/// Whether a distillation loss reads teacher probabilities rather than logits (see
/// DistillationLoss: `static constexpr bool takes_probabilities`).
template <class L>
inline constexpr bool takes_probabilities_v = requires {
    requires bool(std::remove_cvref_t<L>::takes_probabilities);
};

}  // namespace chrysalis::inline CHRYSALIS_ISA_NAMESPACE
