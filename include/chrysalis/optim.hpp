#pragma once
// chrysalis/optim.hpp — optimizers (their learning-rate schedules: chrysalis/schedule.hpp).
//
// An optimizer updates a network's parameters from the gradients its last backward left:
// `optimizer.step(net)`, or begin_step() and update() per block. Its state (momenta, moment
// estimates) is allocated on the first step, one block per parameter block, and reused after
// that; it names itself and saves and restores that state through StateWriter / StateReader
// (the Optimizer concept, concepts/optimizer.hpp).

#include "chrysalis/isa.hpp"  // first: see its note on GCC bug 105593

#include <Eigen/Core>

#include <algorithm>
#include <cmath>
#include <limits>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "chrysalis/config.hpp"
#include "chrysalis/detail/checked.hpp"
#include "chrysalis/detail/elementwise.hpp"
#include "chrysalis/errors.hpp"
#include "chrysalis/optimizer_state.hpp"
#include "chrysalis/parallel.hpp"
#include "chrysalis/schedule.hpp"
#include "chrysalis/tensor.hpp"

namespace chrysalis::inline CHRYSALIS_ISA_NAMESPACE {

namespace detail {

/// Rescales each row of a weight matrix (a unit's incoming weights) to norm ≤ c; vectors (biases)
/// are left alone. The max-norm constraint of Srebro & Shraibman 2005, used with dropout by
/// Hinton et al. 2012 and by the distillation paper's teacher. The norm is taken in double: in
/// float, a row whose squared norm exceeds FLT_MAX (entries of about 2e19) has a norm of ∞, and
/// was zeroed instead of rescaled.
template <class P>
void apply_max_norm(P& p, double c) {
    if constexpr (P::ColsAtCompileTime != 1) {
        for (Eigen::Index i = 0; i < p.rows(); ++i) {
            const double norm = p.row(i).template cast<double>().norm();
            if (norm > c) p.row(i) *= typename P::Scalar(c / norm);
        }
    }
}

/// Calls f(offset, length) over [0, n) in runs of a few thousand elements, the runs split across
/// threads for large n. An update does all its arithmetic on one run before the next, so the
/// parameter, gradient and state values it reads come from memory once per step. A split update
/// is cut into four blocks per thread of whole runs (parallel_share). Each value's arithmetic is
/// the same however the blocks fall, so the result is too.
template <class F>
void for_each_run(Eigen::Index n, F&& f) {
    constexpr long run = 4096;  // 16 KiB of floats per array: the arrays of a run stay in L1/L2
    parallel_share(long(n), double(n), double(1 << 16), run, [&](long begin, long len) {
        for (long o = begin; o < begin + len; o += run)
            f(Eigen::Index(o), Eigen::Index(std::min(run, begin + len - o)));
    });
}

/// The state matrix of parameter block `block`, made (zero, p's shape) on the block's first
/// update; blocks may arrive in any order.
template <class S, class P>
Matrix<S>& state_block(std::vector<Matrix<S>>& blocks, std::size_t block, const P& p) {
    if (blocks.size() <= block) blocks.resize(block + 1);
    auto& m = blocks[block];
    if (m.size() == 0) m.setZero(p.rows(), p.cols());
    return m;
}

/// The most parameter blocks an optimizer keeps state for: far more than any network has (one
/// per weight matrix or bias), and few enough that the state's headers fit in memory.
inline constexpr std::size_t max_parameter_blocks = std::size_t(1) << 20;

/// update()'s arguments, before anything is read or written (O(1) per block): a gradient of the
/// parameter's shape, and a parameter of the shape its state block was made for (another shape
/// under the same block number would read and write the state out of bounds). ShapeError
/// naming `owner` ("chrysalis::Sgd"), update, the block and both shapes otherwise.
template <class S, class P, class G>
void check_update_shapes(const std::vector<Matrix<S>>& blocks, std::size_t block, const P& p,
                         const G& g, std::string_view owner) {
    // Blocks may arrive in any order, so the bound is absolute: state_block resizes the state
    // to block + 1 (which wraps to 0 for SIZE_MAX, or asks for petabytes near it).
    if (block >= max_parameter_blocks) {
        throw ValueError(concat(owner, "::update: block must be < ", max_parameter_blocks,
                                " (the parameter block's number in visit_parameters order), got ",
                                block));
    }
    // The update runs over p.data() and g.data() as flat arrays: a strided block (a corner of a
    // larger matrix) would be updated outside itself, and p and g of different storage orders
    // would pair the wrong elements. O(1): the strides are known at compile time for a Matrix.
    const bool is_vector = p.rows() == 1 || p.cols() == 1;
    if (p.innerStride() != 1 || g.innerStride() != 1 ||
        (!is_vector && (p.outerStride() != p.innerSize() || g.outerStride() != g.innerSize() ||
                        bool(P::IsRowMajor) != bool(G::IsRowMajor)))) {
        throw ShapeError(concat(
            owner, "::update: block ", block,
            ": p and g must each be stored contiguously, in the same order (a Matrix, a Vector or "
            "a Map of one); got p with strides ",
            p.innerStride(), " and ", p.outerStride(), (P::IsRowMajor ? " (row-major)" : ""),
            ", g with strides ", g.innerStride(), " and ", g.outerStride(),
            (G::IsRowMajor ? " (row-major)" : "")));
    }
    if (g.rows() != p.rows() || g.cols() != p.cols()) {
        throw ShapeError(concat(owner, "::update: the gradient g of block ", block, " is ",
                                g.rows(), "x", g.cols(), " but the parameter p is ", p.rows(), "x",
                                p.cols(), "; expected g of p's shape"));
    }
    if (block < blocks.size() && blocks[block].size() != 0 &&
        (blocks[block].rows() != p.rows() || blocks[block].cols() != p.cols())) {
        throw ShapeError(concat(owner, "::update: the parameter p of block ", block, " is ",
                                p.rows(), "x", p.cols(), " but the optimizer's state for block ",
                                block, " is ", blocks[block].rows(), "x", blocks[block].cols(),
                                "; expected the shape of the block's earlier updates (one block "
                                "number per parameter block, as visit_parameters numbers them)"));
    }
}

/// Sgd's arithmetic on one block's n contiguous elements: parameters p, gradient g, momentum
/// v. Templated on the scalar only, so that weight matrices and bias vectors share one copy.
/// lr·factor, the rate of one update (in double, as the updates take it): throws ValueError
/// naming `owner` when it is beyond S's range (lr ≤ FLT_MAX is checked at construction, but a
/// custom Schedule may give a factor above 1: an infinite rate would make the parameters NaN or
/// infinite without a word).
template <class S>
double scheduled_rate(double lr, double factor, int epoch, std::string_view owner) {
    const double rate = lr * factor;
    if (!(std::abs(rate) <= double(std::numeric_limits<S>::max()))) {
        throw ValueError(concat(owner, ": the learning rate at epoch ", epoch, ", lr ", lr,
                                " times the schedule's factor ", factor, ", is ", rate,
                                "; expected at most ", std::numeric_limits<S>::max(),
                                " (the largest finite value of the parameters' type)"));
    }
    return rate;
}

/// Sgd's arithmetic on n contiguous values of a block: parameters p, gradient g, momentum v.
/// `keep` scales the gradient into the momentum (1 − dampening, or 1 on a block's first step):
/// v ← μ·v + keep·(g + λ·p); a keep of 1 multiplies by nothing, so that the undamped update is
/// the same arithmetic, to the bit, as before dampening existed. Nesterov takes keep = 1.
template <class S>
void sgd_update_values(S* p, const S* g, S* v, Eigen::Index size, S eta, S mu, S wd, bool nesterov,
                       S keep = S(1)) {
    // The settings are tested once per run of values, outside the loop, whose body is compiled
    // for each case, and the loop takes them by value: g++ 12 moves the tests out of the loop
    // itself at -O3 only, and at -O2 it tested them, and reloaded every setting, for every
    // register of values (docs/performance.md, "-O2 as fast as -O3"). Each case's arithmetic
    // is the one it had inside the loop.
    for_each_run(size, [&](Eigen::Index o, Eigen::Index n) {
        S* const pr = p + o;
        const S* const gr = g + o;
        S* const vr = v + o;
        if (mu == S(0)) {
            with_constant(wd == S(0), [&](auto no_decay) {
                elementwise<S>(n, [=]<class T>(T, Eigen::Index i) {
                    prefetch_update<T>(i, gr, pr);
                    const T pi = load_as<T>(pr + i), gi = load_as<T>(gr + i);
                    if constexpr (no_decay)
                        store_as(pr + i, T(pi - T(eta) * gi));
                    else
                        store_as(pr + i, T(pi - T(eta) * (gi + T(wd) * pi)));
                });
            });
            return;
        }
        if (keep != S(1)) {
            // Dampened (plain momentum only: Sgd refuses Nesterov with dampening, as PyTorch).
            with_constant(wd == S(0), [&](auto no_decay) {
                elementwise<S>(n, [=]<class T>(T, Eigen::Index i) {
                    prefetch_update<T>(i, gr, pr, vr);
                    const T pi = load_as<T>(pr + i), gi = load_as<T>(gr + i);
                    T vi;
                    if constexpr (no_decay)
                        vi = T(T(mu) * load_as<T>(vr + i) + T(keep) * gi);
                    else
                        vi = T(T(mu) * load_as<T>(vr + i) + T(keep) * (gi + T(wd) * pi));
                    store_as(vr + i, vi);
                    store_as(pr + i, T(pi - T(eta) * vi));
                });
            });
            return;
        }
        with_constant(wd == S(0), [&](auto no_decay) {
            with_constant(nesterov, [&](auto nest) {
                elementwise<S>(n, [=]<class T>(T, Eigen::Index i) {
                    prefetch_update<T>(i, gr, pr, vr);
                    const T pi = load_as<T>(pr + i), gi = load_as<T>(gr + i);
                    T vi;
                    if constexpr (no_decay)
                        vi = T(T(mu) * load_as<T>(vr + i) + gi);
                    else
                        vi = T(T(mu) * load_as<T>(vr + i) + gi + T(wd) * pi);
                    store_as(vr + i, vi);
                    if constexpr (nest)
                        store_as(pr + i, T(pi - T(eta) * (gi + T(wd) * pi + T(mu) * vi)));
                    else
                        store_as(pr + i, T(pi - T(eta) * vi));
                });
            });
        });
    });
}

/// Per-parameter-block state, created on the first step.
template <class S>
struct Moments {
    std::vector<Matrix<S>> first, second;
};

/// An optimizer's state for float and double networks, and its step count. A public member of
/// each optimizer (so that the optimizers stay aggregates, built with designated initializers),
/// but not a setting.
struct OptimizerState {
    Moments<float> f;
    Moments<double> d;
    long steps = 0;
    template <class S>
    Moments<S>& get() {
        if constexpr (std::is_same_v<S, float>)
            return f;
        else
            return d;
    }
    template <class S>
    const Moments<S>& get() const {
        if constexpr (std::is_same_v<S, float>)
            return f;
        else
            return d;
    }
};

/// The largest step count a checkpoint may hold: 2^53, far beyond any run, exact as the double
/// Adam's bias correction uses, and so far below LONG_MAX that begin_step cannot overflow.
inline constexpr std::int64_t max_step_count = std::int64_t(1) << 53;

/// A step count read back from a checkpoint. Throws ValueError unless it is in
/// [0, max_step_count] (load_checkpoint reports that as a FormatError naming the file).
template <class S>
long checked_step_count(StateReader<S>& in) {
    const std::int64_t steps = in.integer("steps");
    if (steps < 0)
        throw ValueError(concat("the saved step count is ", steps, "; expected a count >= 0"));
    if (steps > max_step_count) {
        throw ValueError(concat("the saved step count is ", steps,
                                "; expected a count <= 2^53 = ", max_step_count));
    }
    return long(steps);
}

}  // namespace detail

/// Stochastic gradient descent with momentum (PyTorch's form, dampening included), Nesterov
/// momentum, L2 weight decay and an optional max-norm constraint:
///   g ← ∇ + λ·θ;   v ← μ·v + (1 − d)·g (v ← g on a block's first step);
///   θ ← θ − η·(Nesterov ? g + μ·v : v);   then ‖row‖ ≤ c.
/// `Sgd{.lr = 0.05, .momentum = 0.9}`; a bad value throws ValueError, at construction or
/// assignment, naming it and giving the value.
struct Sgd {
    /// η: in [FLT_MIN, FLT_MAX] (finite, > 0 and a normal float).
    detail::Checked<"chrysalis::Sgd: learning rate lr", detail::Rule::positive> lr = 0.01;
    /// μ: in [0, 1), and below 1 when rounded to float.
    detail::Checked<"chrysalis::Sgd: momentum", detail::Rule::unit_half_open> momentum = 0.0;
    /// Nesterov momentum (θ ← θ − η·(g + μ·v)) instead of PyTorch's plain form.
    bool nesterov = false;
    /// λ, L2 decay added to the gradient: in [0, FLT_MAX].
    detail::Checked<"chrysalis::Sgd: weight_decay", detail::Rule::non_negative> weight_decay = 0.0;
    /// In [0, FLT_MAX]; 0: no constraint, else every weight row's norm is kept ≤ max_norm.
    detail::Checked<"chrysalis::Sgd: max_norm", detail::Rule::non_negative> max_norm = 0.0;
    /// The factor of η per epoch (see Schedule; checked when update() reads it).
    Schedule schedule = schedule::constant();
    /// d: in [0, 1]. The share of each step's gradient kept out of the momentum,
    /// v ← μ·v + (1 − d)·g, except on a block's first step, where v ← g (PyTorch's SGD, whose
    /// momentum buffer starts as the first gradient). No effect without momentum; with
    /// Nesterov it must be 0 (ValueError from update() and check_epoch(), as PyTorch refuses it).
    /// (Last, after the schedule, so that every initializer written before it existed, positional
    /// ones included, still means what it meant.)
    detail::Checked<"chrysalis::Sgd: dampening", detail::Rule::unit_closed> dampening = 0.0;

