#pragma once
// chrysalis/checkpointing.hpp — Checkpointing: the training observer that writes a checkpoint
// every few epochs and resumes a run from one (the file format is in chrysalis/checkpoint.hpp).

#include "chrysalis/isa.hpp"  // first: see its note on GCC bug 105593

#include <concepts>
#include <memory>
#include <string>
#include <utility>

#include "chrysalis/checkpoint.hpp"
#include "chrysalis/concepts/observer.hpp"
#include "chrysalis/config.hpp"
#include "chrysalis/errors.hpp"

namespace chrysalis::inline CHRYSALIS_ISA_NAMESPACE {

/// A training observer (TrainingObserver) for fit and distill that saves and resumes runs:
///
///   fit(net, train, CrossEntropy{}, opt, {.epochs = 20},
///       Checkpointing{.path = "run.ckpt", .resume_from = "run.ckpt"});
///
/// Requires: the network and the optimizer can be checkpointed (save_checkpoint's requirements;
///   a build error otherwise); every ≥ 1 (ValueError at the start of training, naming
///   Checkpointing::every).
/// Ensures:
///   - resume_from not empty: before the first epoch, the checkpoint is loaded (load_checkpoint)
///     into the network and the optimizer, the training generator takes its state, and training
///     continues with the epoch after the last one it saw: the remaining epochs draw the
///     shuffles, jitter and dropout masks of an uninterrupted run, so with the same data,
///     options and thread count the weights come out bit-identical. A checkpoint of epochs ≥
///     TrainOptions::epochs leaves nothing to do. The file is read once, before any observer's
///     on_train_begin, and what is loaded is what was read then, whatever becomes of the file
///     after. A missing or bad file throws what load_checkpoint throws, before anything is
///     trained — a missing or unreadable one before any observer's on_train_begin, and, where
///     the network and the optimizer can be copied, a bad one too (its bytes are loaded into
///     copies first; so an EarlyStopping passed beside it keeps its state). Not recorded, hence
///     neither checked nor restored: the data and options (a resume with others is another run),
///     and the state of other observers — EarlyStopping starts afresh, so a run with it may stop
///     elsewhere, and one that stopped early trains on (docs/data-and-models.md, "Checkpoints").
///   - path not empty: a checkpoint (network, optimizer state, generator, epoch) replaces `path`
///     atomically after every every-th epoch, after the last epoch, and after an epoch at which
///     an earlier observer (EarlyStopping, passed before this one) stopped training: the weights
///     of that epoch, not the best ones EarlyStopping restores when training ends. A failed
///     write throws IoError naming the file; the previous checkpoint stays as it was.
struct Checkpointing {
    std::string path = {};         ///< default empty = write no checkpoints
    int every = 1;                 ///< default 1 (every epoch); ≥ 1
    std::string resume_from = {};  ///< default empty = start afresh

    /// The checkpoint file's bytes, from check_settings to on_train_begin; not a setting.
    mutable std::shared_ptr<const std::string> resume_bytes_ = {};

    /// The settings, checked before any observer's on_train_begin runs.
    template <class Net, class Optimizer>
    void check_settings(const TrainingContext<Net, Optimizer>& ctx) const {
        resume_bytes_.reset();  // nothing of an earlier call's is loaded
        static_assert(detail::checkpointable<Net, Optimizer>,
                      "chrysalis::Checkpointing: checkpoints hold a Sequential whose layers name "
                      "themselves, trained by an optimizer that models chrysalis::Optimizer "
                      "(name, save_state, load_state); see chrysalis/concepts/optimizer.hpp");
        if (every < 1) {
            throw ValueError(
                detail::concat(ctx.function, ": Checkpointing::every must be >= 1, got ", every));
        }
        // The checkpoint to resume from is read here, once, and checked whole into copies: a
        // missing, damaged or mismatched file is refused before any observer's on_train_begin
        // (which resets EarlyStopping) has run, and on_train_begin loads these same bytes, so
        // what it loads is what was checked, whatever happens to the file in between.
        if (resume_from.empty()) return;
        auto bytes = std::make_shared<const std::string>(
            detail::read_file(resume_from, "chrysalis::load_checkpoint"));
        if constexpr (std::copy_constructible<Net> && std::copy_constructible<Optimizer>) {
            Net net = ctx.net;
            Optimizer optimizer = ctx.optimizer;
            (void)detail::load_checkpoint_bytes(net, optimizer, *bytes, resume_from,
                                                "chrysalis::load_checkpoint");
        }
        resume_bytes_ = std::move(bytes);
    }

    template <class Net, class Optimizer>
    void on_train_begin(TrainingContext<Net, Optimizer>& ctx) const {
        if (resume_from.empty()) return;
        // The bytes check_settings read (the file itself when it was not called first), moved
        // out of the member, which is left empty: released once loaded.
        const std::shared_ptr<const std::string> bytes =
            resume_bytes_ ? std::move(resume_bytes_)
                          : std::make_shared<const std::string>(
                                detail::read_file(resume_from, "chrysalis::load_checkpoint"));
        ctx.first_epoch = detail::resume_training(ctx.net, ctx.optimizer, ctx.rng, *bytes,
                                                  resume_from, ctx.function);
    }

    template <class Net, class Optimizer>
    void on_epoch_end(TrainingContext<Net, Optimizer>& ctx, const EpochReport& report) const {
        const int done = report.epoch + 1;
        if (path.empty() || !(done % every == 0 || done == ctx.epochs || ctx.stop)) return;
        detail::write_training_checkpoint(ctx.net, ctx.optimizer, Checkpoint{done, ctx.rng.state()},
                                          path, ctx.function);
    }
};

}  // namespace chrysalis::inline CHRYSALIS_ISA_NAMESPACE
