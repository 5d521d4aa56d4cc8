#pragma once
// chrysalis/checkpoint.hpp — checkpoints of a training run: the network, the optimizer's state,
// the training generator and the epoch, in one versioned, checksummed file written atomically,
// so that a run stopped between two epochs resumes to the weights an uninterrupted run gives.
// The format is described in docs/data-and-models.md; fit and distill write and read checkpoints
// through the Checkpointing observer (chrysalis/checkpointing.hpp: .path, .every, .resume_from).

#include "chrysalis/isa.hpp"  // first: see its note on GCC bug 105593

#include <array>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <limits>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include "chrysalis/architecture.hpp"
#include "chrysalis/concepts/optimizer.hpp"
#include "chrysalis/config.hpp"
#include "chrysalis/detail/container.hpp"
#include "chrysalis/detail/file_io.hpp"
#include "chrysalis/errors.hpp"
#include "chrysalis/network.hpp"
#include "chrysalis/optimizer_state.hpp"
#include "chrysalis/random.hpp"
#include "chrysalis/serialize.hpp"
#include "chrysalis/tensor.hpp"

namespace chrysalis::inline CHRYSALIS_ISA_NAMESPACE {

/// The version of the checkpoint format that save_checkpoint writes and load_checkpoint reads.
/// Version 2 (chrysalis 0.2): the optimizer's state is a list of named records that the optimizer
/// writes itself (save_state); version 1 held Sgd/Adam moments only and is not read.
inline constexpr std::uint32_t checkpoint_format_version = 2;

/// Where a training run stands between two epochs, beside the network and the optimizer.
struct Checkpoint {
    int epoch = 0;  ///< epochs completed: a resumed run continues with this epoch (from 0)
    /// The training generator (shuffles, jitter) at the start of that epoch; by default the state
    /// of Rng(Seed{}). Never all zero: xoshiro256** would draw 0 forever from it (save_checkpoint
    /// and load_checkpoint refuse it).
    Rng::State rng = Rng().state();
};

namespace detail {

inline constexpr std::string_view checkpoint_magic{"CHRYSCK\0", 8};

/// Whether a generator state is the all-zero one, which xoshiro256** never leaves.
inline bool all_zero(const Rng::State& s) noexcept {
    return (s.words[0] | s.words[1] | s.words[2] | s.words[3]) == 0;
}

/// The checkpoint format's envelope (detail/container.hpp).
inline constexpr ContainerFormat checkpoint_container{checkpoint_magic, checkpoint_format_version,
                                                      "checkpoint", "checkpoint"};

/// A layer with a random state of its own (Dropout's mask generator).
template <class L>
concept has_rng_state = requires(const L& c, L& m, const Rng::State& s) {
    { c.rng_state() } -> std::same_as<Rng::State>;
    m.set_rng_state(s);
};

/// Whether save_checkpoint can hold Net: a Sequential whose layers all name themselves. (A
/// test that, unlike serialization_needs_a_Sequential, does not stop the build.)
template <class Net>
struct is_checkpointable_net : std::false_type {};
template <class... Layers>
struct is_checkpointable_net<Sequential<Layers...>>
    : std::bool_constant<(has_serialization_name<Layers> && ...)> {};

template <class Net, class O>
concept checkpointable = is_checkpointable_net<Net>::value && Optimizer<O, Net>;

/// The shapes of net's parameter blocks, in visit_parameters order.
template <class Net>
std::vector<std::pair<Eigen::Index, Eigen::Index>> block_shapes(const Net& net) {
    std::vector<std::pair<Eigen::Index, Eigen::Index>> shapes;
    for_each_layer(net, [&](std::size_t, const auto& layer) {
        for_each_block(layer, [&](const auto& b) { shapes.emplace_back(b.rows(), b.cols()); });
    });
    return shapes;
}

/// Kinds of optimizer state records in a checkpoint.
enum class StateRecord : std::uint32_t { integer = 1, blocks = 2 };

/// StateWriter into a checkpoint: record count (u32), then per record its name (text), kind
/// (u32) and value: an i64, or a block count (u32) and per block rows, columns (u64) and values.
template <class S>
class CheckpointStateWriter final : public StateWriter<S> {
  public:
    explicit CheckpointStateWriter(std::vector<std::pair<Eigen::Index, Eigen::Index>> shapes)
        : shapes_(std::move(shapes)) {}

