#pragma once
// chrysalis/concepts/loss.hpp — the loss contracts: Loss (logits and labels) and
// DistillationLoss (student logits, teacher logits and labels).

#include "chrysalis/isa.hpp"  // first: see its note on GCC bug 105593

#include <concepts>
#include <span>

#include "chrysalis/tensor.hpp"

namespace chrysalis::inline CHRYSALIS_ISA_NAMESPACE {

/// Loss<L, Scalar> — a hard-label loss, as fit uses it.
template <class L, class Scalar = float>
concept Loss = requires(L& loss, ConstMatrixRef<Scalar> logits, std::span<const int> labels,
                        MatrixRef<Scalar> gradient) {
    { loss(logits, labels, gradient) } -> std::convertible_to<Scalar>;
};

/// DistillationLoss<L, Scalar> — a loss on student logits given teacher logits, as distill uses it.
template <class L, class Scalar = float>
concept DistillationLoss = requires(L& loss, ConstMatrixRef<Scalar> student,
                                    ConstMatrixRef<Scalar> teacher, std::span<const int> labels,
                                    MatrixRef<Scalar> gradient) {
    { loss(student, teacher, labels, gradient) } -> std::convertible_to<Scalar>;
};

}  // namespace chrysalis::inline CHRYSALIS_ISA_NAMESPACE
