#pragma once
// chrysalis/distill.hpp — distillation: training a student on a teacher's outputs, from a live
// teacher network, from cached teacher logits, or from soft targets (probabilities).

#include "chrysalis/isa.hpp"  // first: see its note on GCC bug 105593

#include <cmath>
#include <cstddef>
#include <type_traits>
#include <vector>

#include "chrysalis/concepts/loss.hpp"
#include "chrysalis/concepts/observer.hpp"
#include "chrysalis/config.hpp"
#include "chrysalis/dataset.hpp"
#include "chrysalis/detail/data_checks.hpp"
#include "chrysalis/errors.hpp"
#include "chrysalis/losses.hpp"
#include "chrysalis/tensor.hpp"
#include "chrysalis/train_options.hpp"
#include "chrysalis/training_loop.hpp"

namespace chrysalis::inline CHRYSALIS_ISA_NAMESPACE {

namespace detail {

/// distill and distill_soft: per batch, gather the cached teacher logits (or probabilities) of
/// the batch's samples into a buffer made once, and apply the distillation loss. With
/// `probabilities`, a loss with a soft_targets member (Distillation) is called through it; any
/// other loss gets the probabilities where it would get the teacher's logits.
template <class Net, class KD, class Optimizer, class... Observers>
std::vector<EpochReport> distill_cached(Net& student,
                                        const Dataset<typename Net::scalar_type>& data,
                                        const Matrix<typename Net::scalar_type>& targets, KD& kd,
                                        Optimizer& optimizer,
                                        const TrainOptions<typename Net::scalar_type>& options,
                                        bool probabilities, const char* what,
                                        Observers&... observers) {
    const char* name = probabilities ? "the probabilities" : "the teacher logits";
    if (targets.rows() != Net::output_size || targets.cols() != data.size()) {
        throw ShapeError(
            concat(what, ": ", name, " are ", targets.rows(), "x", targets.cols(),
                   " but the student has ", Net::output_size, " outputs and the data ", data.size(),
                   " samples; expected classes x samples = ", Net::output_size, "x", data.size()));
    }
    require_finite(targets, what, name, probabilities ? "probability" : "logit");
    if (probabilities) {
        // One pass at the door: logits passed by mistake (what distill takes) would train on
        // meaningless targets with a plausible loss. 1e-3 admits the rounding of any engine.
        for (Eigen::Index j = 0; j < targets.cols(); ++j) {
            double sum = 0;
            for (Eigen::Index i = 0; i < targets.rows(); ++i) {
                const double p = double(targets(i, j));
                if (!(p >= 0 && p <= 1)) {
                    throw ValueError(concat(what, ": the probabilities of sample ", j,
                                            " are not a distribution (entry ", i, " is ", p,
                                            "); expected softmax(teacher_logits, T), every entry "
                                            "in [0, 1] (pass logits to distill instead)"));
                }
                sum += p;
            }
            if (!(std::abs(sum - 1.0) <= 1e-3)) {
                throw ValueError(concat(what, ": the probabilities of sample ", j,
                                        " are not a distribution (the column sums to ", sum,
                                        "); expected softmax(teacher_logits, T), summing to 1 "
                                        "within 1e-3"));
            }
        }
    }
    if (options.jitter > 0) {
        throw ValueError(
            concat(what,
                   ": cached teacher outputs belong to the unjittered inputs; to distil with "
                   "jitter pass the teacher network itself"));
    }
    Matrix<typename Net::scalar_type> buffer(Net::output_size,
                                             batch_capacity(options, data.size()));
    return train_loop(
        student, data, optimizer, options,
        [&](auto& batcher, auto& grad) {
            const auto idx = batcher.indices();
            auto gathered = buffer.leftCols(Eigen::Index(idx.size()));
            for (std::size_t k = 0; k < idx.size(); ++k)
                gathered.col(Eigen::Index(k)) = targets.col(idx[k]);
            // A ConstMatrixRef, as the DistillationLoss concept names it (not a Block).
            const ConstMatrixRef<typename Net::scalar_type> t(gathered);
            const auto logits = student.forward(batcher.features(), Mode::training);
            if constexpr (requires { kd.soft_targets(logits, t, batcher.labels(), grad); }) {
                if (probabilities)
                    return double(kd.soft_targets(logits, t, batcher.labels(), grad));
            }
            return double(kd(logits, t, batcher.labels(), grad));
        },
        what, observers...);
}

}  // namespace detail

/// Distils into `student` from cached teacher logits (classes × N, as predict_logits gives):
/// each batch uses the logits of its own samples, so an epoch costs what ordinary training
/// costs. Returns one report per epoch run.
///
///   const auto z = predict_logits(teacher, train);
///   distill(student, train, z, Distillation{.temperature = 4, .alpha = 0.9}, opt, {.epochs = 5});
///
/// Requires: `kd` models DistillationLoss<KD, Net::scalar_type> and takes logits (Distillation,
///   LogitMatching, ReverseKL, or a type of your own: chrysalis/concepts/loss.hpp; a loss of
///   probabilities such as SoftTargetCrossEntropy is refused at compile time: use distill_soft),
///   called once per batch as kd(student_logits, teacher_logits, labels, gradient); observers
///   as for fit.
/// Throws: ShapeError if teacher_logits is not Student::output_size × N; ValueError for a NaN or
///   infinite teacher logit (naming the sample) or options.jitter > 0 (cached logits belong to
///   unjittered inputs); otherwise as fit.
template <class Net, class KD, class Optimizer, class... Observers>
requires DistillationLoss < std::remove_reference_t<KD>,
typename Net::scalar_type >

