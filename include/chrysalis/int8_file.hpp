#pragma once
// chrysalis/int8_file.hpp — the int8 model file: save(const Int8Network&, path) and
// load_int8(path), the versioned, checksummed format of an Int8Network (int8_network.hpp) inside
// the envelope of the fp32 model file (serialize.hpp). Described in docs/quantization.md. A program
// that saves and loads only fp32 networks includes serialize.hpp, which does not parse the int8
// kernels.

#include "chrysalis/isa.hpp"  // first: see its note on GCC bug 105593

#include <concepts>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <variant>
#include <vector>

#include "chrysalis/architecture.hpp"
#include "chrysalis/config.hpp"
#include "chrysalis/detail/container.hpp"
#include "chrysalis/detail/file_io.hpp"
#include "chrysalis/errors.hpp"
#include "chrysalis/int8_network.hpp"
#include "chrysalis/serialize.hpp"

namespace chrysalis::inline CHRYSALIS_ISA_NAMESPACE {

/// The version of the int8 model format that save(const Int8Network&, path) writes and load_int8
/// reads. Version 2 quantizes activations to ±63 (int8_activation_max), so a static input scale
/// means max|x| / 63; version 1's scales meant max|x| / 127, and its files are refused.
inline constexpr std::uint32_t int8_model_format_version = 2;

namespace detail {

/// The int8 model format's envelope (detail/container.hpp).
inline constexpr ContainerFormat int8_model_container{int8_model_magic, int8_model_format_version,
                                                      "int8 model file", "int8 model"};

// The int8 model format (version int8_model_format_version), inside the envelope of
// detail/container.hpp with the magic "CHRYSQ8\0"; little-endian:
//
//   u32  the number of Dense layers L (>= 1)
//   u8   the activation scales: 0 dynamic, 1 static (an input scale on every layer)
//   L times:
//     u64  input_size (1 to int8_max_depth; the previous layer's output_size), u64 output_size
//     f32  the input scale s_x (static only)
//     u32  the number of activations after the Dense layer, then each: u8 its code (its index
//          in Int8Activation: 0 Identity, 1 ReLU, 2 LeakyReLU, 3 Tanh, 4 Sigmoid, 5 GELU) and
//          its hyperparameters as f64 (LeakyReLU: the slope; the others: none)
//     f32 × output_size  the weight scales s_w; f32 × output_size  the biases
//     i8 × output_size × input_size  the weights, row o = output o, without the kernels' padding
//
// The format is canonical: a file that loads is exactly what save writes for the loaded network.

/// The activation codes are the alternatives' indices in Int8Activation, and part of the file
/// format: a new activation goes at the end of the variant, never between.
static_assert(
    std::is_same_v<Int8Activation, std::variant<Identity, ReLU, LeakyReLU, Tanh, Sigmoid, GELU>>,
    "chrysalis: Int8Activation's order is the int8 model format's activation codes");

/// The activation of code `code` (< the variant's size), default-constructed.
template <std::size_t... I>
Int8Activation int8_activation_of(std::size_t code, std::index_sequence<I...>) {
    Int8Activation a;
    ((code == I ? (void)a.emplace<I>() : void()), ...);
    return a;
}

/// The whole int8 model file of `net`. Throws ValueError naming `what`, the layer and the
/// activation if an activation holds a hyperparameter load would refuse (a public
/// LeakyReLU::slope set to NaN), so that no file is written that cannot be loaded.
template <class = void>  // compiled only where used: see "Lazy on purpose", docs/performance.md
inline std::string encode_int8_model(const Int8Network& net,
                                     std::string_view what = "chrysalis::save") {
    std::string out = begin_container(int8_model_container);
    out.reserve(net.parameter_bytes() + 64 * net.dense_count() + 64);
    put_le(out, static_cast<std::uint32_t>(net.dense_count()));
    put_le(out, static_cast<std::uint8_t>(net.calibrated() ? 1 : 0));
    for (std::size_t i = 0; i < net.dense_count(); ++i) {
        const Int8Dense& l = net.layer(i);
        put_le(out, static_cast<std::uint64_t>(l.input_size));
        put_le(out, static_cast<std::uint64_t>(l.output_size));
        if (l.input_scale) put_le(out, *l.input_scale);
        put_le(out, static_cast<std::uint32_t>(l.activations.size()));
        for (std::size_t k = 0; k < l.activations.size(); ++k) {
            const Int8Activation& a = l.activations[k];
            put_le(out, static_cast<std::uint8_t>(a.index()));
            std::visit(
                [&](const auto& act) {
                    using A = std::remove_cvref_t<decltype(act)>;
                    for (const double v : checked_hyperparameters(
                             act,
                             [&] {
                                 return concat(what, ": layer ", i, "'s activation ", k, " (",
                                               layer_name<A>(), ")");
                             },
                             unsavable))
                        put_le(out, v);
                },
                a);
        }
        const std::size_t rows = std::size_t(l.output_size), cols = std::size_t(l.input_size);
        put_le_values(out, l.weight_scales.data(), rows);
        put_le_values(out, l.bias.data(), rows);
        const std::size_t ld = std::size_t(int8_padded(l.input_size));
        for (std::size_t o = 0; o < rows; ++o)
            out.append(reinterpret_cast<const char*>(l.weights.data() + o * ld), cols);
    }
    finish_container(out);
    return out;
}

/// Verifies an int8 model file and builds its network. Every size is checked against the bytes
/// that remain before anything is allocated for it. Throws FormatError "<what>: '<path>' …" for
/// every problem: the envelope's (open_container), a layer count of 0, a scale mode other than 0
/// or 1, sizes out of range or that do not chain, an unknown activation code, a hyperparameter
/// the activation rejects, bytes after the last layer, and values Int8Network refuses (a scale
/// not finite and > 0, a bias not finite, a weight of −128).
template <class = void>  // compiled only where used: see "Lazy on purpose", docs/performance.md
inline Int8Network decode_int8_model(std::string_view bytes, const std::string& path,
                                     std::string_view what = "chrysalis::load_int8") {
    const std::string_view body = open_container(bytes, int8_model_container, path, what);
    ContainerReader in(body, container_header_size, path, what);
    const auto count = in.number<std::uint32_t>("the layer count");
    if (count == 0) in.corrupt("it holds 0 layers; an int8 network has at least one");
    const auto mode = in.number<std::uint8_t>("the scale mode");
    if (mode > 1) {
        in.corrupt(concat("its scale mode is ", int(mode), "; expected 0 (dynamic) or 1 (static)"));
    }
    constexpr std::size_t codes = std::variant_size_v<Int8Activation>;
    std::vector<Int8Dense> layers;  // grown one layer at a time: each takes bytes of the file
    for (std::uint32_t i = 0; i < count; ++i) {
        const auto inputs = in.number<std::uint64_t>("a layer's input size");
        const auto outputs = in.number<std::uint64_t>("a layer's output size");
        if (inputs < 1 || inputs > std::uint64_t(int8_max_depth) || outputs < 1) {
            in.corrupt(concat("layer ", i, " has ", inputs, " inputs and ", outputs,
                              " outputs; expected 1 to ", int8_max_depth,
                              " inputs and at least 1 output"));
        }
        if (i > 0 && inputs != std::uint64_t(layers.back().output_size)) {
            in.corrupt(concat("layer ", i, " has ", inputs, " inputs but layer ", i - 1, " has ",
                              layers.back().output_size, " outputs"));
        }
        // One byte per weight and eight per output (its scale and bias) must be there before the
        // layer is allocated: no size in the file makes the loader allocate what it has not read.
        if (outputs > in.remaining() / (inputs + 8)) {
            in.corrupt(concat("layer ", i, " is ", outputs, " x ", inputs, ", more than the ",
                              in.remaining(), " bytes that remain can hold"));
        }
        Int8Dense& l = layers.emplace_back();
        l.input_size = long(inputs);
        l.output_size = long(outputs);
        if (mode == 1) l.input_scale = in.number<float>("an input scale");
        const auto activations = in.number<std::uint32_t>("an activation count");
        if (activations > in.remaining()) {
            in.corrupt(concat("layer ", i, " has ", activations, " activations, more than the ",
                              in.remaining(), " bytes that remain can hold"));
        }
        for (std::uint32_t k = 0; k < activations; ++k) {
            const auto code = in.number<std::uint8_t>("an activation code");
            if (code >= codes) {
                in.corrupt(concat("layer ", i, "'s activation ", k, " has code ", int(code),
                                  "; expected 0 to ", codes - 1,
                                  " (Identity, ReLU, LeakyReLU, Tanh, Sigmoid, GELU)"));
            }
            Int8Activation& a = l.activations.emplace_back(
                int8_activation_of(code, std::make_index_sequence<codes>{}));
            std::visit(
                [&](auto& act) {
                    using A = std::remove_cvref_t<decltype(act)>;
                    std::vector<double> values = hyperparameters_of(act);
                    for (double& v : values) v = in.number<double>("a hyperparameter");
                    try {
                        set_hyperparameters_of(act, values);
                    } catch (const ValueError& e) {
                        throw in.error("holds hyperparameters that layer ", i, "'s activation ", k,
                                       " (", layer_name<A>(), ") rejects: ", e.what());
                    }
                },
                a);
        }
        const std::size_t rows = std::size_t(outputs), cols = std::size_t(inputs);
        l.weight_scales.resize(rows);
        get_le_values(in.take(rows * sizeof(float), "the weight scales"), rows,
                      l.weight_scales.data());
        l.bias.resize(long(rows));
        get_le_values(in.take(rows * sizeof(float), "the biases"), rows, l.bias.data());
        const char* w = in.take(rows * cols, "the weights");
        const std::size_t ld = std::size_t(int8_padded(l.input_size));
        l.weights.assign(rows * ld, std::int8_t(0));
        for (std::size_t o = 0; o < rows; ++o)
            std::memcpy(l.weights.data() + o * ld, w + o * cols, cols);
    }
    if (in.remaining() != 0) in.corrupt(concat(in.remaining(), " bytes follow the last layer"));
    try {
        return Int8Network(std::move(layers));
    } catch (const ShapeError& e) {
        throw in.error("holds a network that Int8Network refuses: ", e.what());
    } catch (const ValueError& e) {
        throw in.error("holds a network that Int8Network refuses: ", e.what());
    }
}

}  // namespace detail

/// Saves an int8 network (made by quantize(net) or quantize(net, calibration_inputs), or loaded
/// by load_int8) to `path` in the int8 model format (version int8_model_format_version; see
/// docs/quantization.md): magic "CHRYSQ8\0", version, file size, the scale mode (dynamic or
/// static), then per Dense layer its sizes, calibrated input scale, activations, weight scales,
/// biases and int8 weights, and the CRC-32 of all of it — about one byte per weight, a quarter of
/// the fp32 file of the same network (0.252× for the 784-800-800-10 student).
/// Ensures: the file is replaced atomically, as by save(net, path): written to a temporary beside
///   it, fsynced and renamed over `path`, so a crash or a failure never leaves a partial file and
///   never destroys the previous one.
/// Throws: IoError naming `path` if it cannot be written (the temporary is removed, any previous
///   file left as it was); ValueError naming chrysalis::save, the layer and the activation,
///   before anything is written, if an activation holds a hyperparameter load_int8 would refuse
///   (a LeakyReLU::slope of NaN, which the Int8Network constructor already refuses: a second
///   check, so that no file is written that cannot be loaded).
/// (A template constrained to Int8Network, so that it is compiled only where it is used and is
/// preferred to save(const Net&, path) for an Int8Network: see "Lazy on purpose",
/// docs/performance.md.)
template <std::same_as<Int8Network> N>
inline void save(const N& net, const std::string& path) {
    detail::write_file_atomically(path, detail::encode_int8_model(net), "chrysalis::save");
}

/// Loads a file written by save(const Int8Network&, path): the network it returns holds the
/// saved weights, scales, biases and activations bit for bit, so it computes the same logits,
/// bit for bit, as the network saved (with the kernel int8_best_kernel() of this build; every
/// kernel gives the same bits).
/// Throws: IoError naming `path` if it cannot be read; FormatError naming chrysalis::load_int8
///   and `path` if it is an fp32 model file ("is an fp32 model file …: load it with
///   chrysalis::load(net, path), then quantize(net) …"), not an int8 model file, has another
///   format version, is truncated or has trailing bytes, fails its checksum, holds 0 layers,
///   sizes out of range or that do not chain, a scale mode other than dynamic or static, an
///   unknown activation code, a hyperparameter an activation rejects, a scale that is not finite
///   and > 0, a bias that is not finite or a weight of −128, or more than `max_bytes` bytes
///   (default_max_bytes, 4 GiB; refused before they are read). Nothing is allocated for a layer
///   before the file is found to hold its bytes.
template <class = void>  // compiled only where used: see "Lazy on purpose", docs/performance.md
[[nodiscard]] inline Int8Network load_int8(const std::string& path,
                                           std::uint64_t max_bytes = default_max_bytes) {
    const std::string bytes = detail::read_file(path, "chrysalis::load_int8", max_bytes);
    detail::refuse_other_model_kind(bytes, path, "chrysalis::load_int8", true);
    return detail::decode_int8_model(bytes, path);
}

}  // namespace chrysalis::inline CHRYSALIS_ISA_NAMESPACE
