#pragma once
// chrysalis/cross_modal.hpp — cross-modal distillation (Gupta, Hoffman & Malik, "Cross Modal
// Distillation for Supervision Transfer", CVPR 2016, arXiv 1507.00448): a teacher that sees one
// modality of the samples supervises a student that sees another, through paired data — two
// data sets holding the same samples in the same order, one per modality, which need no labels.
// The views in chrysalis/views.hpp make a second modality of an image data set.

#include "chrysalis/isa.hpp"  // first: see its note on GCC bug 105593

#include <Eigen/Core>

#include <cstddef>
#include <span>
#include <type_traits>
#include <vector>

#include "chrysalis/concepts/loss.hpp"
#include "chrysalis/concepts/observer.hpp"
#include "chrysalis/config.hpp"
#include "chrysalis/dataset.hpp"
#include "chrysalis/detail/data_checks.hpp"
#include "chrysalis/errors.hpp"
#include "chrysalis/evaluate.hpp"
#include "chrysalis/metrics.hpp"
#include "chrysalis/tensor.hpp"
#include "chrysalis/train_options.hpp"
#include "chrysalis/training_loop.hpp"

namespace chrysalis::inline CHRYSALIS_ISA_NAMESPACE {

/// Checks that two data sets can be a pair — the same samples in the same order, one set per
/// modality — as far as they show it: the same number of samples; where both give classes
/// (> 0), the same number; where both carry labels (one per sample), the same label for every
/// sample. Data sets without labels (labels empty) cannot be checked beyond their size.
///
/// Requires: `what` names the calling function in the messages; `first` and `second` name the
///   two sets ("the student data", "the teacher data").
/// Ensures: returns normally iff the checks above pass.
/// Throws: ShapeError for different sample counts (naming both counts), or for a set whose labels
///   are neither empty nor one per sample; ValueError for different class counts, or naming the
///   first sample whose labels differ and both labels ("sample 17 is labelled 3 in the student
///   data but 5 in the teacher data").
template <class S1, class S2>
void check_paired(const Dataset<S1>& a, const Dataset<S2>& b, const char* what,
                  const char* first = "the first data set",
                  const char* second = "the second data set") {
    if (a.size() != b.size()) {
        throw ShapeError(detail::concat(what, ": ", first, " has ", a.size(), " samples but ",
                                        second, " has ", b.size(),
                                        "; paired data sets hold the same samples, one per "
                                        "column, in the same order"));
    }
    const auto labels_fit = [&](const auto& d, const char* name) {
        if (!d.labels.empty() && Eigen::Index(d.labels.size()) != d.size()) {
            throw ShapeError(detail::concat(what, ": ", name, " has ", d.labels.size(),
                                            " labels for ", d.size(),
                                            " samples; expected one label per sample, or none"));
        }
    };
    labels_fit(a, first);
    labels_fit(b, second);
    if (a.classes > 0 && b.classes > 0 && a.classes != b.classes) {
        throw ValueError(detail::concat(what, ": ", first, " has ", a.classes, " classes but ",
                                        second, " has ", b.classes,
                                        "; paired data sets hold the same samples"));
    }
    if (a.labels.empty() || b.labels.empty()) return;
    for (std::size_t j = 0; j < a.labels.size(); ++j) {
        if (a.labels[j] != b.labels[j]) {
            throw ValueError(detail::concat(
                what, ": sample ", j, " is labelled ", a.labels[j], " in ", first, " but ",
                b.labels[j], " in ", second,
                "; paired data sets must hold the same samples in the same order (sample j of "
                "one is sample j of the other)"));
        }
    }
}

/// Cross-modal distillation: trains `student` on `student_data` to match what `teacher` outputs
/// on `teacher_data`, where the two data sets are two modalities of the same samples, paired by
/// position (column j of each is sample j) — the teacher sees, say, the full image and the
/// student a downsampled one (chrysalis/views.hpp). The teacher's logits are computed once, on
/// teacher_data in inference mode (predict_logits), and each student batch uses the logits of its
/// own samples, so an epoch costs what ordinary training of the student costs. Returns one report
/// per epoch run.
///
///   const auto full = load_idx<float>(images, labels);                // the teacher's modality
///   auto small = downsample(full, 28, 28, 4);                          // the student's, 7 × 7
///   small.labels.clear();                                              // paired, unlabelled
///   distill_paired(student, small, teacher, full, Distillation{.temperature = 4, .alpha = 1},
///                  opt, {.epochs = 20});
///
/// Unlabelled pairs: student_data may carry no labels (labels empty; classes may be 0). The loss
/// then receives an empty label span on every batch, which a loss without a hard-label term
/// accepts (Distillation with α = 1, LogitMatching, ReverseKL; a loss of probabilities such as
/// SoftTargetCrossEntropy is refused at compile time, since it receives teacher logits); a
/// Distillation with α < 1 is refused before training starts. Internally the student data is
/// copied once with the teacher's argmax as placeholder labels (the training loop counts
/// accuracy against them), so an epoch report's accuracy is then the student's agreement with
/// the teacher.
///
/// Requires: Student and Teacher are networks of one scalar type whose output widths agree (their
///   input widths may differ: checked at compile time, with a sentence); `kd` models
///   DistillationLoss<KD, Student::scalar_type> and reads teacher logits (not probabilities);
///   student_data has Student::input_size features per sample, teacher_data
///   Teacher::input_size, both the same samples in the same order; options.jitter = 0;
///   observers as for fit.
/// Ensures: the student trained for options.epochs epochs (or until an observer stops it) on the
///   batches of student_data, with loss kd(student logits, teacher logits of the same samples,
///   labels of student_data or none); the teacher is not changed (its forward runs in inference
///   mode; a const teacher is copied once).
/// Throws: as check_paired (ShapeError for different sample counts; ValueError naming the first
///   sample whose labels differ between the two sets); ShapeError or ValueError naming "the
///   student data" or "the teacher data" for a set that does not fit its network (feature
///   count, classes, no samples, a NaN or infinite feature, a label outside the outputs);
///   ValueError for options.jitter > 0 (the teacher's logits are cached for the unjittered
///   inputs), for unlabelled student data with a Distillation whose α < 1, for a NaN or
///   infinite parameter of the teacher (naming the block, row and column) and for a NaN or
///   infinite teacher logit (naming the sample); otherwise as fit (TrainingDiverged, …).
template <class Student, class Teacher, class KD, class Optimizer, class... Observers>
requires requires {
    std::remove_cvref_t<Teacher>::input_size;
    std::remove_cvref_t<Teacher>::output_size;
} && DistillationLoss < std::remove_reference_t<KD>,
typename Student::scalar_type >