    /// Updates every parameter of `net` from its gradients, at the rate for `epoch`:
    /// begin_step(), then update() for every block in visit_parameters order. Throws what
    /// update() throws.
    template <class Net>
    void step(Net& net, int epoch = 0) {
        begin_step();
        std::size_t block = 0;
        net.visit_parameters([&](auto& p, auto& g) { update(p, g, block++, epoch); });
    }

    /// Starts a step (counts it); update() then applies it block by block.
    void begin_step() noexcept { ++state_.steps; }

    /// Throws what update() would throw for the rate at `epoch` with parameters of type S (an
    /// empty schedule, a factor negative or not finite, lr·factor beyond S's range), changing
    /// nothing. fit and distill call it before each epoch's first step, so that a bad schedule
    /// is refused before the step count, the network or its dropout generator moves.
    template <class S>
    void check_epoch(int epoch) const {
        check_nesterov_dampening();
        (void)detail::scheduled_rate<S>(double(lr), schedule(epoch), epoch, "chrysalis::Sgd");
    }

    /// Updates one parameter block from its gradient, at the rate for `epoch`; `block` is the
    /// block's number in visit_parameters order (its momentum's slot), and blocks may come in
    /// any order — fit and distill pass each layer's blocks to it from Sequential::backward as
    /// soon as they are ready. Throws ShapeError naming chrysalis::Sgd::update for a gradient of
    /// another shape than p, a p of another shape than the block's earlier updates, or a p or g
    /// not stored contiguously in one order (a corner of a larger matrix, a row-major p with a
    /// column-major g); ValueError for a block number >= detail::max_parameter_blocks (2^20),
    /// and ValueError naming chrysalis::Schedule when schedule(epoch) is empty or gives a factor
    /// that is negative, NaN or infinite, or naming chrysalis::Sgd when lr·schedule(epoch) is
    /// beyond the parameters' range (a custom factor above 1), or when nesterov is set with a
    /// dampening other than 0. A block's first step is the update that creates its momentum
    /// (one loaded from a checkpoint is not created again).
    template <class P, class G>
    void update(P& p, const G& g, std::size_t block, int epoch = 0) {
        using S = typename P::Scalar;
        check_nesterov_dampening();
        const S eta =
            S(detail::scheduled_rate<S>(double(lr), schedule(epoch), epoch, "chrysalis::Sgd"));
        const S mu = S(double(momentum)), wd = S(double(weight_decay));
        auto& blocks = state_.get<S>().first;
        detail::check_update_shapes(blocks, block, p, g, "chrysalis::Sgd");
        const bool first = block >= blocks.size() || blocks[block].size() == 0;
        auto& vk = detail::state_block(blocks, block, p);
        const S keep = first ? S(1) : S(1 - double(dampening));
        detail::sgd_update_values(p.data(), g.data(), vk.data(), p.size(), eta, mu, wd, nesterov,
                                  keep);
        if (double(max_norm) > 0) detail::apply_max_norm(p, double(max_norm));
    }

