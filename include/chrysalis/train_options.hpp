#pragma once
// chrysalis/train_options.hpp — the options of fit and distill (TrainOptions) and when they print
// their progress (Progress). Checkpoints and early stopping are observers passed beside the
// options: chrysalis/checkpointing.hpp, chrysalis/observers.hpp.

#include "chrysalis/isa.hpp"  // first: see its note on GCC bug 105593

#include <Eigen/Core>

#include <algorithm>
#include <cmath>
#include <functional>

#include "chrysalis/concepts/observer.hpp"
#include "chrysalis/config.hpp"
#include "chrysalis/dataset.hpp"
#include "chrysalis/errors.hpp"
#include "chrysalis/parallel.hpp"
#include "chrysalis/random.hpp"

namespace chrysalis::inline CHRYSALIS_ISA_NAMESPACE {

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
    using scalar_type = Scalar;
    int epochs = 10;                ///< default 10; ≥ 1
    Eigen::Index batch_size = 128;  ///< default 128; ≥ 1 (an epoch's last batch may be smaller)
    Seed seed{0};         ///< default Seed{0}; the shuffling and the jitter draw from this
    bool shuffle = true;  ///< default true: a new sample order every epoch
    /// Default Progress::automatic: a progress line on stderr when stderr is a terminal, nothing
    /// when it is a file or a pipe; `true` forces it (one plain line per epoch into a file or
    /// pipe), `false` turns it off. See Progress; set_quiet(true) silences it whatever this says.
    Progress progress = Progress::automatic;
    /// Default 0 = off: image jitter applied to every training batch, each image shifted by up to
    /// this many pixels (the paper's teacher used 2); ≥ 0 and below the images' smaller side.
    int jitter = 0;
    /// Default 28 × 28: the shape of the images jitter shifts (features = width·height).
    int image_width = 28, image_height = 28;
    /// Default nullptr = none: if set, its accuracy is measured after every epoch.
    const Dataset<Scalar>* validation = nullptr;
    /// Default empty = none: called after every epoch, after the observers passed to fit or
    /// distill (see TrainingObserver, chrysalis/concepts/observer.hpp).
    std::function<void(const EpochReport&)> on_epoch = {};
    /// Default 0 = keep chrysalis::threads() (all cores unless set_threads chose otherwise):
    /// threads for the training's products and updates; in [0, chrysalis::max_threads] (1024),
    /// as for set_threads (else ValueError naming fit or distill). The same seed and the same
    /// thread count give bit-identical weights (on x86 with AVX2 or AVX-512, whatever the thread
    /// count; docs/networks.md, "Threads and reproducibility").
    int threads = 0;
    /// Default 0 = off: else, before every update, the gradients of all the parameters, taken
    /// together as one vector, are scaled by min(1, c/(‖g‖ + 1e-6)) for c = clip_grad_norm, as
    /// torch.nn.utils.clip_grad_norm_ does (its norm summed in double here, and rescaled where a
    /// double gradient's squares overflow, so that gradients beyond 1e154 are clipped rather than
    /// zeroed). A gradient holding a NaN is left to the divergence check. The update then
    /// follows the whole backward pass instead of each layer's (the gradients must all be known
    /// first). Finite and ≥ 0 (else ValueError naming fit or distill).
    double clip_grad_norm = 0;
};

namespace detail {

/// The most samples one batch of `o` over `n` samples holds: batch_size capped at n (and at 0
/// from below, for options not checked yet). Buffers are sized by it, so that a batch_size of
/// INT64_MAX ("the whole data set in one batch") allocates for the data, not for the option.
template <class Scalar>
Eigen::Index batch_capacity(const TrainOptions<Scalar>& o, Eigen::Index n) {
    return std::max<Eigen::Index>(0, std::min(o.batch_size, n));
}

template <class Scalar>
void check_options(const TrainOptions<Scalar>& o, const char* what) {
    if (o.epochs < 1) throw ValueError(concat(what, ": epochs must be >= 1, got ", o.epochs));
    if (o.batch_size < 1)
        throw ValueError(concat(what, ": batch_size must be >= 1, got ", o.batch_size));
    if (o.jitter < 0) throw ValueError(concat(what, ": jitter must be >= 0, got ", o.jitter));
    if (o.threads < 0)
        throw ValueError(
            concat(what, ": threads must be >= 0 (0 = chrysalis::threads()), got ", o.threads));
    if (o.threads > max_threads)
        throw ValueError(concat(what, ": threads must be <= ", max_threads,
                                " (chrysalis::max_threads), got ", o.threads));
    if (!(o.clip_grad_norm >= 0) || !std::isfinite(o.clip_grad_norm))
        throw ValueError(concat(what,
                                ": clip_grad_norm must be a finite number >= 0 (0 = no "
                                "clipping), got ",
                                o.clip_grad_norm));
}

/// With jitter on, the images jitter shifts fit the data: image_width and image_height ≥ 1
/// (ValueError) and image_width · image_height = `features`, the data's feature count
/// (ShapeError) — checked when fit or distill is called, naming it, not at the first batch.
template <class Scalar>
void check_jitter_shape(const TrainOptions<Scalar>& o, Eigen::Index features, const char* what) {
    if (o.jitter == 0) return;
    if (o.image_width < 1 || o.image_height < 1) {
        throw ValueError(concat(what,
                                ": options.image_width and options.image_height must be >= 1 "
                                "when options.jitter > 0, got image_width = ",
                                o.image_width, ", image_height = ", o.image_height));
    }
    const Eigen::Index pixels = Eigen::Index(o.image_width) * o.image_height;
    if (pixels != features) {
        throw ShapeError(concat(
            what, ": options.jitter = ", o.jitter, " shifts images of options.image_width x ",
            "options.image_height = ", o.image_width, " x ", o.image_height, " = ", pixels,
            " pixels but the data has ", features,
            " features per sample; set image_width and image_height to the images' shape, or "
            "jitter = 0 for data that is not images"));
    }
    if (o.jitter >= std::min(o.image_width, o.image_height)) {
        throw ValueError(concat(what, ": options.jitter must be below the images' smaller side, ",
                                std::min(o.image_width, o.image_height),
                                " (a shift that large moves every pixel out: a blank image "
                                "keeping its label), got ",
                                o.jitter));
    }
}

}  // namespace detail

}  // namespace chrysalis::inline CHRYSALIS_ISA_NAMESPACE
