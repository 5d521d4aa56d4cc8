#pragma once
// chrysalis/concepts/observer.hpp — the training-observer contract: what fit and distill tell the
// objects that watch (and may stop) a training run, and what such an object must provide.

#include "chrysalis/isa.hpp"  // first: see its note on GCC bug 105593

#include <Eigen/Core>

#include <cmath>
#include <concepts>
#include <limits>
#include <vector>

#include "chrysalis/dataset.hpp"
#include "chrysalis/random.hpp"

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

/// Where an epoch stands after one of its batches (for observers with on_batch_end).
struct BatchReport {
    int epoch = 0;                       ///< from 0
    Eigen::Index batch = 0;              ///< from 0, within the epoch
    Eigen::Index seen = 0;               ///< samples of this epoch trained on so far
    Eigen::Index samples_per_epoch = 0;  ///< the data set's size
    double loss_sum = 0;                 ///< Σ batch loss · batch size over this epoch so far
    Eigen::Index correct = 0;            ///< training samples of this epoch classified right
    /// loss_sum / seen, kept as a running mean (each batch's loss weighted by its share of the
    /// samples seen): finite where loss_sum overflows, as with a double network's batch losses
    /// near 1e308. Equal to loss_sum / seen to within rounding.
    double loss_running_mean = 0;
    /// The mean loss per sample so far, which the epoch's EpochReport::loss is: loss_sum / seen,
    /// or loss_running_mean where that is not finite and the running mean is (+∞ then only where
    /// the mean itself is, to within rounding, beyond double). 0 before the first batch.
    [[nodiscard]] double mean_loss() const noexcept {
        const double mean = loss_sum / double(seen);
        return std::isfinite(mean) || !std::isfinite(loss_running_mean) ? mean : loss_running_mean;
    }
};

/// What the training loop shows its observers: the run's objects and its position. One context
/// lives for one call of fit or distill.
template <class Net, class Optimizer>
struct TrainingContext {
    Net& net;                    ///< the network being trained
    Optimizer& optimizer;        ///< its optimizer
    Rng& rng;                    ///< the training generator: shuffles and jitter draw from it
    const char* const function;  ///< the training function, for messages: "chrysalis::fit"
    const int epochs;            ///< TrainOptions::epochs: the run ends before this epoch
    /// TrainOptions::validation: the data set whose accuracy each EpochReport gives, or null.
    const Dataset<typename Net::scalar_type>* const validation = nullptr;
    /// The epoch this call starts from: 0, unless an observer's on_train_begin moved it (a
    /// resumed checkpoint does). Epochs count from 0.
    int first_epoch = 0;
    /// Set by an observer (in on_epoch_end) to end training after the current epoch; the epochs
    /// run so far are returned as usual.
    bool stop = false;
};

/// TrainingObserver<O, Net, Optimizer> — an object that watches a training run of fit or distill
/// and may act on it: print progress, validate, write checkpoints, stop early, log a CSV line.
/// Pass any number after the options: `fit(net, data, loss, opt, options, obs1, obs2)`; they are
/// called in that order, each seeing what the earlier ones did. The built-in options
/// (TrainOptions::validation, progress, on_epoch) act as observers run before (validation,
/// progress) and after (on_epoch) the ones passed.
///
/// With ctx a TrainingContext<Net, Optimizer>& and report an EpochReport&:
///   - `o.on_epoch_end(ctx, report)` (required):
///       Requires: the epoch `report.epoch` has been trained; ctx.net holds the weights after its
///         last update; report holds its loss, accuracy and time, and validation_accuracy when
///         TrainOptions::validation is set.
///       Ensures: may change report (later observers and the returned history see the change),
///         may set ctx.stop = true to end training after this epoch, may read or change ctx.net
///         and ctx.optimizer (as a checkpoint writer or a weight restorer does). May throw: the
///         exception leaves fit or distill, with the epochs so far applied to the network.
///   - `o.check_settings(ctx)` (optional; ctx a const TrainingContext&): called once for every
///     observer before any on_train_begin. Throws for a setting it refuses (ValueError naming
///     ctx.function and the setting). Checks belong here, not in on_train_begin: when one
///     throws, no observer's on_train_begin has run yet (a resume has not replaced the weights).
///   - `o.on_train_begin(ctx)` (optional): called once, before the first epoch, after the
///     options, the data and every observer's check_settings. May set ctx.first_epoch (to continue
///     a run; ValueError naming the function if it is left below 0) and change ctx.net,
///     ctx.optimizer and ctx.rng (to restore them). function, epochs and validation are const: the
///     run's own settings.
///   Each optional hook, where the observer has a member of its name (a function, an overload
///   set, a member template; inherited or not), must be callable with the arguments below for
///   this call's network and optimizer, or the build fails naming it (one declared otherwise
///   would never be called). A final class's member templates and overload sets are not checked.
///   - `o.on_batch_end(ctx, batch)` (optional; batch a const BatchReport&): after each batch's
///     update. Keep it cheap: it runs hundreds of times an epoch.
///   - `o.on_train_end(ctx, history)` (optional; history a const std::vector<EpochReport>&):
///     after the last epoch run (also after an early stop), not when an exception leaves the
///     loop.
///
/// A callable `f(const EpochReport&)` (a lambda writing a CSV line, say) is also accepted where
/// an observer is: it is called as on_epoch_end would be, without the context.
template <class O, class Net, class Optimizer>
concept TrainingObserver = requires(O& observer, TrainingContext<Net, Optimizer>& context,
                                    EpochReport& report) {
    observer.on_epoch_end(context, report);
};

/// What fit and distill accept as an observer: a TrainingObserver, or a callable on the report.
template <class O, class Net, class Optimizer>
concept ObserverFor = TrainingObserver<O, Net, Optimizer> || std::invocable<O&, const EpochReport&>;

}  // namespace chrysalis::inline CHRYSALIS_ISA_NAMESPACE
