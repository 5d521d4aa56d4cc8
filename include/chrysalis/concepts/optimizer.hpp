#pragma once
// chrysalis/concepts/optimizer.hpp — what an optimizer is: how fit and distill update a
// network with it, and how checkpoints name it and save and restore its state. Documented the
// way dlib documents EXAMPLE_SOLVER: what each member requires and ensures.

#include "chrysalis/isa.hpp"  // first: see its note on GCC bug 105593

#include <concepts>
#include <cstddef>
#include <string>
#include <type_traits>

#include "chrysalis/optimizer_state.hpp"
#include "chrysalis/tensor.hpp"

namespace chrysalis::inline CHRYSALIS_ISA_NAMESPACE {

/// BlockwiseOptimizer<O, Scalar> — an optimizer that updates one parameter block at a time,
/// which lets fit and distill update each layer inside backward, while its weights and
/// gradients are still in cache.
///
/// void begin_step()
///   Requires: called once per training step, before that step's update calls.
///   Ensures: the optimizer counts the step (Adam's bias correction uses the count).
///
/// template <class P, class G> void update(P& p, const G& g, std::size_t block, int epoch)
///   Requires: p is a parameter block and g its gradient (Eigen matrices or vectors of Scalar,
///     of one shape); block is p's number in the network's visit_parameters order; epoch counts
///     from 0 (for learning-rate schedules). The blocks of one step may come in any order, each
///     once.
///   Ensures: p is updated from g and the optimizer's state for `block` (created, zero, on the
///     block's first update). The result depends only on p, g, the state and the step count,
///     so a run restored from a checkpoint continues bit-identically. Allocates nothing after
///     the first step.
///
/// Optional: template <class S> void check_epoch(int epoch) const
///   Ensures: throws what update(…, epoch) would throw for reasons that do not depend on the
///     block (Sgd and Adam: a bad schedule factor at `epoch`), changing nothing. fit and distill
///     call it before each epoch's first step, so that such a refusal comes before begin_step()
///     counts a step that never happens.
template <class O, class Scalar = float>
concept BlockwiseOptimizer = requires(O& optimizer, Matrix<Scalar>& m, Vector<Scalar>& v,
                                      std::size_t block, int epoch) {
    optimizer.begin_step();
    optimizer.update(m, m, block, epoch);
    optimizer.update(v, v, block, epoch);
};

namespace detail {
template <class O>
concept names_itself = requires {
    { O::name() } -> std::convertible_to<std::string>;
};
template <class O, class Scalar>
concept keeps_state = requires(const O& c, O& m, StateWriter<Scalar>& out,
                               StateReader<Scalar>& in) {
    c.save_state(out);
    m.load_state(in);
};
template <class O, class Net>
concept steps = requires(O& optimizer, Net& net, int epoch) {
    optimizer.step(net, epoch);
};
}  // namespace detail

/// Optimizer<O, Net> — updates the parameters of a network of type Net from the gradients its
/// last backward left, and owns its state.
///
/// Either the members of BlockwiseOptimizer, or
/// void step(Net& net, int epoch)
///   Requires: net's last backward has left the gradients of a training step.
///   Ensures: every parameter block of net is updated once (fit calls it after backward).
///
/// static std::string name()
///   Ensures: a name unique to the optimizer type ("Sgd", "Adam", "AdamW"): a checkpoint stores
///     it and load_checkpoint refuses a file that holds another optimizer's state, naming both.
///
/// template <class S> void save_state(StateWriter<S>& out) const   (S = Net's scalar type)
///   Ensures: writes, through `out`, everything a resumed run needs that is not a setting: step
///     counts (out.integer) and per-block state (out.blocks: momenta, moment estimates…), as
///     named records in a fixed order. Settings (learning rate, schedule…) are not saved: they
///     come from the optimizer object a resumed run is given. Changes nothing.
///
/// template <class S> void load_state(StateReader<S>& in)
///   Requires: the records were written by save_state of the same optimizer type.
///   Ensures: reads the same records in the same order and replaces the optimizer's state with
///     them, keeping its settings; afterwards the optimizer steps exactly as the saved one
///     would have. May throw what `in` throws (FormatError naming the file), or ValueError for
///     a value it rejects (load_checkpoint reports that as a FormatError naming the file and the
///     optimizer). load_checkpoint calls it on a copy and keeps the copy only if it returns, so
///     on any exception the caller's optimizer is unchanged.
///
/// O is copy-constructible and move-assignable (load_checkpoint restores into a copy).
template <class O, class Net>
concept Optimizer = std::copy_constructible<O> && std::is_move_assignable_v<O> &&
    detail::names_itself<O> && detail::keeps_state<O, typename Net::scalar_type> &&
    (BlockwiseOptimizer<O, typename Net::scalar_type> || detail::steps<O, Net>);

namespace detail {

/// The check behind fit's, distill's, save_checkpoint's and load_checkpoint's requirement on the
/// optimizer: one
/// static_assert per member of the Optimizer concept, so that the message names the concept and
/// the member that is missing; the class's name and arguments name the optimizer.
template <class O, class Net>
struct optimizer_check {
    using S = typename Net::scalar_type;
    static constexpr bool named = names_itself<O>;
    static constexpr bool saves = requires(const O& c, StateWriter<S>& out) { c.save_state(out); };
    static constexpr bool loads = requires(O & m, StateReader<S>& in) { m.load_state(in); };
    static_assert(named,
                  "chrysalis::Optimizer concept not satisfied: the optimizer has no static "
                  "std::string name() (see chrysalis/concepts/optimizer.hpp)");
    static_assert(saves,
                  "chrysalis::Optimizer concept not satisfied: the optimizer has no "
                  "save_state(StateWriter<Scalar>&) const (see chrysalis/concepts/optimizer.hpp)");
    static_assert(loads,
                  "chrysalis::Optimizer concept not satisfied: the optimizer has no "
                  "load_state(StateReader<Scalar>&) (see chrysalis/concepts/optimizer.hpp)");
    static constexpr bool copies = std::copy_constructible<O> && std::is_move_assignable_v<O>;
    static constexpr bool stepwise = steps<O, Net>;
    static constexpr bool begins = requires(O & m) { m.begin_step(); };
    static constexpr bool updates_matrix = requires(O & m, Matrix<S>& p, std::size_t b, int e) {
        m.update(p, p, b, e);
    };
    static constexpr bool updates_vector = requires(O & m, Vector<S>& p, std::size_t b, int e) {
        m.update(p, p, b, e);
    };
    static_assert(copies,
                  "chrysalis::Optimizer concept not satisfied: the optimizer must be "
                  "copy-constructible and move-assignable (load_checkpoint restores into a copy)");
    static_assert(stepwise || begins,
                  "chrysalis::Optimizer concept not satisfied: the optimizer has neither "
                  "step(net, epoch) nor begin_step() and update(p, g, block, epoch) (see "
                  "chrysalis/concepts/optimizer.hpp)");
    static_assert(stepwise || !begins || updates_matrix,
                  "chrysalis::Optimizer concept not satisfied: update(p, g, block, epoch) cannot "
                  "be called with a Matrix<Scalar> block and gradient (a Dense layer's weights)");
    static_assert(stepwise || !begins || !updates_matrix || updates_vector,
                  "chrysalis::Optimizer concept not satisfied: update(p, g, block, epoch) cannot "
                  "be called with a Vector<Scalar> block and gradient (a Dense layer's bias): "
                  "write it as template <class P, class G> update(P& p, const G& g, …)");
    static_assert(!(named && saves && loads && copies && (stepwise || updates_vector)) ||
                      Optimizer<O, Net>,
                  "chrysalis::Optimizer concept not satisfied: the optimizer needs begin_step() "
                  "and update(p, g, block, epoch), or step(net, epoch), and must be copyable "
                  "(see chrysalis/concepts/optimizer.hpp)");
    static constexpr bool ok = Optimizer<O, Net>;
};

}  // namespace detail

}  // namespace chrysalis::inline CHRYSALIS_ISA_NAMESPACE
