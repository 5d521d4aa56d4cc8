#pragma once
// chrysalis/observers.hpp — observers of a training run (see TrainingObserver in
// chrysalis/concepts/observer.hpp): EarlyStopping, and the progress line, validation and per-epoch
// callback behind TrainOptions::progress, ::validation and ::on_epoch. Checkpointing, which writes
// files, is in chrysalis/checkpointing.hpp.

#include "chrysalis/isa.hpp"  // first: see its note on GCC bug 105593

#include <Eigen/Core>

#include <chrono>
#include <cmath>
#include <concepts>
#include <cstdio>
#include <limits>
#include <type_traits>
#include <utility>
#include <vector>

#include "chrysalis/concepts/observer.hpp"
#include "chrysalis/config.hpp"
#include "chrysalis/dataset.hpp"
#include "chrysalis/errors.hpp"
#include "chrysalis/evaluate.hpp"
#include "chrysalis/output.hpp"
#include "chrysalis/tensor.hpp"
#include "chrysalis/train_options.hpp"

namespace chrysalis::inline CHRYSALIS_ISA_NAMESPACE {

namespace detail {
/// EarlyStopping's record of the current run.
struct EarlyStoppingState {
    double best = std::numeric_limits<double>::quiet_NaN();
    int best_epoch = -1;
    int waited = 0;
    bool stopped = false;
    std::vector<Matrix<float>> saved_float;    // the best epoch's parameter blocks, in
    std::vector<Matrix<double>> saved_double;  // visit_parameters order
};
}  // namespace detail

/// Stops training when the validation accuracy (TrainOptions::validation) has not improved by
/// more than `min_delta` for `patience` epochs in a row, and (with restore_best) puts back the
/// parameters of the best epoch when training ends, early or not.
///
///   EarlyStopping stop{.patience = 3};
///   fit(net, train, CrossEntropy{}, opt, {.epochs = 50, .validation = &val}, stop);
///   // stop.best_epoch(): the epoch whose weights net now holds
///
/// Requires: TrainOptions::validation is set, patience ≥ 1, min_delta finite and ≥ 0 (otherwise
///   ValueError before the first epoch, naming the setting).
/// Ensures: training stops after the epoch in which `patience` epochs have passed without an
///   improvement; "improved" means validation accuracy > best so far + min_delta. The first
///   epoch is always an improvement. With restore_best, the network's parameters (every block
///   visit_parameters visits) are those after the best epoch when fit or distill returns; other
///   state (an optimizer's moments, a dropout layer's rate) is left as training left it. Keeps
///   one copy of the parameters.
/// One object watches one run at a time; a new run (a new call of fit or distill) starts afresh.
struct EarlyStopping {
    int patience = 5;          ///< default 5: epochs without improvement before stopping; ≥ 1
    double min_delta = 0;      ///< default 0: the least rise in validation accuracy that counts
    bool restore_best = true;  ///< default true: restore the best epoch's parameters at the end

    /// The epoch (from 0) with the best validation accuracy of the last run; −1 before one.
    [[nodiscard]] int best_epoch() const noexcept { return state_.best_epoch; }
    /// The best validation accuracy of the last run; NaN before one.
    [[nodiscard]] double best_accuracy() const noexcept { return state_.best; }
    /// Whether the last run was stopped early (before TrainOptions::epochs).
    [[nodiscard]] bool stopped() const noexcept { return state_.stopped; }

    /// The settings, checked before any observer's on_train_begin (a checkpoint's resume) runs.
    template <class Net, class Optimizer>
    void check_settings(const TrainingContext<Net, Optimizer>& ctx) const {
        if (patience < 1) {
            throw ValueError(detail::concat(
                ctx.function, ": EarlyStopping::patience must be >= 1, got ", patience));
        }
        if (!(min_delta >= 0) || !std::isfinite(min_delta)) {
            throw ValueError(detail::concat(
                ctx.function, ": EarlyStopping::min_delta must be a finite number >= 0, got ",
                min_delta));
        }
        if (ctx.validation == nullptr) {
            throw ValueError(detail::concat(ctx.function,
                                            ": EarlyStopping watches the validation accuracy; "
                                            "set TrainOptions::validation"));
        }
    }

    template <class Net, class Optimizer>
    void on_train_begin(TrainingContext<Net, Optimizer>&) {
        state_.best = std::numeric_limits<double>::quiet_NaN();
        state_.best_epoch = -1;
        state_.waited = 0;
        state_.stopped = false;
        state_.saved_float.clear();
        state_.saved_double.clear();
    }

    template <class Net, class Optimizer>
    void on_epoch_end(TrainingContext<Net, Optimizer>& ctx, const EpochReport& report) {
        if (state_.best_epoch < 0 || report.validation_accuracy > state_.best + min_delta) {
            state_.best = report.validation_accuracy;
            state_.best_epoch = report.epoch;
            state_.waited = 0;
            if (restore_best) save(ctx.net);
        } else if (++state_.waited >= patience) {
            state_.stopped = report.epoch + 1 < ctx.epochs;
            ctx.stop = true;
        }
    }