    std::vector<EpochReport> distill_paired(
        Student& student, const Dataset<typename Student::scalar_type>& student_data,
        Teacher& teacher,
        const Dataset<typename std::remove_cvref_t<Teacher>::scalar_type>& teacher_data, KD&& kd,
        Optimizer& optimizer, const TrainOptions<typename Student::scalar_type>& options = {},
        Observers&&... observers) {
    using T = std::remove_cvref_t<Teacher>;
    using S = typename Student::scalar_type;
    constexpr const char* what = "chrysalis::distill_paired";
    static_assert(!takes_probabilities_v<KD>,
                  "chrysalis::distill_paired: this loss reads teacher probabilities, not logits "
                  "(takes_probabilities); distill_paired hands it the teacher's logits");
    static_assert(T::output_size == Student::output_size,
                  "chrysalis::distill_paired: the teacher and the student disagree on the number "
                  "of classes (their output widths differ); their input widths may differ");
    static_assert(std::is_same_v<typename T::scalar_type, S>,
                  "chrysalis::distill_paired: the teacher and the student must have one scalar "
                  "type (float or double)");
    check_paired(student_data, teacher_data, what, "the student data", "the teacher data");
    if (options.jitter > 0) {
        throw ValueError(detail::concat(
            what, ": options.jitter = ", options.jitter,
            " but the teacher's logits are computed once, for the unjittered teacher data; "
            "expected jitter = 0"));
    }
    // The data first: an empty set is a ShapeError, not a question of labels.
    detail::check_data<T>(teacher_data, what, "the teacher data");
    detail::check_data<Student>(student_data, what, "the student data");
    const bool unlabelled = student_data.labels.empty();
    if constexpr (requires { double(kd.alpha); }) {
        if (unlabelled && double(kd.alpha) < 1) {
            throw ValueError(detail::concat(
                what, ": the student data has no labels but the loss's alpha = ", double(kd.alpha),
                " weighs a hard-label term; use alpha = 1 or give labels"));
        }
    }
    if (!teacher_data.labels.empty())
        detail::check_labels<T>(teacher_data, what, "the teacher data");
    if (!unlabelled) detail::check_labels<Student>(student_data, what, "the student data");

    const Matrix<S> logits =
        detail::logits_for(teacher, teacher_data, 256, what, "the teacher's logits");

    // Unlabelled: a copy with placeholder labels, for the loop's batching and accuracy count.
    Dataset<S> labelled;
    if (unlabelled) {
        labelled.features = student_data.features;
        labelled.classes = student_data.classes > 0 ? student_data.classes : Student::output_size;
        const Eigen::VectorXi predicted = detail::argmax(logits, what);
        labelled.labels.assign(predicted.data(), predicted.data() + predicted.size());
    }
    const Dataset<S>& data = unlabelled ? labelled : student_data;

    Matrix<S> buffer(Student::output_size, detail::batch_capacity(options, data.size()));
    return detail::train_loop(
        student, data, optimizer, options,
        [&](auto& batcher, auto& grad) {
            const auto idx = batcher.indices();
            auto gathered = buffer.leftCols(Eigen::Index(idx.size()));
            for (std::size_t k = 0; k < idx.size(); ++k)
                gathered.col(Eigen::Index(k)) = logits.col(idx[k]);
            const ConstMatrixRef<S> t(gathered);  // as DistillationLoss names it, not a Block
            const auto z = student.forward(batcher.features(), Mode::training);
            const std::span<const int> y = unlabelled ? std::span<const int>{} : batcher.labels();
            return double(kd(z, t, y, grad));
        },
        what, observers...);
}

}  // namespace chrysalis::inline CHRYSALIS_ISA_NAMESPACE
