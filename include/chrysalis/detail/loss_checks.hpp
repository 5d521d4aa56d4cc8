#pragma once
// chrysalis/detail/loss_checks.hpp — what every loss checks at its door, before any arithmetic:
// the logits' shape (at least one class and one sample), the teacher's shape against the
// student's, the labels, and the gradient it writes into (its scalar type and size). Each
// failure throws the typed error naming the loss (losses.hpp), so the kernels check nothing.

#include "chrysalis/isa.hpp"  // first: see its note on GCC bug 105593

#include <Eigen/Core>

#include <span>
#include <type_traits>

#include "chrysalis/config.hpp"
#include "chrysalis/errors.hpp"
#include "chrysalis/labels.hpp"
#include "chrysalis/softmax.hpp"  // WritableDense
#include "chrysalis/tensor.hpp"

namespace chrysalis::inline CHRYSALIS_ISA_NAMESPACE::detail {

/// Throws ShapeError unless there is one label per column, ValueError unless each label is in
/// [0, classes). (Kept for callers of the detail name; see chrysalis::check_labels.)
inline void check_labels(std::span<const int> labels, Eigen::Index classes, Eigen::Index batch,
                         const char* what) {
    chrysalis::check_labels(labels, classes, batch, what);
}

/// A writable Eigen matrix of float or double that a loss may write its gradient into: a
/// Matrix (resized as needed), a MatrixRef, a Map, a block of whole columns.
template <class G>
concept GradientOutput = WritableDense<G> &&
    std::is_base_of_v<Eigen::MatrixBase<std::remove_cvref_t<G>>, std::remove_cvref_t<G>> &&
    std::is_floating_point_v<typename std::remove_cvref_t<G>::Scalar>;

/// Makes `gradient` rows × cols: resizes a resizable Matrix (no allocation when it already has
/// that size); anything else must have that size already, or ShapeError names `what`.
template <class G>
void prepare_gradient(G& gradient, Eigen::Index rows, Eigen::Index cols, const char* what) {
    if constexpr (std::is_base_of_v<Eigen::PlainObjectBase<G>, G>) {
        if ((G::RowsAtCompileTime == Eigen::Dynamic || gradient.rows() == rows) &&
            (G::ColsAtCompileTime == Eigen::Dynamic || gradient.cols() == cols)) {
            gradient.resize(rows, cols);
        }
    }
    if (gradient.rows() != rows || gradient.cols() != cols) {
        throw ShapeError(concat(what, ": the gradient is ", gradient.rows(), "x", gradient.cols(),
                                " but the logits are ", rows, "x", cols,
                                " (classes x batch); pass a gradient of that size"));
    }
}

/// The gradient's scalar must be the logits' (no hidden conversion in a training step).
template <class Logits, class G>
constexpr void check_gradient_scalar() {
    static_assert(std::is_same_v<typename Logits::Scalar, typename std::remove_cvref_t<G>::Scalar>,
                  "chrysalis: a loss writes its gradient into a matrix of the logits' own scalar "
                  "type (float into float, double into double)");
}

/// Every loss is a batch mean over classes × B logits: it needs at least one class (a column
/// of no class has no softmax, no maximum to subtract) and at least one sample (the mean of no
/// samples is undefined: a made-up 0 would read as a perfect fit). ShapeError naming `what` and
/// `name` ("the logits", "the student logits") otherwise. Checked at the door, once per call,
/// so that the kernels need no check of their own.
inline void check_loss_logits(Eigen::Index classes, Eigen::Index batch, const char* what,
                              const char* name) {
    if (classes == 0) {
        throw ShapeError(concat(what, ": ", name, " are 0x", batch,
                                " (classes x batch); expected at least 1 class (row)"));
    }
    if (batch == 0) {
        throw ShapeError(concat(what, ": ", name, " are ", classes,
                                "x0 (classes x batch): the batch mean of no samples is undefined; "
                                "expected at least 1 sample (column)"));
    }
}

/// For a loss without a hard-label term: labels may be empty; if given, they are checked as
/// everywhere else (a label outside [0, classes) is a bug wherever it shows up).
template <class Labels>
void check_unused_labels(const Labels& labels, Eigen::Index classes, Eigen::Index batch,
                         const char* what) {
    const IntLabels l = int_labels(labels, what);
    if (!l.span().empty()) chrysalis::check_labels(l.span(), classes, batch, what);
}

/// Throws ShapeError unless `teacher` has the student's shape, naming `what`.
template <class A, class B>
void check_same_shape(const Eigen::MatrixBase<A>& student, const Eigen::MatrixBase<B>& teacher,
                      const char* what, const char* teacher_name) {
    if (student.rows() != teacher.rows() || student.cols() != teacher.cols()) {
        throw ShapeError(concat(what, ": the student logits are ", student.rows(), "x",
                                student.cols(), " but the ", teacher_name, " are ", teacher.rows(),
                                "x", teacher.cols(), " (classes x batch must agree)"));
    }
}

/// Compile-time check that two fixed class counts agree (either may be Dynamic).
template <class A, class B>
constexpr void check_classes_at_compile_time() {
    static_assert(int(A::RowsAtCompileTime) == Eigen::Dynamic ||
                      int(B::RowsAtCompileTime) == Eigen::Dynamic ||
                      int(A::RowsAtCompileTime) == int(B::RowsAtCompileTime),
                  "chrysalis: the teacher and the student disagree on the number of classes "
                  "(their logits have different row counts)");
}

}  // namespace chrysalis::inline CHRYSALIS_ISA_NAMESPACE::detail