    std::vector<EpochReport> distill(Net& student, const Dataset<typename Net::scalar_type>& data,
                                     const Matrix<typename Net::scalar_type>& teacher_logits,
                                     KD&& kd, Optimizer& optimizer,
                                     const TrainOptions<typename Net::scalar_type>& options = {},
                                     Observers&&... observers) {
    static_assert(!takes_probabilities_v<KD>,
                  "chrysalis::distill: this loss reads teacher probabilities, not logits "
                  "(takes_probabilities); use distill_soft with softmax(teacher_logits, T)");
    return detail::distill_cached(student, data, teacher_logits, kd, optimizer, options, false,
                                  "chrysalis::distill", observers...);
}

/// Distils from a teacher network run on every batch (in inference mode) — for inputs that
/// change every epoch, such as jittered images. The teacher's forward writes the activations it
/// keeps, so a teacher passed non-const is used by this call alone while it runs (two threads
/// distilling from one such teacher at once get wrong targets); a const teacher is run as a
/// private copy made at the start, which any number of calls may share. Requires and throws as
/// the cached form, with
/// the teacher's and the student's widths checked at compile time; also ValueError, before any
/// batch, for a NaN or infinite parameter of the teacher (naming the block, row and column), and
/// for the student object itself as the teacher (its own outputs as targets: nothing to learn).
template <class Net, class Teacher, class KD, class Optimizer, class... Observers>
requires requires {
    Teacher::output_size;
} && DistillationLoss < std::remove_reference_t<KD>,
typename Net::scalar_type >

    std::vector<EpochReport> distill(Net& student, const Dataset<typename Net::scalar_type>& data,
                                     Teacher& teacher, KD&& kd, Optimizer& optimizer,
                                     const TrainOptions<typename Net::scalar_type>& options = {},
                                     Observers&&... observers) {
    static_assert(!takes_probabilities_v<KD>,
                  "chrysalis::distill: this loss reads teacher probabilities, not logits "
                  "(takes_probabilities); use distill_soft with softmax(teacher_logits, T)");
    static_assert(Teacher::output_size == Net::output_size,
                  "chrysalis::distill: the teacher and the student disagree on the number of "
                  "classes (their output widths differ)");
    static_assert(
        Teacher::input_size == Net::input_size,
        "chrysalis::distill: the teacher and the student take inputs of different widths");
    // The student itself as its teacher gives it its own outputs as targets: a KD term of 0.
    if (static_cast<const void*>(&teacher) == static_cast<const void*>(&student)) {
        throw ValueError(
            "chrysalis::distill: the teacher is the student itself; distil from a copy (auto "
            "teacher = student;) or from cached logits");
    }
    if constexpr (std::is_const_v<Teacher>) {
        // The teacher's forward writes the activations it keeps: a const teacher runs as a
        // private copy, so that trainings on several threads may share one.
        static_assert(std::copy_constructible<std::remove_const_t<Teacher>>,
                      "chrysalis::distill: a const teacher is run through a copy, and this one "
                      "cannot be copied: pass it non-const");
        std::remove_const_t<Teacher> copy = teacher;
        return distill(student, data, copy, std::forward<KD>(kd), optimizer, options, observers...);
    } else {
        // A teacher with a NaN weight is refused as such, not reported as the student diverging.
        detail::require_finite_parameters(teacher, "chrysalis::distill", "the teacher");
        return detail::train_loop(
            student, data, optimizer, options,
            [&](auto& batcher, auto& grad) {
                const auto t = teacher.forward(batcher.features(), Mode::inference);
                return kd(student.forward(batcher.features(), Mode::training), t, batcher.labels(),
                          grad);
            },
            "chrysalis::distill", observers...);
    }
}

/// Distils from soft targets (teacher probabilities at kd.temperature, classes × N), e.g. an
/// ensemble's from ensemble_probabilities, or probabilities computed by another engine. A loss
/// with a soft_targets member (Distillation) is called through it; any other DistillationLoss
/// (SoftTargetCrossEntropy, or one of your own) receives the probabilities where it would
/// receive teacher logits. Throws as the cached distill, naming the probabilities; also
/// ValueError naming chrysalis::distill_soft and the sample for a column that is not a
/// distribution (an entry outside [0, 1], or a sum more than 1e-3 from 1: logits passed by
/// mistake).
template <class Net, class KD, class Optimizer, class... Observers>
requires DistillationLoss < std::remove_reference_t<KD>,
typename Net::scalar_type >

    std::vector<EpochReport> distill_soft(
        Net& student, const Dataset<typename Net::scalar_type>& data,
        const Matrix<typename Net::scalar_type>& probabilities, KD&& kd, Optimizer& optimizer,
        const TrainOptions<typename Net::scalar_type>& options = {}, Observers&&... observers) {
    return detail::distill_cached(student, data, probabilities, kd, optimizer, options, true,
                                  "chrysalis::distill_soft", observers...);
}

}  // namespace chrysalis::inline CHRYSALIS_ISA_NAMESPACE
