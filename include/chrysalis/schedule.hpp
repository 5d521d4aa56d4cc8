#pragma once
// chrysalis/schedule.hpp — learning-rate schedules: the factor of an optimizer's base rate at
// each epoch (Schedule), and the functions that build the usual ones (chrysalis::schedule).

#include "chrysalis/isa.hpp"  // first: see its note on GCC bug 105593

#include <algorithm>
#include <cmath>
#include <functional>
#include <numbers>
#include <string_view>
#include <utility>
#include <vector>

#include "chrysalis/config.hpp"
#include "chrysalis/errors.hpp"

namespace chrysalis::inline CHRYSALIS_ISA_NAMESPACE {

/// A learning-rate schedule: the factor applied to the base rate at each epoch (epochs count
/// from 0). Build one with the functions in chrysalis::schedule.
struct Schedule {
    std::function<double(int epoch)> factor = [](int) { return 1.0; };
    /// The factor at `epoch`; a negative epoch counts as epoch 0. The schedules below give a
    /// finite factor in [0, 1] at every epoch up to INT_MAX. Throws ValueError naming
    /// chrysalis::Schedule for an empty `factor`, or one that gives a NaN, infinite or negative
    /// factor (NaN weights, or gradient ascent reported as training).
    [[nodiscard]] double operator()(int epoch) const {
        if (!factor) {
            throw ValueError(
                "chrysalis::Schedule: factor is empty; expected a function of the epoch");
        }
        const double f = factor(std::max(epoch, 0));
        if (!(f >= 0) || !std::isfinite(f)) {
            throw ValueError(detail::concat("chrysalis::Schedule: the factor at epoch ", epoch,
                                            " is ", f, "; expected a finite number >= 0"));
        }
        return f;
    }
};

namespace detail {
/// A schedule's decay factor gamma: in (0, 1]. Throws ValueError naming `owner` otherwise.
inline void check_decay(std::string_view owner, double gamma) {
    if (!(gamma > 0) || !std::isfinite(gamma))
        throw ValueError(concat(owner, ": gamma must be a finite number > 0, got ", gamma));
    if (gamma > 1)
        throw ValueError(concat(owner,
                                ": gamma must be <= 1 (a decay: a factor gamma^k above 1 "
                                "overflows as k grows), got ",
                                gamma));
}
}  // namespace detail

namespace schedule {

/// Factor 1 at every epoch.
inline Schedule constant() {
    return {};
}

/// Multiplied by gamma every `step_size` epochs: gamma^⌊epoch/step_size⌋. step_size ≥ 1,
/// gamma in (0, 1]; otherwise ValueError naming the parameter.
inline Schedule step(int step_size, double gamma) {
    if (step_size < 1)
        throw ValueError(
            detail::concat("chrysalis::schedule::step: step_size must be >= 1, got ", step_size));
    detail::check_decay("chrysalis::schedule::step", gamma);
    return {[=](int epoch) { return std::pow(gamma, epoch / step_size); }};
}

/// gamma^epoch; gamma in (0, 1] (ValueError otherwise).
inline Schedule exponential(double gamma) {
    detail::check_decay("chrysalis::schedule::exponential", gamma);
    return {[=](int epoch) { return std::pow(gamma, epoch); }};
}

/// Cosine annealing from 1 to min_factor over `epochs` epochs (SGDR without restarts):
/// min + (1 − min)·(1 + cos(π·epoch/epochs))/2, then min_factor. Throws ValueError naming
/// chrysalis::schedule::cosine and the parameter for epochs < 1 or a min_factor outside [0, 1]
/// (NaN included).
inline Schedule cosine(int epochs, double min_factor = 0.0) {
    if (epochs < 1)
        throw ValueError(
            detail::concat("chrysalis::schedule::cosine: epochs must be >= 1, got ", epochs));
    if (!(min_factor >= 0 && min_factor <= 1))
        throw ValueError(detail::concat(
            "chrysalis::schedule::cosine: min_factor must be in [0, 1], got ", min_factor));
    return {[=](int epoch) {
        if (epoch >= epochs) return min_factor;
        return min_factor +
               (1 - min_factor) * 0.5 * (1 + std::cos(std::numbers::pi * epoch / epochs));
    }};
}

/// Linear warm-up: factor (epoch + 1)/(warmup + 1) for the first `warmup` epochs, then `after`
/// (shifted so that its epoch 0 is the first epoch after the warm-up). Any warm-up in
/// [0, INT_MAX] (ValueError for a negative one).
inline Schedule warmup(int warmup_epochs, Schedule after = constant()) {
    if (warmup_epochs < 0)
        throw ValueError(detail::concat(
            "chrysalis::schedule::warmup: warm-up epochs must be >= 0, got ", warmup_epochs));
    return {[=](int epoch) {
        // In double: epoch + 1 and warmup_epochs + 1 overflow int at INT_MAX.
        if (epoch < warmup_epochs) return (double(epoch) + 1) / (double(warmup_epochs) + 1);
        return after(epoch - warmup_epochs);
    }};
}

/// PyTorch's MultiStepLR: multiplied by gamma at each milestone epoch, gamma^k where k is the
/// number of milestones ≤ epoch (a milestone listed twice counts twice, as PyTorch's does; the
/// order they are given in does not matter). The usual recipe of knowledge-distillation
/// benchmarks: `multistep({150, 180, 210}, 0.1)` over 240 epochs. Milestones ≥ 0, gamma in
/// (0, 1]; otherwise ValueError naming chrysalis::schedule::multistep and the value.
inline Schedule multistep(std::vector<int> milestones, double gamma) {
    for (const int m : milestones)
        if (m < 0)
            throw ValueError(detail::concat(
                "chrysalis::schedule::multistep: milestones must be epochs >= 0, got ", m));
    detail::check_decay("chrysalis::schedule::multistep", gamma);
    std::sort(milestones.begin(), milestones.end());
    return {[milestones = std::move(milestones), gamma](int epoch) {
        const auto passed = std::upper_bound(milestones.begin(), milestones.end(), epoch);
        return std::pow(gamma, double(passed - milestones.begin()));
    }};
}

}  // namespace schedule

}  // namespace chrysalis::inline CHRYSALIS_ISA_NAMESPACE
