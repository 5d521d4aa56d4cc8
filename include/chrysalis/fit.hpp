#pragma once
// chrysalis/fit.hpp — fit: training a network on labelled data with a hard-label loss.

#include "chrysalis/isa.hpp"  // first: see its note on GCC bug 105593

#include <type_traits>
#include <vector>

#include "chrysalis/concepts/loss.hpp"
#include "chrysalis/concepts/observer.hpp"
#include "chrysalis/dataset.hpp"
#include "chrysalis/tensor.hpp"
#include "chrysalis/train_options.hpp"
#include "chrysalis/training_loop.hpp"

namespace chrysalis::inline CHRYSALIS_ISA_NAMESPACE {

/// Trains `net` on `data` with a hard-label loss and an optimizer, for options.epochs epochs of
/// shuffled mini-batches; returns one report per epoch run.
///
///   fit(net, train, CrossEntropy{}, opt, {.epochs = 10, .validation = &test});
///   fit(net, train, CrossEntropy{}, opt, {.epochs = 50, .validation = &val},
///       EarlyStopping{.patience = 3}, Checkpointing{.path = "run.ckpt"});
///
/// Requires: `loss` models Loss<L, Net::scalar_type> (CrossEntropy, or a type of your own: see
///   chrysalis/concepts/loss.hpp) and is called once per batch, as loss(logits, labels,
///   gradient); `optimizer` models Optimizer<O, Net> (Sgd, Adam, AdamW, or your own:
///   chrysalis/concepts/optimizer.hpp; a build error names the missing member); each of
///   `observers` models TrainingObserver or is a callable on `const EpochReport&`
///   (chrysalis/concepts/observer.hpp), called in the order given.
/// Throws: ValueError for bad options, a NaN or infinite feature, a label outside
///   [0, Net::output_size), or a layer hyperparameter its set_hyperparameters refuses (a
///   public LeakyReLU::slope set to NaN, naming the layer); ShapeError for data (or
///   options.validation) that does not fit the network (a feature count other than its input width,
///   more classes than its outputs), that has no samples or a label count other than its sample
///   count, or, with options.jitter > 0, a feature count other than image_width · image_height —
///   all checked when fit is called, before the first batch, and naming chrysalis::fit;
///   TrainingDiverged when the loss, a layer's output or a parameter becomes NaN or infinite;
///   whatever the optimizer's update throws (Sgd, Adam: ValueError naming chrysalis::Schedule for
///   a factor that is not finite and >= 0); whatever an observer throws.
template <class Net, class L, class Optimizer, class... Observers>
requires Loss<L, typename Net::scalar_type> std::vector<EpochReport> fit(
    Net& net, const Dataset<typename Net::scalar_type>& data, L loss, Optimizer& optimizer,
    const TrainOptions<typename Net::scalar_type>& options = {}, Observers&&... observers) {
    return detail::train_loop(
        net, data, optimizer, options,
        [&](auto& batcher, auto& grad) {
            return loss(net.forward(batcher.features(), Mode::training), batcher.labels(), grad);
        },
        "chrysalis::fit", observers...);
}

}  // namespace chrysalis::inline CHRYSALIS_ISA_NAMESPACE
