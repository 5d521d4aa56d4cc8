#pragma once
// chrysalis/evaluate.hpp — a trained network on a data set: its logits (predict_logits), its
// accuracy, confusion matrix and mean cross-entropy (evaluate), and its predictions as labels
// (hard_targets).

#include "chrysalis/isa.hpp"  // first: see its note on GCC bug 105593

#include <Eigen/Core>

#include <algorithm>
#include <cmath>
#include <concepts>
#include <span>
#include <type_traits>

#include "chrysalis/config.hpp"
#include "chrysalis/dataset.hpp"
#include "chrysalis/detail/data_checks.hpp"
#include "chrysalis/detail/kd_kernel.hpp"
#include "chrysalis/errors.hpp"
#include "chrysalis/losses.hpp"
#include "chrysalis/metrics.hpp"
#include "chrysalis/tensor.hpp"

namespace chrysalis::inline CHRYSALIS_ISA_NAMESPACE {

namespace detail {
/// Samples whose largest logit is at the label; ValueError naming `what` for a NaN logit.
template <class L>
Eigen::Index count_right(const L& logits, std::span<const int> labels, const char* what) {
    const Eigen::VectorXi predicted = argmax(logits, what);
    Eigen::Index right = 0;
    for (Eigen::Index b = 0; b < logits.cols(); ++b)
        right += predicted(b) == labels[std::size_t(b)];
    return right;
}

/// predict_logits for the public function `what`, whose name every error carries: batch_size ≥ 1
/// and the data fit the network (check_data), every parameter finite
/// (require_finite_parameters), then, after the forward passes, every logit finite
/// (require_finite naming `name`, "the network's logits", the logit and the sample). A const
/// network is run through a copy (its forward keeps each layer's activations inside it).
template <class Net>
Matrix<typename Net::scalar_type> logits_for(Net& net,
                                             const Dataset<typename Net::scalar_type>& data,
                                             Eigen::Index batch_size, const char* what,
                                             const char* name = "the network's logits") {
    if constexpr (std::is_const_v<Net>) {
        static_assert(std::copy_constructible<std::remove_const_t<Net>>,
                      "chrysalis: a const network is run through a copy (its forward keeps "
                      "activations inside it), and this one has a layer that cannot be copied: "
                      "pass it non-const");
        std::remove_const_t<Net> scratch = net;
        return logits_for(scratch, data, batch_size, what, name);
    } else {
        if (batch_size < 1)
            throw ValueError(concat(what, ": batch_size must be >= 1, got ", batch_size));
        check_data<Net>(data, what);
        require_finite_parameters(net, what);
        Matrix<typename Net::scalar_type> out(Net::output_size, data.size());
        for (Eigen::Index j = 0; j < data.size(); j += batch_size) {
            const Eigen::Index b = std::min(batch_size, data.size() - j);
            out.middleCols(j, b) = net.forward(data.features.middleCols(j, b));
        }
        require_finite(out, what, name, "logit");
        return out;
    }
}
}  // namespace detail

/// The network's logits for every sample of `data`, classes × N, computed batch by batch in
/// inference mode: a teacher's soft targets computed once, for every epoch of a distillation.
/// Ensures: every logit returned is finite.
/// Throws: ValueError for batch_size < 1, a NaN or infinite feature (naming the sample: such an
///   input has no meaningful output, and a ReLU network could turn it into a finite, wrong
///   class), a NaN or infinite parameter of the network (naming the block, row and column) or
///   a non-finite logit (naming the logit and the sample: the products overflowed); ShapeError
///   for data whose feature count differs from the network's input width, with more classes
///   than the network has outputs, or without samples — each naming chrysalis::predict_logits.
template <class Net>
Matrix<typename Net::scalar_type> predict_logits(Net& net,
                                                 const Dataset<typename Net::scalar_type>& data,
                                                 Eigen::Index batch_size = 256) {
    return detail::logits_for(net, data, batch_size, "chrysalis::predict_logits");
}

/// predict_logits of a const network: the same logits, computed through a copy of the network
/// (its forward keeps each layer's activations inside the network, which a const one cannot
/// change). The copy costs the network's memory again and one pass over its parameters, once
/// per call — small against a pass over a data set; a non-const network is used in place.
/// Several threads may call it on one const network at once.
template <class Net>
Matrix<typename Net::scalar_type> predict_logits(const Net& net,
                                                 const Dataset<typename Net::scalar_type>& data,
                                                 Eigen::Index batch_size = 256) {
    return detail::logits_for(net, data, batch_size, "chrysalis::predict_logits");
}

/// Fraction of samples whose largest logit is at the label (ties to the lowest class, as
/// chrysalis::argmax); `net` may be const (see predict_logits). Throws what predict_logits
/// throws — a bad feature, a NaN or infinite parameter, a non-finite logit (a network with a NaN
/// weight has no prediction, and is never scored as if it had one) — ShapeError for a label
/// count other than N and ValueError for a label outside [0, Net::output_size), every error
/// naming chrysalis::accuracy (not the predict_logits it runs).
template <class Net>
double accuracy(Net& net, const Dataset<typename Net::scalar_type>& data) {
    detail::check_labels<Net>(data, "chrysalis::accuracy");
    const auto logits = detail::logits_for(net, data, 256, "chrysalis::accuracy");
    return double(detail::count_right(logits, data.labels, "chrysalis::accuracy")) /
           double(data.size());
}

/// Counts by true class (rows) and predicted class (columns), classes × classes; `net` may be
/// const. Throws as accuracy does, naming chrysalis::confusion_matrix.
template <class Net>
Eigen::MatrixXi confusion_matrix(Net& net, const Dataset<typename Net::scalar_type>& data) {
    detail::check_labels<Net>(data, "chrysalis::confusion_matrix");
    const auto logits = detail::logits_for(net, data, 256, "chrysalis::confusion_matrix");
    const Eigen::VectorXi predicted = detail::argmax(logits, "chrysalis::confusion_matrix");
    Eigen::MatrixXi m = Eigen::MatrixXi::Zero(Net::output_size, Net::output_size);
    for (Eigen::Index b = 0; b < logits.cols(); ++b) ++m(data.labels[std::size_t(b)], predicted(b));
    return m;
}

/// Mean cross-entropy and accuracy on a data set.
struct Evaluation {
    double loss = 0;
    double accuracy = 0;
};
/// Mean cross-entropy and accuracy; `net` may be const. Throws as accuracy does, naming
/// chrysalis::evaluate.
/// Ensures: `loss` is CrossEntropy's value computed in double whatever the network's scalar
///   type — each sample's log Σ_i exp z_i − z_label from its (finite) logits — so it is finite
///   even for float logits whose difference exceeds FLT_MAX ({3e38, −3e38} gives 6e38 for the
///   lower class, where a float log-softmax gives ∞). In double it is finite wherever the mean
///   is representable: where the sum overflows (double logits near ±1e308), the mean is taken
///   as the sum of each sample's loss divided by N, each from its halved gap.
template <class Net>
Evaluation evaluate(Net& net, const Dataset<typename Net::scalar_type>& data) {
    detail::check_labels<Net>(data, "chrysalis::evaluate");
    const auto logits = detail::logits_for(net, data, 256, "chrysalis::evaluate");
    Evaluation e;
    const double n = double(data.size());
    double sum = 0;  // labels in [0, output_size): check_labels; N ≥ 1: logits_for
    for (Eigen::Index b = 0; b < logits.cols(); ++b) {
        const auto [m, log_s] = detail::softmax_stats(logits.col(b), 1.0);
        sum += (m - double(logits(data.labels[std::size_t(b)], b))) + log_s;
    }
    e.loss = sum / n;
    if (std::isinf(e.loss)) {
        // A gap m − z_y beyond DBL_MAX, or a sum beyond it whose mean is not: every term is
        // ≥ 0, so this sum of quotients overflows only where the exact mean does.
        double mean = 0;
        for (Eigen::Index b = 0; b < logits.cols(); ++b)
            mean += detail::neg_log_p_over(logits.col(b), data.labels[std::size_t(b)], n);
        e.loss = mean;
    }
    e.accuracy = double(detail::count_right(logits, data.labels, "chrysalis::evaluate")) /
                 double(data.size());
    return e;
}

/// The data set relabelled with a teacher's predictions: every label replaced by the argmax of
/// the teacher's logits for that sample (ties to the lowest class, as chrysalis::argmax). Training
/// a student on these with fit is training on the teacher's *hard* targets — the baseline that
/// Hinton, Vinyals & Dean (2015) set soft targets against. The features are copied; `classes`
/// becomes the number of logit rows.
///
///   const auto z = predict_logits(teacher, transfer);
///   fit(student, hard_targets(transfer, z), CrossEntropy{}, opt);   // vs distill(…, z, …)
///
/// Requires: `teacher_logits` classes × N (as predict_logits gives), any Eigen expression.
/// Ensures: the result has data's features, N labels in [0, classes), classes = its rows; the
///   labels of `data` are neither read nor required (an unlabelled set is fine).
/// Throws: ShapeError if teacher_logits has a column count other than data.size() or no rows;
///   ValueError naming the logit and the sample for a NaN or infinite logit (a column with a NaN
///   has no prediction; an infinite one is an overflow, not a confident class) — each naming
///   chrysalis::hard_targets.
template <class Scalar, class Derived>
Dataset<Scalar> hard_targets(const Dataset<Scalar>& data,
                             const Eigen::MatrixBase<Derived>& teacher_logits) {
    constexpr const char* what = "chrysalis::hard_targets";
    if (teacher_logits.cols() != data.size() || teacher_logits.rows() == 0) {
        throw ShapeError(detail::concat(what, ": the teacher logits are ", teacher_logits.rows(),
                                        "x", teacher_logits.cols(), " for ", data.size(),
                                        " samples; expected classes x samples with classes >= 1"));
    }
    detail::require_finite(teacher_logits, what, "the teacher logits", "logit");
    const Eigen::VectorXi predicted = detail::argmax(teacher_logits, what);
    Dataset<Scalar> out;
    out.features = data.features;
    out.labels.assign(predicted.data(), predicted.data() + predicted.size());
    out.classes = int(teacher_logits.rows());
    return out;
}

/// hard_targets from the teacher network itself: its logits on `data` (predict_logits), then
/// as above. The data and the teacher are checked as predict_logits checks them (finite
/// features, parameters and logits), naming chrysalis::hard_targets; `teacher` may be const.
template <class Net>
requires requires {
    Net::output_size;
}
Dataset<typename Net::scalar_type> hard_targets(Net& teacher,
                                                const Dataset<typename Net::scalar_type>& data) {
    return hard_targets(data, detail::logits_for(teacher, data, 256, "chrysalis::hard_targets"));
}

}  // namespace chrysalis::inline CHRYSALIS_ISA_NAMESPACE
