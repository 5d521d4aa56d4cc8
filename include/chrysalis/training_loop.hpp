#pragma once
// chrysalis/training_loop.hpp — the epoch loop behind fit and distill: shuffled mini-batches,
// jitter, the loss's gradient, backward and the optimizer's update, divergence checks, and the
// observers (progress, validation, checkpoints, early stopping, callbacks) at the end of each
// batch and epoch. It reads and writes no files.
//
// Bad options are chrysalis::ValueError, data of the wrong shape chrysalis::ShapeError. NaN and
// infinite inputs are refused (ValueError naming the sample). A training whose loss, activations
// or weights stop being finite throws TrainingDiverged naming the epoch and the batch.

#include "chrysalis/isa.hpp"  // first: see its note on GCC bug 105593

#include <Eigen/Core>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstddef>
#include <functional>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

#include "chrysalis/architecture.hpp"
#include "chrysalis/batcher.hpp"
#include "chrysalis/concepts/layer.hpp"
#include "chrysalis/concepts/observer.hpp"
#include "chrysalis/concepts/optimizer.hpp"
#include "chrysalis/config.hpp"
#include "chrysalis/dataset.hpp"
#include "chrysalis/detail/data_checks.hpp"
#include "chrysalis/errors.hpp"
#include "chrysalis/jitter.hpp"
#include "chrysalis/observers.hpp"
#include "chrysalis/parallel.hpp"
#include "chrysalis/random.hpp"
#include "chrysalis/tensor.hpp"
#include "chrysalis/train_options.hpp"