    /// "Sgd": the name checkpoints store.
    static std::string name() { return "Sgd"; }
    /// Writes the step count ("steps") and the momenta ("momentum") for scalar type S.
    template <class S>
    void save_state(StateWriter<S>& out) const {
        out.integer("steps", state_.steps);
        out.blocks("momentum", state_.get<S>().first);
    }
    /// Reads what save_state wrote; the settings are kept.
    template <class S>
    void load_state(StateReader<S>& in) {
        const long steps = detail::checked_step_count(in);
        std::vector<Matrix<S>> velocities = in.blocks("momentum");
        state_.steps = steps;
        state_.get<S>().first = std::move(velocities);
    }

    detail::OptimizerState state_{};  ///< momenta; not a setting

  private:
    void check_nesterov_dampening() const {
        if (nesterov && double(dampening) != 0) {
            throw ValueError(detail::concat(
                "chrysalis::Sgd: nesterov requires dampening 0 (the Nesterov step adds μ·v to a "
                "gradient the momentum took whole), got dampening ",
                double(dampening)));
        }
    }
};

namespace detail {

/// Adam's arithmetic on one block's n contiguous elements: the parameters p, gradient g and
/// moments m and v. Templated on the scalar only, so that a network's weight matrices and bias
/// vectors share one compiled copy.
template <class S>
void adam_update_values(S* p, const S* g, S* m_data, S* v_data, Eigen::Index size, long t,
                        double lr, double beta1, double beta2, double eps, double weight_decay,
                        bool decoupled) {
    const S b1 = S(beta1), b2 = S(beta2), wd = S(weight_decay);
    // The bias corrections from the betas as rounded to S, with which the moments decay: a β
    // near 1 (0.99999997 rounds to 1 − 2⁻²⁴ in float) would otherwise make 1 − β^t disagree with
    // the (exact, Sterbenz) 1 − β weights the moments carry.
    const double c1 = 1 - std::pow(double(b1), double(t)), c2 = 1 - std::pow(double(b2), double(t));
    const S step = S(lr / c1), root_c2 = S(std::sqrt(c2)), e = S(eps);
    // As in sgd_update_values: the setting tested outside the loop, taken by value inside.
    for_each_run(size, [&](Eigen::Index o, Eigen::Index n) {
        S* const pr = p + o;
        const S* const gr = g + o;
        S* const mr = m_data + o;
        S* const vr = v_data + o;
        with_constant(decoupled, [&](auto is_decoupled) {
            elementwise<S>(n, [=]<class T>(T, Eigen::Index i) {
                prefetch_update<T>(i, gr, pr, mr, vr);
                T pi = load_as<T>(pr + i);
                const T gi = load_as<T>(gr + i);
                T mi, vi;
                if constexpr (is_decoupled) {
                    pi = pi * T(S(1) - S(lr) * wd);  // AdamW: θ ← θ − η·λ·θ, outside the moments
                    mi = T(b1) * load_as<T>(mr + i) + T(S(1) - b1) * gi;
                    vi = T(b2) * load_as<T>(vr + i) + T(S(1) - b2) * (gi * gi);
                } else {
                    const T d = gi + T(wd) * pi;
                    mi = T(b1) * load_as<T>(mr + i) + T(S(1) - b1) * d;
                    vi = T(b2) * load_as<T>(vr + i) + T(S(1) - b2) * (d * d);
                }
                store_as(mr + i, mi);
                store_as(vr + i, vi);
                // θ ← θ − η·m̂/(√v̂ + ε) with m̂ = m/c1, v̂ = v/c2.
                store_as(pr + i, T(pi - T(step) * mi / (xsimd::sqrt(vi) / T(root_c2) + T(e))));
            });
        });
    });
}

/// Adam's update of one block, with either coupled (L2, added to the gradient) or decoupled
/// weight decay; t is the step count after begin_step.
template <class P, class G>
void adam_update(P& p, const G& g, Moments<typename P::Scalar>& st, std::size_t block, long t,
                 double lr, double beta1, double beta2, double eps, double weight_decay,
                 bool decoupled, double max_norm, std::string_view owner) {
    check_update_shapes(st.first, block, p, g, owner);
    auto& mk = state_block(st.first, block, p);
    auto& vk = state_block(st.second, block, p);
    adam_update_values(p.data(), g.data(), mk.data(), vk.data(), p.size(), t, lr, beta1, beta2, eps,
                       weight_decay, decoupled);
    if (max_norm > 0) apply_max_norm(p, max_norm);
}

}  // namespace detail

namespace detail {
/// What distinguishes Adam from AdamW: name, kind of weight decay and its default.
struct AdamVariant {
    static constexpr FixedString name{"Adam"};
    static constexpr bool decoupled = false;
    static constexpr double default_weight_decay = 0.0;
};
struct AdamWVariant {
    static constexpr FixedString name{"AdamW"};
    static constexpr bool decoupled = true;
    static constexpr double default_weight_decay = 0.01;
};
}  // namespace detail

/// BasicAdam<Variant>: the one implementation of Adam and AdamW
/// (Kingma & Ba 2015, with bias correction):
///   m ← β₁m + (1−β₁)g,  v ← β₂v + (1−β₂)g²,  θ ← θ − η·m̂/(√v̂ + ε),  m̂ = m/(1−β₁ᵗ), v̂ = v/(1−β₂ᵗ).
/// Weight decay λ is L2, added to the gradient g (Adam, as PyTorch's), or decoupled, θ ← θ − η·λ·θ
/// applied directly and not through the moments (AdamW, Loshchilov & Hutter 2019). Use the
/// aliases Adam and AdamW; Variant::name is what checkpoints store and error messages say.
/// Settings, each checked at construction or assignment (ValueError naming it and giving the
/// value): lr and eps in [FLT_MIN, FLT_MAX]; beta1 and beta2 in [0, 1) and below 1 when rounded
/// to float; weight_decay (0 for Adam, 0.01 for AdamW) and max_norm (0: no constraint; else
/// every weight row's norm is kept ≤ max_norm) in [0, FLT_MAX]; schedule as for Sgd.
template <class Variant>
struct BasicAdam {
  private:
    static constexpr auto owner = detail::FixedString("chrysalis::") + Variant::name;