    void integer(std::string_view name, std::int64_t value) override {
        start(name, StateRecord::integer);
        put_le(records_, value);
    }
    void blocks(std::string_view name, const std::vector<Matrix<S>>& blocks) override {
        if (!blocks.empty() && blocks.size() != shapes_.size()) {
            throw ShapeError(concat("chrysalis::save_checkpoint: the optimizer's state '", name,
                                    "' has ", blocks.size(), " blocks but the network has ",
                                    shapes_.size(), " parameter blocks"));
        }
        for (std::size_t k = 0; k < blocks.size(); ++k) {
            if (blocks[k].rows() != shapes_[k].first || blocks[k].cols() != shapes_[k].second) {
                throw ShapeError(concat("chrysalis::save_checkpoint: the optimizer's state '", name,
                                        "' block ", k, " is ", blocks[k].rows(), " x ",
                                        blocks[k].cols(), " but the network's parameter block ", k,
                                        " is ", shapes_[k].first, " x ", shapes_[k].second));
            }
        }
        start(name, StateRecord::blocks);
        put_le(records_, static_cast<std::uint32_t>(blocks.size()));
        for (const Matrix<S>& m : blocks) {
            put_le(records_, static_cast<std::uint64_t>(m.rows()));
            put_le(records_, static_cast<std::uint64_t>(m.cols()));
            put_le_values(records_, m.data(), std::size_t(m.size()));
        }
    }
    /// Appends the record count and the records to `out`.
    void append_to(std::string& out) const {
        put_le(out, count_);
        out += records_;
    }

  private:
    void start(std::string_view name, StateRecord kind) {
        put_text(records_, name);
        put_le(records_, static_cast<std::uint32_t>(kind));
        ++count_;
    }
    std::vector<std::pair<Eigen::Index, Eigen::Index>> shapes_;
    std::string records_;
    std::uint32_t count_ = 0;
};

/// StateReader over the records CheckpointStateWriter wrote; every mismatch is a FormatError
/// naming the file.
template <class S>
class CheckpointStateReader final : public StateReader<S> {
  public:
    CheckpointStateReader(ContainerReader& in, std::string optimizer,
                          std::vector<std::pair<Eigen::Index, Eigen::Index>> shapes)
        : in_(in), optimizer_(std::move(optimizer)), shapes_(std::move(shapes)) {
        count_ = in_.number<std::uint32_t>("the optimizer state record count");
    }

    std::int64_t integer(std::string_view name) override {
        next(name, StateRecord::integer);
        return in_.number<std::int64_t>("an optimizer state integer");
    }
    std::vector<Matrix<S>> blocks(std::string_view name) override {
        next(name, StateRecord::blocks);
        const std::size_t count = in_.number<std::uint32_t>("a state block count");
        if (count != 0 && count != shapes_.size()) {
            throw in_.error("holds ", count, " blocks of optimizer state '", name,
                            "' but the network has ", shapes_.size(), " parameter blocks");
        }
        std::vector<Matrix<S>> blocks;
        blocks.reserve(count);
        for (std::size_t k = 0; k < count; ++k) {
            const auto rows = in_.number<std::uint64_t>("a state block's rows");
            const auto cols = in_.number<std::uint64_t>("a state block's columns");
            if (rows != std::uint64_t(shapes_[k].first) ||
                cols != std::uint64_t(shapes_[k].second)) {
                throw in_.error("holds a ", rows, " x ", cols, " block ", k,
                                " of optimizer state '", name,
                                "' but the network's parameter block ", k, " is ", shapes_[k].first,
                                " x ", shapes_[k].second);
            }
            Matrix<S>& m = blocks.emplace_back(shapes_[k].first, shapes_[k].second);
            const std::size_t n = std::size_t(m.size());
            get_le_values(in_.take(n * sizeof(S), "a state block's values"), n, m.data());
        }
        return blocks;
    }
    /// Throws FormatError unless the optimizer read every record.
    void finish() const {
        if (read_ != count_) {
            throw in_.error("holds ", count_, " optimizer state records but ", optimizer_,
                            "::load_state read ", read_);
        }
    }

