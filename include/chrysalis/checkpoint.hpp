#pragma once
// chrysalis/checkpoint.hpp — checkpoints of a training run: the network, the optimizer's state,
// the training generator and the epoch, in one versioned, checksummed file written atomically,
// so that a run stopped between two epochs resumes to the weights an uninterrupted run gives.
// The format is described in docs/data-and-models.md; fit and distill write and read checkpoints
// through TrainOptions::checkpoint_path and TrainOptions::resume_from.

#include "chrysalis/isa.hpp"  // first: see its note on GCC bug 105593

#include <array>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include "chrysalis/architecture.hpp"
#include "chrysalis/config.hpp"
#include "chrysalis/detail/container.hpp"
#include "chrysalis/detail/file_io.hpp"
#include "chrysalis/errors.hpp"
#include "chrysalis/network.hpp"
#include "chrysalis/optim.hpp"
#include "chrysalis/random.hpp"
#include "chrysalis/serialize.hpp"
#include "chrysalis/tensor.hpp"

namespace chrysalis::inline CHRYSALIS_ISA_NAMESPACE {

/// The version of the checkpoint format that save_checkpoint writes and load_checkpoint reads.
inline constexpr std::uint32_t checkpoint_format_version = 1;

/// Where a training run stands between two epochs, beside the network and the optimizer.
struct Checkpoint {
    int epoch = 0;     ///< epochs completed: a resumed run continues with this epoch (from 0)
    Rng::State rng{};  ///< the training generator (shuffles, jitter) at the start of that epoch
};

namespace detail {

inline constexpr std::string_view checkpoint_magic{"CHRYSCK\0", 8};

/// The checkpoint format's envelope (detail/container.hpp).
inline constexpr ContainerFormat checkpoint_container{checkpoint_magic, checkpoint_format_version,
                                                      "checkpoint", "checkpoint"};

/// The name a checkpoint records for an optimizer type; "" for types it cannot hold.
template <class Optimizer>
constexpr std::string_view optimizer_name() {
    if constexpr (std::is_same_v<Optimizer, Sgd>) return "Sgd";
    if constexpr (std::is_same_v<Optimizer, Adam>) return "Adam";
    if constexpr (std::is_same_v<Optimizer, AdamW>) return "AdamW";
    return "";
}

/// A layer with a random state of its own (Dropout's mask generator).
template <class L>
concept has_rng_state = requires(const L& c, L& m, const Rng::State& s) {
    { c.rng_state() } -> std::same_as<Rng::State>;
    m.set_rng_state(s);
};

/// Whether save_checkpoint can hold Net: a Sequential whose layers all have layer_traits. (A
/// test that, unlike serialization_needs_a_Sequential, does not stop the build.)
template <class Net>
struct is_checkpointable_net : std::false_type {};
template <class... Layers>
struct is_checkpointable_net<Sequential<Layers...>>
    : std::bool_constant<(has_serialization_name<Layers> && ...)> {};

template <class Net, class Optimizer>
concept checkpointable = is_checkpointable_net<Net>::value && !optimizer_name<Optimizer>().empty();

template <class S>
const Moments<S>& moments_of(const OptimizerState& state) {
    if constexpr (std::is_same_v<S, float>)
        return state.f;
    else
        return state.d;
}

template <class S>
void put_matrices(std::string& out, const std::vector<Matrix<S>>& matrices) {
    put_le(out, static_cast<std::uint32_t>(matrices.size()));
    for (const Matrix<S>& m : matrices) {
        put_le(out, static_cast<std::uint64_t>(m.rows()));
        put_le(out, static_cast<std::uint64_t>(m.cols()));
        put_le_values(out, m.data(), std::size_t(m.size()));
    }
}

/// The whole checkpoint file: header, the model file as save writes it, the training state,
/// CRC-32 of all of it.
template <class Net, class Optimizer>
std::string encode_checkpoint(const Net& net, const Optimizer& optimizer, const Checkpoint& info) {
    using S = typename Net::Scalar;
    std::string out = begin_container(checkpoint_container);
    const std::string model = encode_model(net);
    put_le(out, static_cast<std::uint64_t>(model.size()));
    out += model;
    put_le(out, static_cast<std::uint32_t>(info.epoch));
    for (const std::uint64_t word : info.rng.words) put_le(out, word);
    put_text(out, optimizer_name<Optimizer>());
    put_le(out, static_cast<std::int64_t>(optimizer.state_.steps));
    const Moments<S>& moments = moments_of<S>(optimizer.state_);
    put_matrices(out, moments.first);
    put_matrices(out, moments.second);
    std::vector<std::pair<std::uint32_t, Rng::State>> generators;
    for_each_layer(net, [&](std::size_t i, const auto& layer) {
        if constexpr (has_rng_state<std::remove_cvref_t<decltype(layer)>>)
            generators.emplace_back(static_cast<std::uint32_t>(i), layer.rng_state());
    });
    put_le(out, static_cast<std::uint32_t>(generators.size()));
    for (const auto& [index, state] : generators) {
        put_le(out, index);
        for (const std::uint64_t word : state.words) put_le(out, word);
    }
    finish_container(out);
    return out;
}

/// A checkpoint's contents, verified against a network and an optimizer type but not yet
/// applied to them.
template <class S>
struct CheckpointContents {
    ModelContents<S> model;
    Checkpoint info;
    long steps = 0;
    Moments<S> moments;
    std::vector<std::pair<std::size_t, Rng::State>> generators;
};

/// Verifies a checkpoint file against `net` and Optimizer and reads it into temporaries; `net`
/// is only inspected. Throws FormatError "chrysalis::load_checkpoint: '<path>' …" for every
/// mismatch.
template <class Net, class Optimizer>
CheckpointContents<typename Net::Scalar> decode_checkpoint(std::string_view bytes,
                                                           const std::string& path, Net& net) {
    using S = typename Net::Scalar;
    constexpr std::string_view what = "chrysalis::load_checkpoint";
    const auto error = [&](const auto&... parts) {
        return FormatError(concat(what, ": '", path, "' ", parts...));
    };
    // A model file is the likeliest wrong file: say so, and how to read it.
    if (bytes.substr(0, checkpoint_magic.size()) != checkpoint_magic.substr(0, bytes.size()) &&
        bytes.substr(0, model_magic.size()) == model_magic)
        throw error("is a model file (written by save), not a checkpoint: load it with load");
    const std::string_view body = open_container(bytes, checkpoint_container, path, what);

    ContainerReader in(body, container_header_size, path, what);
    CheckpointContents<S> contents;
    const auto model_size = in.number<std::uint64_t>("the model's size");
    if (model_size > in.remaining()) in.corrupt("its model section runs past the end of the file");
    const std::string_view model(in.take(std::size_t(model_size), "the model"),
                                 std::size_t(model_size));
    contents.model = decode_model(model, path, net, what);  // architecture and scalar checks

    const auto epoch = in.number<std::uint32_t>("the epoch");
    if (epoch > std::uint32_t(std::numeric_limits<int>::max()))
        in.corrupt(concat("its epoch count ", epoch, " is out of range"));
    contents.info.epoch = int(epoch);
    for (std::uint64_t& word : contents.info.rng.words)
        word = in.number<std::uint64_t>("the generator state");
    const std::string_view saved = in.text("the optimizer's name");
    if (saved != optimizer_name<Optimizer>()) {
        throw error("holds the state of a ", saved, " optimizer but the optimizer is ",
                    optimizer_name<Optimizer>(),
                    "; resume with the optimizer type it was saved "
                    "with");
    }
    const auto steps = in.number<std::int64_t>("the step count");
    if (steps < 0) in.corrupt(concat("its step count is ", steps));
    contents.steps = long(steps);

    std::vector<std::pair<Eigen::Index, Eigen::Index>> shapes;
    net.visit_parameters([&](auto& p, auto&) { shapes.emplace_back(p.rows(), p.cols()); });
    const auto read_matrices = [&](std::vector<Matrix<S>>& matrices, std::string_view kind) {
        const std::size_t count = in.number<std::uint32_t>("a state block count");
        if (count != 0 && count != shapes.size()) {
            throw error("holds ", count, " optimizer ", kind, " blocks but the network has ",
                        shapes.size(), " parameter blocks");
        }
        for (std::size_t k = 0; k < count; ++k) {
            const auto rows = in.number<std::uint64_t>("a state block's rows");
            const auto cols = in.number<std::uint64_t>("a state block's columns");
            if (rows != std::uint64_t(shapes[k].first) || cols != std::uint64_t(shapes[k].second)) {
                throw error("holds a ", rows, " x ", cols, " optimizer ", kind, " block ", k,
                            " but the network's parameter block ", k, " is ", shapes[k].first,
                            " x ", shapes[k].second);
            }
            Matrix<S>& m = matrices.emplace_back(shapes[k].first, shapes[k].second);
            const std::size_t n = std::size_t(m.size());
            get_le_values(in.take(n * sizeof(S), "a state block's values"), n, m.data());
        }
    };
    read_matrices(contents.moments.first, "first-moment (momentum)");
    read_matrices(contents.moments.second, "second-moment");

    std::vector<std::size_t> expected;
    for_each_layer(net, [&](std::size_t i, auto& layer) {
        if constexpr (has_rng_state<std::remove_cvref_t<decltype(layer)>>) expected.push_back(i);
    });
    const std::size_t count = in.number<std::uint32_t>("the layer generator count");
    if (count != expected.size()) {
        in.corrupt(concat("it holds ", count, " layer generators but the network has ",
                          expected.size(), " layers with one"));
    }
    for (const std::size_t layer : expected) {
        if (in.number<std::uint32_t>("a generator's layer") != layer)
            in.corrupt(concat("its generators do not belong to the network's layers"));
        Rng::State state{};
        for (std::uint64_t& word : state.words)
            word = in.number<std::uint64_t>("a layer generator's state");
        contents.generators.emplace_back(layer, state);
    }
    if (in.remaining() != 0)
        in.corrupt(concat(in.remaining(), " bytes follow the last layer generator"));
    return contents;
}

/// The path-named error for a network or optimizer that checkpoints cannot hold, thrown at run
/// time so that fit and distill compile for every network and optimizer.
[[noreturn]] inline void cannot_checkpoint(std::string_view what, std::string_view option) {
    throw ValueError(concat(what, ": TrainOptions::", option,
                            " is set but checkpoints hold only a Sequential whose layers have "
                            "layer_traits, trained by Sgd, Adam or AdamW"));
}

}  // namespace detail

/// Saves a training run's state to `path`: `net` (as save writes it: hyperparameters and
/// parameters, bit-exactly), `optimizer`'s state for net's scalar type (Sgd's momenta, Adam's and
/// AdamW's moment estimates, the step count), the random state of every layer that has one
/// (Dropout's mask generator), and `info` (epochs completed, the training generator's state).
/// The optimizer's settings (learning rate, momentum, schedule…) are not saved: they come from
/// the optimizer object a resumed run is given.
/// Format (little-endian, version checkpoint_format_version; see docs/data-and-models.md):
/// magic "CHRYSCK\0", version, file size, the model file's length and bytes, epoch, generator
/// state, optimizer name, step count, moment blocks, layer generators, CRC-32 of all of it.
/// Requires: Net is a Sequential whose layers have layer_traits; Optimizer is Sgd, Adam or AdamW.
/// Ensures: the file is replaced atomically, as by save.
/// Throws: IoError naming `path` if it cannot be written (any previous file is left as it was).
template <class Net, class Optimizer>
void save_checkpoint(const Net& net, const Optimizer& optimizer, const Checkpoint& info,
                     const std::string& path) {
    static_assert(detail::serialization_needs_a_Sequential<Net>::ok,
                  "chrysalis::save_checkpoint: see the first error above");
    static_assert(!detail::optimizer_name<Optimizer>().empty(),
                  "chrysalis::save_checkpoint: checkpoints hold the state of Sgd, Adam or AdamW");
    detail::write_file_atomically(path, detail::encode_checkpoint(net, optimizer, info),
                                  "chrysalis::save_checkpoint");
}

/// Loads a checkpoint written by save_checkpoint into `net` and `optimizer` and returns the
/// epoch and training generator state to continue from. `optimizer`'s settings are kept; its
/// state for net's scalar type and its step count are replaced.
/// Requires: the file was saved from a network of the same architecture and scalar type and an
/// optimizer of the same type.
/// Throws: IoError naming `path` if it cannot be read; FormatError naming `path` and what was
///   found against what was expected if it is not a checkpoint (a model file is named as one),
///   has another format version, is truncated, fails its checksum, holds another architecture
///   or scalar type ("holds Sequential<…> but the network is Sequential<…>"), the state of
///   another optimizer type ("holds the state of a Sgd optimizer but the optimizer is Adam"), or
///   state blocks that do not fit the network.
/// Ensures: on any exception `net` and `optimizer` are unchanged (the whole file is read and
///   checked first).
template <class Net, class Optimizer>
Checkpoint load_checkpoint(Net& net, Optimizer& optimizer, const std::string& path) {
    static_assert(detail::serialization_needs_a_Sequential<Net>::ok,
                  "chrysalis::load_checkpoint: see the first error above");
    static_assert(!detail::optimizer_name<Optimizer>().empty(),
                  "chrysalis::load_checkpoint: checkpoints hold the state of Sgd, Adam or AdamW");
    using S = typename Net::Scalar;
    constexpr std::string_view what = "chrysalis::load_checkpoint";
    const std::string bytes = detail::read_file(path, what);
    auto contents = detail::decode_checkpoint<Net, Optimizer>(bytes, path, net);
    detail::commit_model(net, contents.model, path, what);  // the only step that can throw
    detail::for_each_layer(net, [&](std::size_t i, auto& layer) {
        if constexpr (detail::has_rng_state<std::remove_cvref_t<decltype(layer)>>) {
            for (const auto& [index, state] : contents.generators)
                if (index == i) layer.set_rng_state(state);
        }
    });
    optimizer.state_.template get<S>() = std::move(contents.moments);
    optimizer.state_.steps = contents.steps;
    return contents.info;
}

namespace detail {

/// train_loop's checkpoint after an epoch (TrainOptions::checkpoint_path).
template <class Net, class Optimizer>
void write_training_checkpoint(const Net& net, const Optimizer& optimizer, const Checkpoint& info,
                               const std::string& path, std::string_view what) {
    if constexpr (checkpointable<Net, Optimizer>) {
        write_file_atomically(path, encode_checkpoint(net, optimizer, info), what);
    } else {
        cannot_checkpoint(what, "checkpoint_path");
    }
}

/// train_loop's resumption (TrainOptions::resume_from): loads the checkpoint into net and
/// optimizer, sets rng to its state and returns the first epoch to run.
template <class Net, class Optimizer>
int resume_training(Net& net, Optimizer& optimizer, Rng& rng, const std::string& path,
                    std::string_view what) {
    if constexpr (checkpointable<Net, Optimizer>) {
        const Checkpoint info = load_checkpoint(net, optimizer, path);
        rng.set_state(info.rng);
        return info.epoch;
    } else {
        cannot_checkpoint(what, "resume_from");
    }
}

}  // namespace detail

}  // namespace chrysalis::inline CHRYSALIS_ISA_NAMESPACE