  public:
    detail::Checked<owner + detail::FixedString(": learning rate lr"), detail::Rule::positive> lr =
        1e-3;
    detail::Checked<owner + detail::FixedString(": beta1"), detail::Rule::unit_half_open> beta1 =
        0.9;
    detail::Checked<owner + detail::FixedString(": beta2"), detail::Rule::unit_half_open> beta2 =
        0.999;
    detail::Checked<owner + detail::FixedString(": eps"), detail::Rule::positive> eps = 1e-8;
    detail::Checked<owner + detail::FixedString(": weight_decay"), detail::Rule::non_negative>
        weight_decay = Variant::default_weight_decay;
    detail::Checked<owner + detail::FixedString(": max_norm"), detail::Rule::non_negative>
        max_norm = 0.0;
    Schedule schedule = schedule::constant();

    /// Updates every parameter of `net` (begin_step(), then update() for every block). Throws
    /// what update() throws.
    template <class Net>
    void step(Net& net, int epoch = 0) {
        begin_step();
        std::size_t block = 0;
        net.visit_parameters([&](auto& p, auto& g) { update(p, g, block++, epoch); });
    }
    /// Starts a step: advances the t of the bias correction.
    void begin_step() noexcept { ++state_.steps; }
    /// Updates one parameter block (numbered as visit_parameters numbers it; any order). Throws
    /// ShapeError naming chrysalis::Adam::update (or AdamW::update) for a gradient of another
    /// shape than p, a p of another shape than the block's earlier updates, or a p or g not
    /// stored contiguously in one order; ValueError for a block number >=
    /// detail::max_parameter_blocks (2^20), or naming chrysalis::Schedule when schedule(epoch)
    /// is empty or not a finite factor >= 0, or naming chrysalis::Adam (AdamW) when
    /// lr·schedule(epoch) is beyond the parameters' range; std::logic_error before any
    /// begin_step() (the bias correction of step 0 divides by 0: NaN parameters).
    template <class P, class G>
    void update(P& p, const G& g, std::size_t block, int epoch = 0) {
        if (state_.steps < 1) {
            throw std::logic_error(
                detail::concat(owner.view(),
                               "::update: call begin_step() first (the bias correction of step 0 "
                               "divides by 0)"));
        }
        using S = typename P::Scalar;
        const double rate =
            detail::scheduled_rate<S>(double(lr), schedule(epoch), epoch, owner.view());
        detail::adam_update(p, g, state_.get<S>(), block, state_.steps, rate, beta1, beta2, eps,
                            weight_decay, Variant::decoupled, max_norm, owner.view());
    }
    /// The number of steps begun (begin_step() calls, restored by load_state).
    [[nodiscard]] long steps() const noexcept { return state_.steps; }
    /// As Sgd::check_epoch, naming chrysalis::Adam (AdamW).
    template <class S>
    void check_epoch(int epoch) const {
        (void)detail::scheduled_rate<S>(double(lr), schedule(epoch), epoch, owner.view());
    }

