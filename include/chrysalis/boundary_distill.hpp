#pragma once
// chrysalis/boundary_distill.hpp — distillation with boundary-supporting samples, the training of
// Heo, Lee, Yun & Choi (AAAI 2019, arXiv 1805.05532): each batch distilled from the live teacher
// as distill does, plus a term on boundary-supporting samples (boundary_samples.hpp) made fresh
// for the batch, with a weight that decays over the epochs. docs/boundary-samples.md has the math
// and where we depart from the paper. No file I/O.

#include "chrysalis/isa.hpp"  // first: see its note on GCC bug 105593

#include <Eigen/Core>

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <span>
#include <string>
#include <type_traits>
#include <vector>

#include "chrysalis/boundary_samples.hpp"
#include "chrysalis/concepts/loss.hpp"
#include "chrysalis/concepts/observer.hpp"
#include "chrysalis/config.hpp"
#include "chrysalis/dataset.hpp"
#include "chrysalis/detail/data_checks.hpp"
#include "chrysalis/errors.hpp"
#include "chrysalis/losses.hpp"
#include "chrysalis/optimizer_state.hpp"
#include "chrysalis/random.hpp"
#include "chrysalis/softmax.hpp"
#include "chrysalis/tensor.hpp"
#include "chrysalis/train_options.hpp"
#include "chrysalis/training_loop.hpp"

namespace chrysalis::inline CHRYSALIS_ISA_NAMESPACE {

namespace detail {

inline void check_bss_training(const BssOptions& o, const char* what) {
    check_bss_generation(o, what);
    if (o.samples_per_batch < 1) {
        throw ValueError(
            concat(what, ": samples_per_batch must be >= 1, got ", o.samples_per_batch));
    }
    // At most FLT_MAX, as the optimizers' settings: β multiplies the boundary term's gradient,
    // which a float network could not hold beyond it (the first batch would diverge).
    if (!(o.weight >= 0 && o.weight <= double(std::numeric_limits<float>::max()))) {
        throw ValueError(concat(what, ": weight must be a finite number in [0, ",
                                std::numeric_limits<float>::max(), "], got ", o.weight));
    }
    if (!(o.decay_fraction > 0 && o.decay_fraction <= 1)) {
        throw ValueError(
            concat(what, ": decay_fraction must be in (0, 1], got ", o.decay_fraction));
    }
    require_temperature(o.temperature, what, "temperature");
}

/// The optimizer distill_with_boundary_samples hands train_loop: before the wrapped optimizer's
/// step it adds, block by block, the gradient of the term on the boundary-supporting samples
/// (computed in the loss step, before the batch's own backward overwrote the gradients). It
/// steps through step(net, epoch), so the per-layer update inside backward is not used.
template <class Optimizer, class Scalar>
struct WithExtraGradient {
    Optimizer* inner;
    const std::vector<Vector<Scalar>>* extra;
    const bool* active;