  private:
    void next(std::string_view name, StateRecord kind) {
        if (read_ == count_) {
            throw in_.error("holds ", count_, " optimizer state records, and ", optimizer_,
                            " asks for one more, '", name, "'");
        }
        ++read_;
        const std::string_view stored = in_.text("an optimizer state record's name");
        const auto stored_kind = in_.number<std::uint32_t>("an optimizer state record's kind");
        if (stored != name || stored_kind != static_cast<std::uint32_t>(kind)) {
            throw in_.error("holds optimizer state record '", stored, "' (kind ", stored_kind,
                            ") where ", optimizer_, " expects '", name, "' (kind ",
                            static_cast<std::uint32_t>(kind), ")");
        }
    }
    ContainerReader& in_;
    std::string optimizer_;
    std::vector<std::pair<Eigen::Index, Eigen::Index>> shapes_;
    std::uint32_t count_ = 0, read_ = 0;
};

/// The whole checkpoint file: header, the model file as save writes it, epoch and training
/// generator, the optimizer's name and its own state records, the layer generators, CRC-32.
template <class Net, class O>
std::string encode_checkpoint(const Net& net, const O& optimizer, const Checkpoint& info) {
    using S = typename Net::scalar_type;
    std::string out = begin_container(checkpoint_container);
    const std::string model = encode_model(net, "chrysalis::save_checkpoint");
    put_le(out, std::uint64_t{model.size()});
    out += model;
    put_le(out, static_cast<std::uint32_t>(info.epoch));
    for (const std::uint64_t word : info.rng.words) put_le(out, word);
    put_text(out, O::name());
    CheckpointStateWriter<S> records(block_shapes(net));
    optimizer.save_state(records);
    records.append_to(out);
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

/// A checkpoint's contents, verified against a network and an optimizer but not yet applied to
/// them: the optimizer's state is restored into a copy of the optimizer.
template <class S, class O>
struct CheckpointContents {
    ModelContents<S> model;
    Checkpoint info;
    O optimizer;
    std::vector<std::pair<std::size_t, Rng::State>> generators;
};

/// Verifies a checkpoint file against `net` and `optimizer` and reads it into temporaries;
/// `net` and `optimizer` are only inspected. Throws FormatError
/// "chrysalis::load_checkpoint: '<path>' …" for every mismatch.
template <class Net, class O>
CheckpointContents<typename Net::scalar_type, O> decode_checkpoint(std::string_view bytes,
                                                                   const std::string& path,
                                                                   Net& net, const O& optimizer) {
    using S = typename Net::scalar_type;
    constexpr std::string_view what = "chrysalis::load_checkpoint";
    const auto error = [&](const auto&... parts) {
        return FormatError(concat(what, ": '", path, "' ", parts...));
    };
    // A model file is the likeliest wrong file: say so, and how to read it.
    if (bytes.substr(0, checkpoint_magic.size()) != checkpoint_magic.substr(0, bytes.size()) &&
        bytes.substr(0, model_magic.size()) == model_magic)
        throw error("is a model file (written by save), not a checkpoint: load it with load");
    if (bytes.starts_with(int8_model_magic)) {
        throw error(
            "is an int8 model file (written by save(const Int8Network&, path)), not a "
            "checkpoint: load it with load_int8");
    }
    const std::string_view body = open_container(bytes, checkpoint_container, path, what);

    ContainerReader in(body, container_header_size, path, what);
    const auto model_size = in.number<std::uint64_t>("the model's size");
    if (model_size > in.remaining()) in.corrupt("its model section runs past the end of the file");
    const std::string_view model(in.take(std::size_t(model_size), "the model"),
                                 std::size_t(model_size));
    CheckpointContents<S, O> contents{decode_model(model, path, net, what), {}, optimizer, {}};

    const auto epoch = in.number<std::uint32_t>("the epoch");
    if (epoch > std::uint32_t(std::numeric_limits<int>::max()))
        in.corrupt(concat("its epoch count ", epoch, " is out of range"));
    contents.info.epoch = int(epoch);
    for (std::uint64_t& word : contents.info.rng.words)
        word = in.number<std::uint64_t>("the generator state");
    if (all_zero(contents.info.rng))
        in.corrupt("its generator state is all zero, from which every draw is 0");
    const std::string name = O::name();
    if (const std::string_view saved = in.text("the optimizer's name"); saved != name) {
        throw error("holds the state of a ", saved, " optimizer but the optimizer is ", name,
                    "; resume with the optimizer type it was saved with");
    }
    CheckpointStateReader<S> records(in, name, block_shapes(net));
    try {
        contents.optimizer.load_state(records);
    } catch (const FormatError&) {
        throw;  // the reader's, naming the file
    } catch (const std::exception& e) {
        throw error("holds optimizer state that ", name, " rejects: ", e.what());
    }
    records.finish();

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
        Rng::State rng_state{};
        for (std::uint64_t& word : rng_state.words)
            word = in.number<std::uint64_t>("a layer generator's state");
        contents.generators.emplace_back(layer, rng_state);
    }
    if (in.remaining() != 0)
        in.corrupt(concat(in.remaining(), " bytes follow the last layer generator"));
    return contents;
}

/// The error for a network or optimizer that checkpoints cannot hold. Checkpointing's own
/// static_assert (checkpointing.hpp) stops such a build first; this is the run-time guard of
/// the functions it calls, for a caller that reaches them some other way.
[[noreturn]] inline void cannot_checkpoint(std::string_view what, std::string_view option) {
    throw ValueError(concat(what, ": ", option,
                            " is set but checkpoints hold only a Sequential whose layers name "
                            "themselves, trained by an optimizer that models "
                            "chrysalis::Optimizer (name, save_state, load_state)"));
}

}  // namespace detail

/// Saves a training run's state to `path`: `net` (as save writes it: hyperparameters and
/// parameters, bit-exactly), the optimizer's name and its own state for net's scalar type (what
/// its save_state writes: Sgd's step count and momenta, Adam's and AdamW's step count and moment
/// estimates), the random state of every layer that has one (Dropout's mask generator), and
/// `info` (epochs completed, the training generator's state). The optimizer's settings
/// (learning rate, momentum, schedule…) are not saved: they come from the optimizer object a
/// resumed run is given.
/// Format (little-endian, version checkpoint_format_version; see docs/data-and-models.md):
/// magic "CHRYSCK\0", version, file size, the model file's length and bytes, epoch, generator
/// state, optimizer name, the optimizer's state records, layer generators, CRC-32 of all of it.
/// Requires: Net is a Sequential whose layers name themselves (SerializableLayer); O models
///   chrysalis::Optimizer<O, Net> (otherwise the build stops naming the missing member).
/// Ensures: the file is replaced atomically, as by save.
/// Throws: IoError naming `path` if it cannot be written (any previous file is left as it was);
///   ShapeError if the optimizer's save_state writes blocks that do not fit the network;
///   ValueError for info.epoch < 0 or an all-zero info.rng, or naming the layer for a
///   hyperparameter load would refuse (a public LeakyReLU::slope set to NaN, as save) — all
///   before anything is written.
template <class Net, class O>
void save_checkpoint(const Net& net, const O& optimizer, const Checkpoint& info,
                     const std::string& path) {
    static_assert(detail::serialization_needs_a_Sequential<Net>::ok,
                  "chrysalis::save_checkpoint: see the first error above");
    static_assert(detail::optimizer_check<O, Net>::ok,
                  "chrysalis::save_checkpoint: see the first error above");
    // load_checkpoint refuses a negative epoch count: no file is written that cannot be loaded.
    if (info.epoch < 0) {
        throw ValueError(detail::concat(
            "chrysalis::save_checkpoint: info.epoch must be >= 0 (the epochs completed), got ",
            info.epoch));
    }
    if (detail::all_zero(info.rng)) {
        throw ValueError(
            "chrysalis::save_checkpoint: info.rng is the all-zero generator state, from which "
            "every draw is 0; expected the training generator's Rng::state()");
    }
    detail::write_file_atomically(path, detail::encode_checkpoint(net, optimizer, info),
                                  "chrysalis::save_checkpoint");
}

namespace detail {

/// load_checkpoint's work on a checkpoint file's bytes, already read from `path` (named in the
/// errors, with `what`): the same checks, the same guarantee that nothing changes on a throw.
template <class Net, class O>
Checkpoint load_checkpoint_bytes(Net& net, O& optimizer, std::string_view bytes,
                                 const std::string& path, std::string_view what) {
    auto contents = decode_checkpoint(bytes, path, net, std::as_const(optimizer));
    commit_model(net, contents.model, path, what);  // the only step that can throw
    for_each_layer(net, [&](std::size_t i, auto& layer) {
        if constexpr (has_rng_state<std::remove_cvref_t<decltype(layer)>>) {
            for (const auto& [index, state] : contents.generators)
                if (index == i) layer.set_rng_state(state);
        }
    });
    optimizer = std::move(contents.optimizer);
    return contents.info;
}

}  // namespace detail

/// Loads a checkpoint written by save_checkpoint into `net` and `optimizer` and returns the
/// epoch and training generator state to continue from. `optimizer`'s settings are kept; its
/// state (for net's scalar type) is replaced through its load_state.
/// Requires: the file was saved from a network of the same architecture and scalar type and an
/// optimizer of the same type (same name()); O models chrysalis::Optimizer<O, Net>.
/// Throws: IoError naming `path` if it cannot be read; FormatError naming `path` and what was
///   found against what was expected if it is not a checkpoint (a model file is named as one),
///   has another format version, is truncated, fails its checksum, holds an all-zero generator
///   state, another architecture or scalar type ("holds Sequential<…> but the network is
///   Sequential<…>"), the state of another optimizer type ("holds the state of a Sgd optimizer
///   but the optimizer is Adam"), state records the optimizer does not expect, state its
///   load_state rejects (a negative step count, say), state blocks that do not fit the network,
///   a hyperparameter a layer rejects, or more than `max_bytes` bytes (default_max_bytes, 4 GiB;
///   refused before they are read).
/// Ensures: on any exception `net` and `optimizer` are unchanged (the whole file is read and
///   checked first, and the optimizer's state is restored into a copy that replaces it last).
template <class Net, class O>
Checkpoint load_checkpoint(Net& net, O& optimizer, const std::string& path,
                           std::uint64_t max_bytes = default_max_bytes) {
    static_assert(detail::serialization_needs_a_Sequential<Net>::ok,
                  "chrysalis::load_checkpoint: see the first error above");
    static_assert(detail::optimizer_check<O, Net>::ok,
                  "chrysalis::load_checkpoint: see the first error above");
    constexpr std::string_view what = "chrysalis::load_checkpoint";
    return detail::load_checkpoint_bytes(net, optimizer, detail::read_file(path, what, max_bytes),
                                         path, what);
}

namespace detail {

/// Checkpointing's checkpoint after an epoch (Checkpointing::path).
template <class Net, class O>
void write_training_checkpoint(const Net& net, const O& optimizer, const Checkpoint& info,
                               const std::string& path, std::string_view what) {
    if constexpr (checkpointable<Net, O>) {
        write_file_atomically(path, encode_checkpoint(net, optimizer, info), what);
    } else {
        cannot_checkpoint(what, "Checkpointing::path");
    }
}

/// Checkpointing's resumption (Checkpointing::resume_from): loads the checkpoint whose bytes
/// were read from `path` into net and optimizer, sets rng to its state and returns the first
/// epoch to run.
template <class Net, class O>
int resume_training(Net& net, O& optimizer, Rng& rng, std::string_view bytes,
                    const std::string& path, std::string_view what) {
    if constexpr (checkpointable<Net, O>) {
        const Checkpoint info =
            load_checkpoint_bytes(net, optimizer, bytes, path, "chrysalis::load_checkpoint");
        rng.set_state(info.rng);
        return info.epoch;
    } else {
        cannot_checkpoint(what, "Checkpointing::resume_from");
    }
}

}  // namespace detail

}  // namespace chrysalis::inline CHRYSALIS_ISA_NAMESPACE