    /// "Adam" or "AdamW": the name checkpoints store.
    static std::string name() { return std::string(Variant::name.view()); }
    /// Writes the step count ("steps") and the moment estimates ("first_moment",
    /// "second_moment") for scalar type S.
    template <class S>
    void save_state(StateWriter<S>& out) const {
        out.integer("steps", state_.steps);
        out.blocks("first_moment", state_.get<S>().first);
        out.blocks("second_moment", state_.get<S>().second);
    }
    /// Reads what save_state wrote; the settings are kept.
    template <class S>
    void load_state(StateReader<S>& in) {
        const long steps = detail::checked_step_count(in);
        detail::Moments<S> moments{in.blocks("first_moment"), in.blocks("second_moment")};
        state_.steps = steps;
        state_.get<S>() = std::move(moments);
    }

    detail::OptimizerState state_{};  ///< moment estimates and step count; not a setting
};

/// Adam with L2 weight decay (default 0), as PyTorch's Adam: `Adam{.lr = 1e-3}`.
using Adam = BasicAdam<detail::AdamVariant>;

/// AdamW: Adam with decoupled weight decay, default λ = 0.01 (PyTorch's).
using AdamW = BasicAdam<detail::AdamWVariant>;

}  // namespace chrysalis::inline CHRYSALIS_ISA_NAMESPACE