    template <class Net, class Optimizer>
    void on_train_end(TrainingContext<Net, Optimizer>& ctx, const std::vector<EpochReport>&) {
        if (!restore_best || blocks<Net>().empty()) return;
        std::size_t k = 0;
        ctx.net.visit_parameters([&](auto& p, auto&) { p = blocks<Net>()[k++]; });
    }

  private:
    template <class Net>
    std::vector<Matrix<typename Net::scalar_type>>& blocks() {
        if constexpr (std::is_same_v<typename Net::scalar_type, float>)
            return state_.saved_float;
        else
            return state_.saved_double;
    }
    template <class Net>
    void save(Net& net) {
        auto& saved = blocks<Net>();
        std::size_t k = 0;
        net.visit_parameters([&](auto& p, auto&) {
            if (k == saved.size()) saved.emplace_back();
            saved[k++] = p;
        });
    }

  public:
    detail::EarlyStoppingState state_{};  ///< the run's progress; not a setting
};

namespace detail {

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

/// TrainOptions::progress as an observer: on a terminal a line redrawn in place within each
/// epoch (at most four times a second), on a file or a pipe one plain line at the end of each
/// epoch (see Progress). is_quiet() is asked at each line, so set_quiet from another thread
/// takes effect at once.
class ProgressLine {
  public:
    ProgressLine(Progress progress, bool validation)
        : live_(progress != Progress::off && output_detail::stderr_is_terminal()),
          report_epochs_(live_ || progress == Progress::on),
          validation_(validation) {}

    template <class Ctx>
    void on_train_begin(Ctx&) {
        start_ = last_print_ = Clock::now();
    }

    template <class Ctx>
    void on_batch_end(Ctx& ctx, const BatchReport& b) {
        if (!live_) return;
        const auto now = Clock::now();
        if (now - last_print_ <= std::chrono::milliseconds(250) || is_quiet()) return;
        last_print_ = now;
        const double elapsed = std::chrono::duration<double>(now - start_).count();
        const double done = b.epoch + double(b.seen) / double(b.samples_per_epoch);
        const double run = done - ctx.first_epoch;  // epochs done by this call
        std::fprintf(
            stderr, "\r%s: epoch %d/%d  loss %.4f  acc %.2f%%  %.0f samples/s  ETA %.0fs   ",
            ctx.function, b.epoch + 1, ctx.epochs, b.mean_loss(),
            100.0 * double(b.correct) / double(b.seen), run * double(b.samples_per_epoch) / elapsed,
            elapsed / run * (ctx.epochs - done));
    }

    template <class Ctx>
    void on_epoch_end(Ctx& ctx, const EpochReport& r) {
        if (report_epochs_ && !is_quiet())
            print_epoch(r, ctx.epochs, validation_, live_, ctx.function);
    }

  private:
    using Clock = std::chrono::steady_clock;
    bool live_, report_epochs_, validation_;
    Clock::time_point start_{}, last_print_{};
};

/// TrainOptions::validation as an observer: fills EpochReport::validation_accuracy.
template <class Scalar>
struct Validation {
    const Dataset<Scalar>* data;
    template <class Ctx>
    void on_epoch_end(Ctx& ctx, EpochReport& r) {
        if (data != nullptr) r.validation_accuracy = accuracy(ctx.net, *data);
    }
};

/// Calls each observer's hooks that it has.
template <class O, class Ctx>
void notify_check_settings(O& o, const Ctx& ctx) {
    if constexpr (requires { o.check_settings(ctx); }) o.check_settings(ctx);
}
template <class O, class Ctx>
void notify_train_begin(O& o, Ctx& ctx) {
    if constexpr (requires { o.on_train_begin(ctx); }) o.on_train_begin(ctx);
}
template <class O, class Ctx>
void notify_batch_end(O& o, Ctx& ctx, const BatchReport& b) {
    if constexpr (requires { o.on_batch_end(ctx, b); }) o.on_batch_end(ctx, b);
}
template <class O, class Ctx>
void notify_epoch_end(O& o, Ctx& ctx, EpochReport& r) {
    if constexpr (requires { o.on_epoch_end(ctx, r); })
        o.on_epoch_end(ctx, r);
    else
        o(std::as_const(r));
}
template <class O, class Ctx>
void notify_train_end(O& o, Ctx& ctx, const std::vector<EpochReport>& history) {
    if constexpr (requires { o.on_train_end(ctx, history); }) o.on_train_end(ctx, history);
}

}  // namespace detail

}  // namespace chrysalis::inline CHRYSALIS_ISA_NAMESPACE