namespace chrysalis::inline CHRYSALIS_ISA_NAMESPACE {

namespace detail {

/// After a forward: the index of the first layer with parameters whose output holds a NaN or
/// infinite value, or −1. A non-finite weight or bias of a Dense layer makes its whole output
/// row non-finite for every sample (NaN·x and ±∞·0 are NaN, ±∞·x is ±∞ for x ≠ 0), even where a
/// later ReLU or sigmoid would hide it from the loss (max(−∞, 0) = 0). Activation layers cannot
/// make a non-finite value of finite inputs, so only the outputs of layers with parameters are
/// checked: Σ Out·B values, cheap against the forward's Σ In·Out·B multiply-adds.

template <class Net, std::size_t... I>
std::ptrdiff_t first_non_finite_output(const Net& net, std::index_sequence<I...>) {
    std::ptrdiff_t found = -1;
    const auto check = [&](std::size_t i, bool has_parameters) {
        if (found < 0 && has_parameters && !all_finite(net.activation(i + 1)))
            found = std::ptrdiff_t(i);
    };
    (check(I, visits_parameters<std::remove_cvref_t<decltype(net.template layer<I>())>>), ...);
    return found;
}

/// Σ g² over n contiguous values, in double.
template <class S>
[[gnu::noinline]] double sum_of_squares(const S* g, Eigen::Index n) {
    return Eigen::Map<const Vector<S>>(g, n).template cast<double>().squaredNorm();
}
/// g ← c·g over n contiguous values.
template <class S>
[[gnu::noinline]] void scale_in_place(S* g, Eigen::Index n, S c) {
    Eigen::Map<Vector<S>>(g, n) *= c;
}

/// The L2 norm of all of net's parameter gradients together, summed in double. In a double
/// network, finite gradients whose squares overflow (values beyond about 1e154) are measured
/// again scaled by their largest magnitude, so that the norm is infinite only where it exceeds
/// double's range; a float gradient's squares cannot overflow a double sum. NaN where a
/// gradient holds a NaN.
template <class Net>
double gradient_norm(Net& net) {
    // A gradient stored whole (a Matrix, in either order) is taken as a flat array, so that the
    // arithmetic is compiled once per scalar type, not once per parameter block of every network.
    using S = typename Net::scalar_type;
    const auto for_each_gradient = [&](const auto& flat, const auto& other) {
        net.visit_parameters([&](auto&, auto& g) {
            using GT = std::remove_cvref_t<decltype(g)>;
            if constexpr (std::is_base_of_v<Eigen::PlainObjectBase<GT>, GT>)
                flat(g.data(), g.size());
            else
                other(g);
        });
    };
    double squares = 0;
    for_each_gradient([&](const S* g, Eigen::Index n) { squares += sum_of_squares<S>(g, n); },
                      [&](const auto& g) { squares += g.template cast<double>().squaredNorm(); });
    if constexpr (std::is_same_v<S, double>) {
        if (std::isinf(squares)) {
            double largest = 0;
            for_each_gradient(
                [&](const S* g, Eigen::Index n) {
                    if (n > 0)
                        largest = std::max(largest,
                                           Eigen::Map<const Vector<S>>(g, n).cwiseAbs().maxCoeff());
                },
                [&](const auto& g) {
                    if (g.size() > 0) largest = std::max(largest, double(g.cwiseAbs().maxCoeff()));
                });
            if (!std::isfinite(largest)) return largest;
            double scaled = 0;
            for_each_gradient(
                [&](const S* g, Eigen::Index n) {
                    scaled += (Eigen::Map<const Vector<S>>(g, n) / largest).squaredNorm();
                },
                [&](const auto& g) {
                    scaled += (g.template cast<double>() / largest).squaredNorm();
                });
            return largest * std::sqrt(scaled);
        }
    }
    return std::sqrt(squares);
}

/// Scales the gradients of all of net's parameter blocks together to an L2 norm of at most
/// `max_norm` (TrainOptions::clip_grad_norm): by min(1, max_norm/(‖g‖ + 1e-6)), the coefficient
/// of PyTorch's clip_grad_norm_, with the norm from gradient_norm. A gradient holding a NaN is
/// left as it is (its norm is NaN): the update spreads it into the parameters, and the epoch's
/// end refuses them (TrainingDiverged), as without clipping.
template <class Net>
void clip_gradients(Net& net, double max_norm) {
    using S = typename Net::scalar_type;
    const double coef = max_norm / (gradient_norm(net) + 1e-6);
    if (!(coef < 1)) return;
    net.visit_parameters([&](auto&, auto& g) {
        using GT = std::remove_cvref_t<decltype(g)>;
        if constexpr (std::is_base_of_v<Eigen::PlainObjectBase<GT>, GT>)
            scale_in_place<S>(g.data(), g.size(), S(coef));
        else
            g *= S(coef);
    });
}

/// backward, then the optimizer's step. An optimizer that updates one block at a time
/// (begin_step / update, as Sgd, Adam and AdamW do) updates each layer as soon as backward has
/// its gradients, while they are still in cache — the same arithmetic as backward followed by
/// step(); any other optimizer gets step(net, epoch) after backward. With `clip_norm` > 0
/// (TrainOptions::clip_grad_norm) the gradients are clipped together (clip_gradients) after the
/// whole backward, and every block updated after that. (The deferred path shares backward's
/// instantiation with the per-layer one: a flag, not another callback type.)
template <class Net, class Optimizer, class G>
void backward_and_step(Net& net, const G& grad, Optimizer& optimizer, int epoch,
                       double clip_norm = 0) {
    const bool clip = clip_norm > 0;
    if constexpr (requires(Matrix<typename Net::scalar_type> & m) {
                      optimizer.begin_step();
                      optimizer.update(m, m, std::size_t(0), epoch);
                  }) {
        optimizer.begin_step();
        net.backward(grad, false, [&](auto& p, auto& g, std::size_t block) {
            if (!clip) optimizer.update(p, g, block, epoch);
        });
        if (clip) {
            clip_gradients(net, clip_norm);
            std::size_t block = 0;
            net.visit_parameters([&](auto& p, auto& g) { optimizer.update(p, g, block++, epoch); });
        }
    } else {
        net.backward(grad);
        if (clip) clip_gradients(net, clip_norm);
        optimizer.step(net, epoch);
    }
}

/// The optional hooks' names, as data members. A class derived from an observer type and from
/// this one finds such a name twice when the observer has a member of that name, whatever kind
/// (a function, an overload set, a member template, a data member, inherited or not): naming it
/// through the derived class is then ambiguous, and `&probe::hook` is not an expression.
struct observer_hook_names {
    int check_settings, on_train_begin, on_batch_end, on_train_end;
};
template <class T>
struct observer_hook_probe : T, observer_hook_names {};
template <class T>
concept derivable_class = std::is_class_v<T> && !std::is_final_v<T>;

// Whether T has a member named after the hook, of any kind. A type that cannot be derived from
// (a final class, a pointer) is asked as before: &T::hook, which a member template or an
// overload set does not answer.
template <class T>
concept has_check_settings = (derivable_class<T> &&
                              !requires { &observer_hook_probe<T>::check_settings; }) ||
                             (!derivable_class<T> && requires { &T::check_settings; });
template <class T>
concept has_on_train_begin = (derivable_class<T> &&
                              !requires { &observer_hook_probe<T>::on_train_begin; }) ||
                             (!derivable_class<T> && requires { &T::on_train_begin; });
template <class T>
concept has_on_batch_end = (derivable_class<T> &&
                            !requires { &observer_hook_probe<T>::on_batch_end; }) ||
                           (!derivable_class<T> && requires { &T::on_batch_end; });
template <class T>
concept has_on_train_end = (derivable_class<T> &&
                            !requires { &observer_hook_probe<T>::on_train_end; }) ||
                           (!derivable_class<T> && requires { &T::on_train_end; });

/// Stops the build with a sentence when O is not an observer: named in "required from here" /
/// "In instantiation of" lines above the message.
template <class O, class Net, class Optimizer>
constexpr void require_observer() {
    static_assert(ObserverFor<O, Net, Optimizer>,
                  "chrysalis::fit / distill: an observer passed after the options must model "
                  "chrysalis::TrainingObserver (a member on_epoch_end(ctx, report)) or be callable "
                  "with a const chrysalis::EpochReport&; the type is named in the instantiation "
                  "above (see chrysalis/concepts/observer.hpp)");
    // An optional hook is called where the observer can take it: one declared with other
    // parameters (a non-const BatchReport&, on_train_end without the history, the context of
    // another optimizer) would silently never run. Any member of a hook's name is checked:
    // a plain function, an overload set, a member template (a final class's member template
    // and overload sets excepted: see has_check_settings).
    using T = std::remove_cvref_t<O>;
    using Ctx = TrainingContext<Net, Optimizer>;
    static_assert(
        !has_check_settings<T> || requires(T & o, const Ctx& c) { o.check_settings(c); },
        "chrysalis::fit / distill: the observer's check_settings cannot be called as "
        "check_settings(const TrainingContext<Net, Optimizer>&) with this call's "
        "network and optimizer, so it would never run (see "
        "chrysalis/concepts/observer.hpp)");
    static_assert(
        !has_on_train_begin<T> || requires(T & o, Ctx & c) { o.on_train_begin(c); },
        "chrysalis::fit / distill: the observer's on_train_begin cannot be called as "
        "on_train_begin(TrainingContext<Net, Optimizer>&) with this call's network and "
        "optimizer, so it would never run (see chrysalis/concepts/observer.hpp)");
    static_assert(
        !has_on_batch_end<T> ||
            requires(T & o, Ctx & c, const BatchReport& b) { o.on_batch_end(c, b); },
        "chrysalis::fit / distill: the observer's on_batch_end cannot be called as "
        "on_batch_end(TrainingContext<Net, Optimizer>&, const BatchReport&) with this "
        "call's network and optimizer, so it would never run (see "
        "chrysalis/concepts/observer.hpp)");
    static_assert(
        !has_on_train_end<T> ||
            requires(T & o, Ctx & c, const std::vector<EpochReport>& h) { o.on_train_end(c, h); },
        "chrysalis::fit / distill: the observer's on_train_end cannot be called as "
        "on_train_end(TrainingContext<Net, Optimizer>&, const std::vector<EpochReport>&) with "
        "this call's network and optimizer, so it would never run (see "
        "chrysalis/concepts/observer.hpp)");
}

/// What the training loop needs of the network it trains (Sequential has it): its layers by
/// index (to check their hyperparameters and find one whose output is not finite), the
/// activation of each from the last forward, and a backward that hands each parameter block's
/// gradient to the optimizer as it is made.
template <class Net>
concept trainable_network = layered_network<Net> &&
    requires(Net& net, const Matrix<typename Net::scalar_type>& d) {
    net.forward(d, Mode::training);
    net.activation(std::size_t(0));
    net.backward(d, false, [](auto&, auto&, std::size_t) {});
    net.visit_parameters([](auto&, auto&) {});
};

template <class F>
inline constexpr bool is_std_function_v = false;
template <class R, class... A>
inline constexpr bool is_std_function_v<std::function<R(A...)>> = true;

/// ValueError naming `what` and the observer's position for a null function pointer or an
/// empty std::function among the observers: calling it would crash or throw
/// std::bad_function_call after the first epoch had trained.
template <class O>
void require_callable_observer(const O& observer, std::size_t index, const char* what) {
    using T = std::remove_cvref_t<O>;
    if constexpr (std::is_pointer_v<T> || is_std_function_v<T>) {
        if (!observer) {
            throw ValueError(concat(what, ": observer ", index,
                                    " (counting from 0, after the options) is empty (a null "
                                    "function pointer or an empty std::function); expected "
                                    "something to call"));
        }
    }
}

/// The epoch loop shared by fit and distill. `step(batcher, grad)` returns the batch loss after
/// leaving ∂loss/∂logits in grad; the loop does the rest. A step whose arithmetic depends on where
/// the run is (distill_with_boundary_samples: its weight β(e) and its generator) takes a third
/// argument, `const BatchReport&` (epoch and batch index), and is called with it; deriving the
/// position from the step's own count of calls would restart it at 0 in a resumed run. The
/// observers are called in this order: TrainOptions::validation, TrainOptions::progress,
/// `observers` as given, TrainOptions::on_epoch.
template <class Net, class Optimizer, class Step, class... Observers>
std::vector<EpochReport> train_loop(Net& net, const Dataset<typename Net::scalar_type>& data,
                                    Optimizer& optimizer,
                                    const TrainOptions<typename Net::scalar_type>& o, Step&& step,
                                    const char* what, Observers&... observers) {
    static_assert(trainable_network<Net>,
                  "chrysalis::fit / distill: the network trained must be a Sequential, or have "
                  "what the training loop uses of one: depth, layer<I>(), forward(x, mode), "
                  "activation(i), backward(d, input_gradient, on_gradients) and "
                  "visit_parameters(f). Another network type can be a live teacher, and be "
                  "evaluated, attacked and gradient-checked (docs/networks.md)");
    static_assert(optimizer_check<Optimizer, Net>::ok);  // a message per missing member
    (require_observer<Observers, Net, Optimizer>(), ...);
    using S = typename Net::scalar_type;
    using Clock = std::chrono::steady_clock;
    check_options(o, what);
    {
        std::size_t index = 0;
        (require_callable_observer(observers, index++, what), ...);
    }
    // A hyperparameter set through a public member (LeakyReLU::slope = NaN) is refused here,
    // naming the layer, rather than reported epochs later as TrainingDiverged.
    check_hyperparameters(net, what, "its set_hyperparameters refuses, so nothing was trained");
    check_data<Net>(data, what);
    check_jitter_shape(o, data.feature_count(), what);
    check_labels<Net>(data, what);
    if (o.validation != nullptr) {
        check_data<Net>(*o.validation, what, "the validation data (TrainOptions::validation)");
        check_labels<Net>(*o.validation, what, "the validation data (TrainOptions::validation)");
    }
    ThreadsScope threads(o.threads > 0 ? o.threads : parallel_detail::thread_setting);
    Batcher<S> batcher(data, o.batch_size, o.shuffle);
    Rng rng(o.seed);
    TrainingContext<Net, Optimizer> ctx{net, optimizer, rng, what, o.epochs, o.validation};
    Validation<S> validation{o.validation};
    ProgressLine progress(o.progress, o.validation != nullptr);
    const auto each = [&](auto&& f) {
        f(validation);
        f(progress);
        (f(observers), ...);
    };
    // Every observer's settings first, then the hooks that act (a resume loads weights): a call
    // refused for a setting has changed nothing.
    each([&](auto& obs) { notify_check_settings(obs, std::as_const(ctx)); });
    each([&](auto& obs) { notify_train_begin(obs, ctx); });
    if (ctx.first_epoch < 0) {
        throw ValueError(concat(what, ": an observer's on_train_begin set first_epoch to ",
                                ctx.first_epoch, "; expected an epoch >= 0 (epochs count from 0)"));
    }
    Matrix<S> grad(Net::output_size, batch_capacity(o, data.size()));
    std::vector<EpochReport> history;
    for (int epoch = ctx.first_epoch; epoch < o.epochs && !ctx.stop; ++epoch) {
        // An optimizer that can refuse an epoch (a bad schedule) does so before its first step.
        if constexpr (requires { optimizer.template check_epoch<S>(epoch); })
            optimizer.template check_epoch<S>(epoch);
        const auto epoch_start = Clock::now();
        batcher.start_epoch(rng);
        BatchReport batch{epoch, 0, 0, data.size(), 0.0, 0};
        while (batcher.next()) {
            if (o.jitter > 0)
                jitter(batcher.mutable_features(), o.image_width, o.image_height, o.jitter, rng);
            const auto b = static_cast<Eigen::Index>(batcher.labels().size());
            // A MatrixRef, as the Loss concept names it: a loss written for MatrixRef<S> with S
            // deduced takes it, where it would not take a Block.
            MatrixRef<S> g(grad.leftCols(b));
            const double loss = [&] {
                if constexpr (std::is_invocable_v<Step&, Batcher<S>&, decltype(g)&,
                                                  const BatchReport&>)
                    return double(step(batcher, g, std::as_const(batch)));
                else
                    return double(step(batcher, g));
            }();
            if (!std::isfinite(loss)) throw TrainingDiverged(epoch, batch.batch, loss, what);
            if (const auto layer =
                    first_non_finite_output(net, std::make_index_sequence<Net::depth>{});
                layer >= 0) {
                throw TrainingDiverged(epoch, batch.batch,
                                       concat("the output of layer ", layer,
                                              " holds a NaN or infinite value though the loss is "
                                              "finite (a weight or bias is non-finite, or so "
                                              "large that the products overflow)"),
                                       what);
            }
            batch.correct += count_correct(net.activation(Net::depth), batcher.labels());
            backward_and_step(net, g, optimizer, epoch, o.clip_grad_norm);
            batch.loss_sum += loss * double(b);
            batch.seen += b;
            // Both weights in [0, 1]: neither term exceeds its loss in magnitude.
            const double share = double(b) / double(batch.seen);
            batch.loss_running_mean = batch.loss_running_mean * (1 - share) + loss * share;
            each([&](auto& obs) { notify_batch_end(obs, ctx, std::as_const(batch)); });
            ++batch.batch;
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
            throw TrainingDiverged(epoch, batch.batch - 1,
                                   concat("parameter block ", bad_block,
                                          " (in visit_parameters order) holds a NaN or infinite "
                                          "value after the update"),
                                   what);
        }
        EpochReport r;
        r.epoch = epoch;
        r.loss = batch.mean_loss();
        r.accuracy = double(batch.correct) / double(batch.seen);
        r.seconds = std::chrono::duration<double>(Clock::now() - epoch_start).count();
        r.samples_per_second = double(batch.seen) / r.seconds;
        each([&](auto& obs) { notify_epoch_end(obs, ctx, r); });
        history.push_back(r);
        if (o.on_epoch) o.on_epoch(r);
    }
    each([&](auto& obs) { notify_train_end(obs, ctx, std::as_const(history)); });
    return history;
}

}  // namespace detail

}  // namespace chrysalis::inline CHRYSALIS_ISA_NAMESPACE
