#pragma once
// chrysalis/train.hpp — training loops: fit, distill, predict_logits, evaluate.
//
// Bad options are chrysalis::ValueError, data or teacher outputs of the wrong shape
// chrysalis::ShapeError. NaN and infinite inputs are refused (ValueError naming the sample): they
// have no meaningful prediction. A training whose loss, activations or weights stop being finite
// throws TrainingDiverged naming the epoch and the batch (docs/errors.md).

#include "chrysalis/isa.hpp"  // first: see its note on GCC bug 105593

#include <Eigen/Core>

#include <chrono>
#include <cmath>
#include <cstddef>
#include <cstdio>
#include <functional>
#include <limits>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include "chrysalis/checkpoint.hpp"
#include "chrysalis/config.hpp"
#include "chrysalis/data.hpp"
#include "chrysalis/errors.hpp"
#include "chrysalis/losses.hpp"
#include "chrysalis/output.hpp"
#include "chrysalis/parallel.hpp"
#include "chrysalis/random.hpp"
#include "chrysalis/softmax.hpp"
#include "chrysalis/tensor.hpp"

namespace chrysalis::inline CHRYSALIS_ISA_NAMESPACE {

/// What one epoch of training did.
struct EpochReport {
    int epoch = 0;        ///< from 0
    double loss = 0;      ///< mean training loss over the epoch's samples
    double accuracy = 0;  ///< training accuracy over the epoch (during training)
    double validation_accuracy = std::numeric_limits<double>::quiet_NaN();  ///< if a set was given
    double samples_per_second = 0;
    double seconds = 0;
};

/// Thrown when training diverges — the loss, a layer's output or, at the end of an epoch, a
/// parameter becomes NaN or infinite: training stops and says where. The message reads
/// "chrysalis::fit: training diverged at epoch 1, batch 2: the loss is nan (…)"; epoch and batch
/// count from 0 in the members, from 1 in the message.
struct TrainingDiverged : Error {
    int epoch;           ///< from 0
    Eigen::Index batch;  ///< from 0, within the epoch
    /// `what_happened` says what stopped being finite; `function` names the training function.
    TrainingDiverged(int e, Eigen::Index b, const std::string& what_happened,
                     std::string_view function = "chrysalis")
        : Error(detail::concat(function, ": training diverged at epoch ", e + 1, ", batch ", b + 1,
                               ": ", what_happened,
                               " (lower the learning rate, or check the inputs)")),
          epoch(e),
          batch(b) {}
    /// A non-finite loss.
    TrainingDiverged(int e, Eigen::Index b, double loss, std::string_view function = "chrysalis")
        : TrainingDiverged(e, b, detail::concat("the loss is ", loss), function) {}
};

/// When fit and distill print their progress on stderr (TrainOptions::progress): a bool converts
/// to it, so `.progress = false` and `.progress = true` read as before.
///
/// - `Progress::automatic` (the default): as `on` when stderr is a terminal, as `off` when it is
///   a file or a pipe — a log gets nothing unless asked.
/// - `Progress::on` (`true`): on a terminal, one line per epoch redrawn in place ('\r') about
///   four times a second with the loss, accuracy, samples/s and time left so far, and finished
///   with '\n' at the end of the epoch; on a file or a pipe, one plain line per epoch at its end
///   and nothing in between, never a '\r'.
/// - `Progress::off` (`false`): nothing.
///
/// set_quiet(true) (chrysalis/output.hpp) overrides all three: nothing is printed.
struct Progress {
    enum Mode : unsigned char { automatic, on, off };
    Mode mode = automatic;
    constexpr Progress() noexcept = default;
    constexpr Progress(Mode m) noexcept : mode(m) {}
    constexpr Progress(bool enabled) noexcept : mode(enabled ? on : off) {}
    friend constexpr bool operator==(Progress, Progress) noexcept = default;
};

/// Options of fit and distill. `fit(net, data, loss, opt, {.epochs = 10, .batch_size = 64})`.
/// Every field has a default, given first in its comment.
template <class Scalar = float>
struct TrainOptions {
    int epochs = 10;                ///< default 10; ≥ 1
    Eigen::Index batch_size = 128;  ///< default 128; ≥ 1 (an epoch's last batch may be smaller)
    Seed seed{0};         ///< default Seed{0}; the shuffling and the jitter draw from this
    bool shuffle = true;  ///< default true: a new sample order every epoch
    /// Default Progress::automatic: a progress line on stderr when stderr is a terminal, nothing
    /// when it is a file or a pipe; `true` forces it (one plain line per epoch into a file or
    /// pipe), `false` turns it off. See Progress; set_quiet(true) silences it whatever this says.
    Progress progress = Progress::automatic;
    /// Default 0 = off: image jitter applied to every training batch, each image shifted by up to
    /// this many pixels (the paper's teacher used 2); ≥ 0.
    int jitter = 0;
    /// Default 28 × 28: the shape of the images jitter shifts (features = width·height).
    int image_width = 28, image_height = 28;
    /// Default nullptr = none: if set, its accuracy is measured after every epoch.
    const Dataset<Scalar>* validation = nullptr;
    /// Default empty = none: called after every epoch.
    std::function<void(const EpochReport&)> on_epoch = {};
    /// Default 0 = keep chrysalis::threads() (all cores unless set_threads chose otherwise):
    /// threads for the training's products and updates; ≥ 0. The same seed and the same thread
    /// count give bit-identical weights (on x86 with AVX2 or AVX-512, whatever the thread count;
    /// docs/networks.md, "Threads and reproducibility").
    int threads = 0;
    /// Default empty = no checkpoints: if not empty, a checkpoint (save_checkpoint: network,
    /// optimizer state, generators, epoch) replaces this file atomically after every
    /// checkpoint_every-th epoch and after the last.
    std::string checkpoint_path = {};
    int checkpoint_every = 1;  ///< default 1 (every epoch); ≥ 1
    /// Default empty = start afresh: if not empty, training first loads this checkpoint
    /// (load_checkpoint) into the network and the optimizer and continues with the epoch after
    /// the last one it saw, with its generator state: the remaining epochs draw the shuffles,
    /// jitter and dropout masks of an uninterrupted run, so with the same data, options and
    /// thread count the weights come out bit-identical. A checkpoint of epochs ≥ `epochs` leaves
    /// nothing to do.
    std::string resume_from = {};
};

namespace detail {

template <class Scalar>
void check_options(const TrainOptions<Scalar>& o, const char* what) {
    if (o.epochs < 1) throw ValueError(concat(what, ": epochs must be >= 1, got ", o.epochs));
    if (o.batch_size < 1)
        throw ValueError(concat(what, ": batch_size must be >= 1, got ", o.batch_size));
    if (o.jitter < 0) throw ValueError(concat(what, ": jitter must be >= 0, got ", o.jitter));
    if (o.threads < 0)
        throw ValueError(
            concat(what, ": threads must be >= 0 (0 = chrysalis::threads()), got ", o.threads));
}

/// Whether every element of m is finite, in one vectorised pass: 0·x is 0 for a finite x and NaN
/// for NaN or ±∞, and a sum with a NaN term is NaN. (Eigen's allFinite does not vectorise.)
template <class Derived>
[[nodiscard]] bool all_finite(const Eigen::MatrixBase<Derived>& m) {
    using S = typename Derived::Scalar;
    return std::isfinite((m.array() * S(0)).sum());
}

/// Throws ValueError naming `what`, the sample (column) and the row of the first non-finite
/// value of `m`; `name` says what m is ("the data"), `rows` what its rows are ("feature").
/// O(rows·N) once per call: cheap against a forward pass, which is O(parameters·N).
template <class Derived>
void require_finite(const Eigen::MatrixBase<Derived>& m, const char* what, const char* name,
                    const char* rows) {
    if (all_finite(m)) return;
    for (Eigen::Index j = 0; j < m.cols(); ++j) {
        for (Eigen::Index i = 0; i < m.rows(); ++i) {
            if (!std::isfinite(m(i, j))) {
                throw ValueError(concat(what, ": ", rows, " ", i, " of sample ", j, " of ", name,
                                        " is ", m(i, j),
                                        "; expected a finite number (a NaN or infinite input has "
                                        "no meaningful output)"));
            }
        }
    }
}

/// The data fits the network: as many features as its input width, no more classes than
/// outputs, at least one sample (ShapeError); every feature finite (ValueError naming the
/// sample).
template <class Net, class Scalar>
void check_data(const Dataset<Scalar>& data, const char* what, const char* name = "the data") {
    if (data.feature_count() != Net::input_size) {
        throw ShapeError(concat(what, ": ", name, " has ", data.feature_count(),
                                " features per sample but the network's input width is ",
                                Net::input_size));
    }
    if (data.classes > Net::output_size) {
        throw ShapeError(concat(what, ": ", name, " has ", data.classes,
                                " classes but the network has ", Net::output_size, " outputs"));
    }
    if (data.size() == 0)
        throw ShapeError(concat(what, ": ", name, " is empty; expected at least one sample"));
    require_finite(data.features, what, name, "feature");
}

/// One label per sample (ShapeError), each in [0, Net::output_size) (ValueError naming the
/// sample of the data set) — checked before a label indexes anything.
template <class Net, class Scalar>
void check_labels(const Dataset<Scalar>& data, const char* what, const char* name = "the data") {
    if (Eigen::Index(data.labels.size()) != data.size()) {
        throw ShapeError(concat(what, ": ", name, " has ", data.labels.size(), " labels for ",
                                data.size(), " samples; expected one label per sample"));
    }
    for (std::size_t i = 0; i < data.labels.size(); ++i) {
        if (data.labels[i] < 0 || data.labels[i] >= Net::output_size) {
            throw ValueError(concat(what, ": label ", data.labels[i], " of sample ", i, " of ",
                                    name, " is outside [0, ", Net::output_size,
                                    "); expected a class of the network's ", Net::output_size,
                                    " outputs"));
        }
    }
}

/// After a forward: the index of the first layer with parameters whose output holds a NaN or
/// infinite value, or −1. A non-finite weight or bias of a Dense layer makes its whole output
/// row non-finite for every sample (NaN·x and ±∞·0 are NaN, ±∞·x is ±∞ for x ≠ 0), even where a
/// later ReLU or sigmoid would hide it from the loss (max(−∞, 0) = 0). Activation layers cannot
/// make a non-finite value of finite inputs, so only the outputs of layers with parameters are
/// checked: Σ Out·B values, cheap against the forward's Σ In·Out·B multiply-adds.
struct ParameterProbe {
    template <class P, class G>
    void operator()(P&, G&) const noexcept {}
};
template <class L>
inline constexpr bool has_parameters_v = requires(L& layer, ParameterProbe& probe) {
    layer.visit_parameters(probe);
};

template <class Net, std::size_t... I>
std::ptrdiff_t first_non_finite_output(const Net& net, std::index_sequence<I...>) {
    std::ptrdiff_t found = -1;
    const auto check = [&](std::size_t i, bool has_parameters) {
        if (found < 0 && has_parameters && !all_finite(net.activation(i + 1)))
            found = std::ptrdiff_t(i);
    };
    (check(I, has_parameters_v<std::remove_cvref_t<decltype(net.template layer<I>())>>), ...);
    return found;
}

/// Number of columns whose largest logit is at the label.
template <class L>
Eigen::Index count_correct(const L& logits, std::span<const int> labels) {
    Eigen::Index right = 0;
    for (Eigen::Index b = 0; b < logits.cols(); ++b) {
        Eigen::Index arg = 0;
        logits.col(b).maxCoeff(&arg);
        right += arg == labels[std::size_t(b)];
    }
    return right;
}

/// backward, then the optimizer's step. An optimizer that updates one block at a time
/// (begin_step / update, as Sgd, Adam and AdamW do) updates each layer as soon as backward has
/// its gradients, while they are still in cache — the same arithmetic as backward followed by
/// step(); any other optimizer gets step(net, epoch) after backward.
template <class Net, class Optimizer, class G>
void backward_and_step(Net& net, const G& grad, Optimizer& optimizer, int epoch) {
    if constexpr (requires(Matrix<typename Net::Scalar> & m) {
                      optimizer.begin_step();
                      optimizer.update(m, m, std::size_t(0), epoch);
                  }) {
        optimizer.begin_step();
        net.backward(grad, false, [&](auto& p, auto& g, std::size_t block) {
            optimizer.update(p, g, block, epoch);
        });
    } else {
        net.backward(grad);
        optimizer.step(net, epoch);
    }
}

/// The end-of-epoch line on stderr, written with one call so that it stays whole in a log that
/// other threads write to as well. `live`: stderr is a terminal whose current line holds the
/// epoch's progress, overwritten from its start ('\r') and padded to clear its tail; otherwise
/// a plain line, with neither.
inline void print_epoch(const EpochReport& r, int epochs, bool validation, bool live,
                        const char* what) {
    char val[32] = "";
    if (validation) std::snprintf(val, sizeof val, "  val %.2f%%", 100 * r.validation_accuracy);
    std::fprintf(stderr, "%s%s: epoch %d/%d  loss %.4f  acc %.2f%%%s  %.0f samples/s  %.1fs%s\n",
                 live ? "\r" : "", what, r.epoch + 1, epochs, r.loss, 100 * r.accuracy, val,
                 r.samples_per_second, r.seconds, live ? "          " : "");
}

/// The epoch loop shared by fit and distill. `step(batcher, grad)` returns the batch loss after
/// leaving ∂loss/∂logits in grad; the loop does the rest.
template <class Net, class Optimizer, class Step>
std::vector<EpochReport> train_loop(Net& net, const Dataset<typename Net::Scalar>& data,
                                    Optimizer& optimizer,
                                    const TrainOptions<typename Net::Scalar>& o, Step&& step,
                                    const char* what) {
    using S = typename Net::Scalar;
    using Clock = std::chrono::steady_clock;
    check_options(o, what);
    check_data<Net>(data, what);
    check_labels<Net>(data, what);
    if (o.validation != nullptr) {
        check_data<Net>(*o.validation, what, "the validation data (TrainOptions::validation)");
        check_labels<Net>(*o.validation, what, "the validation data (TrainOptions::validation)");
    }
    ThreadsScope threads(o.threads > 0 ? o.threads : detail::thread_setting);
    Batcher<S> batcher(data, o.batch_size, o.shuffle);
    Rng rng(o.seed);
    if (o.checkpoint_every < 1) {
        throw ValueError(concat(what, ": checkpoint_every must be >= 1, got ", o.checkpoint_every));
    }
    const int first_epoch =
        o.resume_from.empty() ? 0 : resume_training(net, optimizer, rng, o.resume_from, what);
    Matrix<S> grad(Net::output_size, o.batch_size);
    std::vector<EpochReport> history;
    // Where the progress goes: a terminal gets a line redrawn in place within each epoch, a file
    // or a pipe one plain line at the end of each epoch (see Progress). is_quiet() is asked at each
    // line, so set_quiet from another thread takes effect at once.
    const bool live = o.progress != Progress::off && output_detail::stderr_is_terminal();
    const bool report_epochs = live || o.progress == Progress::on;
    const auto start = Clock::now();
    auto last_print = start;
    for (int epoch = first_epoch; epoch < o.epochs; ++epoch) {
        const auto epoch_start = Clock::now();
        batcher.start_epoch(rng);
        double loss_sum = 0;
        Eigen::Index seen = 0, correct = 0, batch_index = 0;
        while (batcher.next()) {
            if (o.jitter > 0)
                jitter(batcher.mutable_features(), o.image_width, o.image_height, o.jitter, rng);
            const Eigen::Index b = batcher.labels().size();
            auto g = grad.leftCols(b);
            const double loss = double(step(batcher, g));
            if (!std::isfinite(loss)) throw TrainingDiverged(epoch, batch_index, loss, what);
            if (const auto layer =
                    first_non_finite_output(net, std::make_index_sequence<Net::depth>{});
                layer >= 0) {
                throw TrainingDiverged(epoch, batch_index,
                                       concat("the output of layer ", layer,
                                              " holds a NaN or infinite value though the loss is "
                                              "finite (a weight or bias is non-finite, or so "
                                              "large that the products overflow)"),
                                       what);
            }
            correct += count_correct(net.activation(Net::depth), batcher.labels());
            backward_and_step(net, g, optimizer, epoch);
            loss_sum += loss * double(b);
            seen += b;
            ++batch_index;
            const auto now = Clock::now();
            if (live && now - last_print > std::chrono::milliseconds(250) && !is_quiet()) {
                last_print = now;
                const double elapsed = std::chrono::duration<double>(now - start).count();
                const double done = epoch + double(seen) / double(data.size());
                const double run = done - first_epoch;  // epochs done by this call
                std::fprintf(
                    stderr,
                    "\r%s: epoch %d/%d  loss %.4f  acc %.2f%%  %.0f samples/s  ETA %.0fs   ", what,
                    epoch + 1, o.epochs, loss_sum / double(seen),
                    100.0 * double(correct) / double(seen), run * double(data.size()) / elapsed,
                    elapsed / run * (o.epochs - done));
            }
        }
        // The epoch's last update is not followed by a forward: check the parameters themselves,
        // O(parameters) once an epoch.
        std::size_t block = 0, bad_block = 0;
        bool finite = true;
        net.visit_parameters([&](auto& p, auto&) {
            if (finite && !all_finite(p)) {
                finite = false;
                bad_block = block;
            }
            ++block;
        });
        if (!finite) {
            throw TrainingDiverged(epoch, batch_index - 1,
                                   concat("parameter block ", bad_block,
                                          " (in visit_parameters order) holds a NaN or infinite "
                                          "value after the update"),
                                   what);
        }
        EpochReport r;
        r.epoch = epoch;
        r.loss = loss_sum / double(seen);
        r.accuracy = double(correct) / double(seen);
        r.seconds = std::chrono::duration<double>(Clock::now() - epoch_start).count();
        r.samples_per_second = double(seen) / r.seconds;
        if (o.validation) r.validation_accuracy = accuracy(net, *o.validation);
        if (report_epochs && !is_quiet())
            print_epoch(r, o.epochs, o.validation != nullptr, live, what);
        const bool last = epoch + 1 == o.epochs;
        if (!o.checkpoint_path.empty() && ((epoch + 1) % o.checkpoint_every == 0 || last)) {
            write_training_checkpoint(net, optimizer, Checkpoint{epoch + 1, rng.state()},
                                      o.checkpoint_path, what);
        }
        history.push_back(r);
        if (o.on_epoch) o.on_epoch(r);
    }
    return history;
}

}  // namespace detail

/// The network's logits for every sample of `data`, classes × N, computed batch by batch in
/// inference mode: a teacher's soft targets computed once, for every epoch of a distillation.
/// Throws: ValueError for batch_size < 1 or a NaN or infinite feature (naming the sample: such an
///   input has no meaningful output, and a ReLU network could turn it into a finite, wrong
///   class); ShapeError for data whose feature count differs from the network's input width,
///   with more classes than the network has outputs, or without samples.
template <class Net>
Matrix<typename Net::Scalar> predict_logits(Net& net, const Dataset<typename Net::Scalar>& data,
                                            Eigen::Index batch_size = 256) {
    if (batch_size < 1) {
        throw ValueError(
            detail::concat("chrysalis::predict_logits: batch_size must be >= 1, got ", batch_size));
    }
    detail::check_data<Net>(data, "chrysalis::predict_logits");
    Matrix<typename Net::Scalar> out(Net::output_size, data.size());
    for (Eigen::Index j = 0; j < data.size(); j += batch_size) {
        const Eigen::Index b = std::min(batch_size, data.size() - j);
        out.middleCols(j, b) = net.forward(data.features.middleCols(j, b));
    }
    return out;
}

/// Fraction of samples whose largest logit is at the label. Throws what predict_logits throws,
/// ShapeError for a label count other than N and ValueError for a label outside
/// [0, Net::output_size).
template <class Net>
double accuracy(Net& net, const Dataset<typename Net::Scalar>& data) {
    detail::check_labels<Net>(data, "chrysalis::accuracy");
    const auto logits = predict_logits(net, data);
    return double(detail::count_correct(logits, data.labels)) / double(data.size());
}

/// Counts by true class (rows) and predicted class (columns), classes × classes. Throws as
/// accuracy does.
template <class Net>
Eigen::MatrixXi confusion_matrix(Net& net, const Dataset<typename Net::Scalar>& data) {
    detail::check_labels<Net>(data, "chrysalis::confusion_matrix");
    const auto logits = predict_logits(net, data);
    Eigen::MatrixXi m = Eigen::MatrixXi::Zero(Net::output_size, Net::output_size);
    for (Eigen::Index b = 0; b < logits.cols(); ++b) {
        Eigen::Index arg = 0;
        logits.col(b).maxCoeff(&arg);
        ++m(data.labels[std::size_t(b)], arg);
    }
    return m;
}

/// Mean cross-entropy and accuracy on a data set.
struct Evaluation {
    double loss = 0;
    double accuracy = 0;
};
/// Mean cross-entropy and accuracy; throws as accuracy does.
template <class Net>
Evaluation evaluate(Net& net, const Dataset<typename Net::Scalar>& data) {
    detail::check_labels<Net>(data, "chrysalis::evaluate");
    const auto logits = predict_logits(net, data);
    Evaluation e;
    e.loss = double(CrossEntropy{}(logits, data.labels).loss);
    e.accuracy = double(detail::count_correct(logits, data.labels)) / double(data.size());
    return e;
}

/// Trains `net` on `data` with a hard-label loss (CrossEntropy, or any callable
/// loss(logits, labels, gradient) → value) and an optimizer (Sgd, Adam, AdamW). Returns one
/// report per epoch. Throws ValueError for bad options, a NaN or infinite feature or a label
/// outside [0, Net::output_size); ShapeError for data (or options.validation) that does not fit
/// the network; TrainingDiverged when the loss, a layer's output or a parameter becomes NaN or
/// infinite.
template <class Net, class Loss, class Optimizer>
std::vector<EpochReport> fit(Net& net, const Dataset<typename Net::Scalar>& data, Loss loss,
                             Optimizer& optimizer,
                             const TrainOptions<typename Net::Scalar>& options = {}) {
    return detail::train_loop(
        net, data, optimizer, options,
        [&](auto& batcher, auto& grad) {
            return loss(net.forward(batcher.features(), Mode::training), batcher.labels(), grad);
        },
        "chrysalis::fit");
}

namespace detail {

/// distill and distill_soft: per batch, gather the cached teacher logits (or probabilities) of
/// the batch's samples into a buffer made once, and apply the distillation loss.
template <class Net, class Optimizer>
std::vector<EpochReport> distill_cached(Net& student, const Dataset<typename Net::Scalar>& data,
                                        const Matrix<typename Net::Scalar>& targets,
                                        const Distillation& kd, Optimizer& optimizer,
                                        const TrainOptions<typename Net::Scalar>& options,
                                        bool probabilities, const char* what) {
    const char* name = probabilities ? "the probabilities" : "the teacher logits";
    if (targets.rows() != Net::output_size || targets.cols() != data.size()) {
        throw ShapeError(
            concat(what, ": ", name, " are ", targets.rows(), "x", targets.cols(),
                   " but the student has ", Net::output_size, " outputs and the data ", data.size(),
                   " samples; expected classes x samples = ", Net::output_size, "x", data.size()));
    }
    require_finite(targets, what, name, probabilities ? "probability" : "logit");
    if (options.jitter > 0) {
        throw ValueError(
            concat(what,
                   ": cached teacher outputs belong to the unjittered inputs; to distil with "
                   "jitter pass the teacher network itself"));
    }
    Matrix<typename Net::Scalar> buffer(Net::output_size, options.batch_size);
    return train_loop(
        student, data, optimizer, options,
        [&](auto& batcher, auto& grad) {
            const auto idx = batcher.indices();
            auto t = buffer.leftCols(Eigen::Index(idx.size()));
            for (std::size_t k = 0; k < idx.size(); ++k)
                t.col(Eigen::Index(k)) = targets.col(idx[k]);
            const auto logits = student.forward(batcher.features(), Mode::training);
            return probabilities ? kd.soft_targets(logits, t, batcher.labels(), grad)
                                 : kd(logits, t, batcher.labels(), grad);
        },
        what);
}

}  // namespace detail

/// Distils into `student` from cached teacher logits (classes × N, as predict_logits gives):
/// each batch uses the logits of its own samples, so an epoch costs what ordinary training
/// costs. Throws ShapeError if teacher_logits is not Student::output_size × N; ValueError for a
/// NaN or infinite teacher logit (naming the sample) or options.jitter > 0 (cached logits belong
/// to unjittered inputs); otherwise as fit.
template <class Net, class Optimizer>
std::vector<EpochReport> distill(Net& student, const Dataset<typename Net::Scalar>& data,
                                 const Matrix<typename Net::Scalar>& teacher_logits,
                                 const Distillation& kd, Optimizer& optimizer,
                                 const TrainOptions<typename Net::Scalar>& options = {}) {
    return detail::distill_cached(student, data, teacher_logits, kd, optimizer, options, false,
                                  "chrysalis::distill");
}

/// Distils from a teacher network run on every batch (in inference mode) — for inputs that
/// change every epoch, such as jittered images.
template <class Net, class Teacher, class Optimizer>
requires requires {
    Teacher::output_size;
}
std::vector<EpochReport> distill(Net& student, const Dataset<typename Net::Scalar>& data,
                                 Teacher& teacher, const Distillation& kd, Optimizer& optimizer,
                                 const TrainOptions<typename Net::Scalar>& options = {}) {
    static_assert(Teacher::output_size == Net::output_size,
                  "chrysalis::distill: the teacher and the student disagree on the number of "
                  "classes (their output widths differ)");
    static_assert(
        Teacher::input_size == Net::input_size,
        "chrysalis::distill: the teacher and the student take inputs of different widths");
    return detail::train_loop(
        student, data, optimizer, options,
        [&](auto& batcher, auto& grad) {
            const auto t = teacher.forward(batcher.features(), Mode::inference);
            return kd(student.forward(batcher.features(), Mode::training), t, batcher.labels(),
                      grad);
        },
        "chrysalis::distill");
}

/// Soft targets of an ensemble of teachers: the weighted mean of their probabilities at
/// temperature T, Σ_k w_k·softmax(z_k/T) / Σ_k w_k (averaging in probability space, not logits).
/// Use with distill_soft. Throws ValueError for no teachers, negative / non-finite / all-zero
/// weights or a bad temperature; ShapeError for mismatched shapes or a weight count other than
/// the teacher count.
template <class Scalar>
Matrix<Scalar> ensemble_probabilities(std::span<const Matrix<Scalar>> teacher_logits,
                                      std::span<const double> weights, double temperature) {
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
        softmax(z, temperature, p);
        sum += Scalar((weights.empty() ? 1.0 : weights[k]) / total) * p;
    }
    return sum;
}

/// Distils from soft targets (teacher probabilities at kd.temperature, classes × N), e.g. an
/// ensemble's from ensemble_probabilities, or probabilities computed by another engine.
template <class Net, class Optimizer>
std::vector<EpochReport> distill_soft(Net& student, const Dataset<typename Net::Scalar>& data,
                                      const Matrix<typename Net::Scalar>& probabilities,
                                      const Distillation& kd, Optimizer& optimizer,
                                      const TrainOptions<typename Net::Scalar>& options = {}) {
    return detail::distill_cached(student, data, probabilities, kd, optimizer, options, true,
                                  "chrysalis::distill_soft");
}

}  // namespace chrysalis::inline CHRYSALIS_ISA_NAMESPACE