    static std::string name() { return Optimizer::name(); }
    template <class S>
    void save_state(StateWriter<S>& out) const {
        inner->save_state(out);
    }
    template <class S>
    void load_state(StateReader<S>& in) {
        inner->load_state(in);
    }
    template <class Net>
    void step(Net& net, int epoch) {
        if (*active) {
            std::size_t block = 0;
            net.visit_parameters([&](auto&, auto& g) {
                const Vector<Scalar>& e = (*extra)[block++];
                Eigen::Map<Vector<Scalar>>(g.data(), g.size()) += e;
            });
        }
        if constexpr (requires { inner->step(net, epoch); }) {
            inner->step(net, epoch);
        } else {
            inner->begin_step();
            std::size_t block = 0;
            net.visit_parameters([&](auto& p, auto& g) { inner->update(p, g, block++, epoch); });
        }
    }
};

}  // namespace detail

/// Distillation with boundary-supporting samples (the paper's training): each batch is distilled
/// from the live teacher with `kd` as distill does, plus a term on boundary-supporting samples
/// made fresh for the batch:
///   loss = kd(z_s(x), z_t(x), y) + β(e)·KL(softmax(z_t(x̃)/T) ‖ softmax(z_s(x̃)/T))
/// where x̃ are boundary_samples of the teacher from the batch samples it classifies correctly
/// (at most samples_per_batch of them: those where student and teacher probabilities differ most
/// off the true class, as the paper picks them), toward targets chosen as options.target says,
/// and β(e) = weight·max(0, 1 − (e + 1)/(decay_fraction·epochs)) for epoch e from 0 (the paper's
/// schedule). The term's gradient is the paper's soft cross-entropy's (KL differs from it by the
/// teacher's entropy, a constant). Returns one report per epoch; its loss includes the term.
///
///   distill_with_boundary_samples(student, transfer, teacher, Distillation{.temperature = 4,
///       .alpha = 0.9}, adam, {.epochs = 40}, BssOptions{.step_size = 0.3});
///
/// Requires: `kd` models DistillationLoss (called with the teacher's logits); teacher and
///   student of the same input and output widths and scalar type; observers as for fit (they
///   see a wrapper of `optimizer` with its name and state). Each batch costs, besides the
///   distillation step, up to max_steps teacher forward/backward passes on its bases.
/// Ensures: only the student's parameters (and `optimizer`'s state) change; the teacher's
///   parameter gradients are left as boundary_samples leaves them. With weight = 0 every batch is
///   distill's, bar the order of the update (after backward rather than inside it). β(e) and
///   the targets' draws depend only on the epoch and the batch index, so a run resumed through
///   Checkpointing{.resume_from} ends bit-identical to the uninterrupted run, as fit's does.
/// Throws: as distill; ValueError for a bad BssOptions field (naming it and
///   chrysalis::distill_with_boundary_samples), or for the student object itself as the teacher.
template <class Net, class Teacher, class KD, class Optimizer, class... Observers>
requires DistillationLoss < std::remove_reference_t<KD>,
typename Net::scalar_type > std::vector<EpochReport> distill_with_boundary_samples(
                                Net& student, const Dataset<typename Net::scalar_type>& data,
                                Teacher& teacher, KD&& kd, Optimizer& optimizer,
                                const TrainOptions<typename Net::scalar_type>& options,
                                const BssOptions& bss, Observers&&... observers) {
    static_assert(!takes_probabilities_v<KD>,
                  "chrysalis::distill_with_boundary_samples: this loss reads teacher "
                  "probabilities, not logits (takes_probabilities)");
    static_assert(Teacher::output_size == Net::output_size,
                  "chrysalis::distill_with_boundary_samples: the teacher and the student "
                  "disagree on the number of classes (their output widths differ)");
    static_assert(Teacher::input_size == Net::input_size,
                  "chrysalis::distill_with_boundary_samples: the teacher and the student take "
                  "inputs of different widths");
    static_assert(Teacher::output_size >= 2,
                  "chrysalis::distill_with_boundary_samples: a boundary needs at least two "
                  "classes");
    using S = typename Net::scalar_type;
    constexpr const char* what = "chrysalis::distill_with_boundary_samples";
    detail::check_bss_training(bss, what);
    detail::check_options(options, what);
    if (static_cast<const void*>(&teacher) == static_cast<const void*>(&student)) {
        throw ValueError(detail::concat(what,
                                        ": the teacher is the student itself; distil from a "
                                        "copy (auto teacher = student;)"));
    }
    if constexpr (std::is_const_v<Teacher>) {
        // As distill's: a const teacher runs as a private copy (its forward writes activations).
        static_assert(std::copy_constructible<std::remove_const_t<Teacher>>,
                      "chrysalis::distill_with_boundary_samples: a const teacher is run through a "
                      "copy, and this one cannot be copied: pass it non-const");
        std::remove_const_t<Teacher> copy = teacher;
        return distill_with_boundary_samples(student, data, copy, std::forward<KD>(kd), optimizer,
                                             options, bss, observers...);
    } else {
        detail::require_finite_parameters(teacher, what, "the teacher");

        std::vector<Vector<S>> extra;
        student.visit_parameters(
            [&](auto& p, auto&) { extra.emplace_back(Vector<S>::Zero(p.size())); });
        bool active = false;
        detail::WithExtraGradient<Optimizer, S> wrapped{&optimizer, &extra, &active};
        Distillation soft{.temperature = bss.temperature, .alpha = 1.0};
        Matrix<S> t, bases, bss_teacher, bss_grad;

        return detail::train_loop(
            student, data, wrapped, options,
            [&](auto& batcher, auto& grad, const BatchReport& at) {
                const auto x = batcher.features();
                const auto y = batcher.labels();
                const Eigen::Index b = x.cols();
                // β and the targets' generator follow the loop's epoch and batch, not a count of
                // calls: a run resumed from a checkpoint (Checkpointing::resume_from) draws what
                // the uninterrupted run drew from that batch on.
                const int epoch = at.epoch;
                const double beta =
                    bss.weight *
                    std::max(0.0, 1.0 - double(epoch + 1) / (bss.decay_fraction * options.epochs));
                t = teacher.forward(x, Mode::inference);
                double extra_loss = 0;
                active = false;
                if (beta > 0) {
                    // Bases: samples the teacher classifies correctly; if too many, those where the
                    // student's probabilities differ most from the teacher's off the true class.
                    std::vector<Eigen::Index> candidates;
                    for (Eigen::Index j = 0; j < b; ++j) {
                        Eigen::Index arg = 0;
                        t.col(j).maxCoeff(&arg);
                        if (arg == y[std::size_t(j)]) candidates.push_back(j);
                    }
                    if (Eigen::Index(candidates.size()) > bss.samples_per_batch) {
                        const Matrix<S> pt = softmax(t, 1.0);
                        const Matrix<S> ps = softmax(student.forward(x, Mode::inference), 1.0);
                        std::vector<double> score(std::size_t(b), 0.0);
                        for (const Eigen::Index j : candidates) {
                            const Eigen::Index c = y[std::size_t(j)];
                            score[std::size_t(j)] =
                                double((pt.col(j) - ps.col(j)).squaredNorm()) -
                                double((pt(c, j) - ps(c, j)) * (pt(c, j) - ps(c, j)));
                        }
                        std::stable_sort(candidates.begin(), candidates.end(),
                                         [&](Eigen::Index i, Eigen::Index j) {
                                             return score[std::size_t(i)] > score[std::size_t(j)];
                                         });
                        candidates.resize(std::size_t(bss.samples_per_batch));
                    }
                    if (!candidates.empty()) {
                        const auto m = Eigen::Index(candidates.size());
                        bases.resize(Net::input_size, m);
                        Matrix<S> zb(Net::output_size, m);
                        std::vector<int> base(candidates.size());
                        for (Eigen::Index i = 0; i < m; ++i) {
                            bases.col(i) = x.col(candidates[std::size_t(i)]);
                            zb.col(i) = t.col(candidates[std::size_t(i)]);
                            base[std::size_t(i)] = y[std::size_t(candidates[std::size_t(i)])];
                        }
                        Rng rng(derive_seed(derive_seed(bss.seed, std::uint64_t(at.epoch)),
                                            std::uint64_t(at.batch)));
                        const std::vector<int> target =
                            detail::choose_targets(zb, base, bss.target, rng);
                        const auto gen =
                            detail::generate_boundary_samples(teacher, bases, base, target, bss);
                        bss_teacher = teacher.forward(gen.samples, Mode::inference);
                        const auto zs = student.forward(gen.samples, Mode::training);
                        // β·KL·T²/T²: Distillation's T² undone, so the gradient is the paper's.
                        const S scale = S(beta / (bss.temperature * bss.temperature));
                        extra_loss = double(scale) * double(soft(zs, bss_teacher,
                                                                 std::span<const int>{}, bss_grad));
                        bss_grad *= scale;
                        student.backward(bss_grad);
                        std::size_t block = 0;
                        student.visit_parameters([&](auto&, auto& g) {
                            extra[block++] = Eigen::Map<const Vector<S>>(g.data(), g.size());
                        });
                        active = true;
                    }
                }
                const auto zs = student.forward(x, Mode::training);
                return double(kd(zs, ConstMatrixRef<S>(t), y, grad)) + extra_loss;
            },
            what, observers...);
    }
}

}  // namespace chrysalis::inline CHRYSALIS_ISA_NAMESPACE
