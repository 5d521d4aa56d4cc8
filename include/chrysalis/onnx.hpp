#pragma once
// chrysalis/onnx.hpp — exporting a network as an ONNX model (IR version 8, opset 17: what ONNX
// 1.12, Debian 12's python3-onnx, reads), so that a student can run where chrysalis does not:
// onnxruntime, TensorRT, a browser. The protobuf bytes are written by hand
// (detail/protobuf.hpp): no protobuf library is needed.
//
// No layer is listed here. Each layer maps itself through a member
//   std::string to_onnx(chrysalis::onnx::GraphBuilder<Scalar>& graph, const std::string& x) const
// (the OnnxLayer concept below); the shipped layers have one beside their forward. A network
// with a layer that has none does not compile, and the message names the layer.
//
// An Int8Network (int8_network.hpp) is written too, by export_onnx(const Int8Network&, path): its
// quantization, int8 product and float epilogue as standard operators (MatMulInteger on int8
// tensors, Round, Clip, Cast, …), its activations by their own to_onnx.

#include "chrysalis/isa.hpp"  // first: see its note on GCC bug 105593

#include <Eigen/Core>

#include <cmath>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <set>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <variant>
#include <vector>

#include "chrysalis/architecture.hpp"
#include "chrysalis/config.hpp"
#include "chrysalis/detail/file_io.hpp"
#include "chrysalis/detail/protobuf.hpp"
#include "chrysalis/errors.hpp"
#include "chrysalis/int8_network.hpp"
#include "chrysalis/network.hpp"

namespace chrysalis::inline CHRYSALIS_ISA_NAMESPACE {

namespace detail {
struct OnnxGraphAccess;

/// The TensorProto data type of a scalar: FLOAT (1) or DOUBLE (11).
template <class S>
constexpr std::int64_t onnx_data_type() {
    return std::is_same_v<S, float> ? 1 : 11;
}
}  // namespace detail

namespace onnx {

/// The ONNX IR version and the default-domain opset export_onnx declares. A layer's to_onnx may
/// use any operator of the default domain ("ai.onnx") as defined at this opset.
inline constexpr std::int64_t ir_version = 8;
inline constexpr std::int64_t opset_version = 17;

/// One attribute of a node: a float ("alpha" of LeakyRelu), an integer ("transB" of Gemm) or a
/// list of integers ("axes" of ReduceMax). Made by GraphBuilder::float_attribute,
/// GraphBuilder::int_attribute and GraphBuilder::ints_attribute.
struct Attribute {
    enum class Kind { float32, int64, int64s };
    std::string name;
    Kind kind = Kind::int64;
    float f = 0;
    std::int64_t i = 0;
    std::vector<std::int64_t> ints;
};

/// GraphBuilder<Scalar> — the ONNX graph export_onnx builds, as a layer's to_onnx sees it.
///
/// Represents: a graph under construction whose input "input" is a [batch, In] tensor of Scalar
///   (ONNX float for float, double for double; batch is the symbolic dimension "batch"). ONNX
///   puts one sample in a row where chrysalis puts it in a column: a tensor of shape
///   [batch, width] here holds the transpose of chrysalis's width × batch matrix.
/// Every function returns the name of the tensor it added. Names are unique in the graph; they
///   are made from the layer's index and the given hint ("layer0.weight", "layer2.Mul_1").
/// Throws: ValueError naming chrysalis::export_onnx, the network (`net`), the layer (index and
///   name) and the value, and nothing is written, for an initializer or attribute value that is
///   NaN or infinite (or beyond float's range for a float attribute), and for a node input that
///   names no tensor of the graph so far.
template <class Scalar>
class GraphBuilder {
    static_assert(is_supported_scalar_v<Scalar>,
                  "chrysalis::onnx::GraphBuilder: Scalar must be float or double");

  public:
    using scalar_type = Scalar;

    /// A float attribute. Requires `value` finite and within float's range; otherwise the node
    /// using it throws ValueError.
    static Attribute float_attribute(std::string name, double value) {
        return Attribute{std::move(name), Attribute::Kind::float32, to_float(value), 0, {}};
    }
    /// An integer attribute.
    static Attribute int_attribute(std::string name, std::int64_t value) {
        return Attribute{std::move(name), Attribute::Kind::int64, 0, value, {}};
    }
    /// A list-of-integers attribute, e.g. ints_attribute("axes", {1}) for a reduction over the
    /// features of each sample (at opset 17 the reductions but ReduceSum take axes this way).
    static Attribute ints_attribute(std::string name, std::vector<std::int64_t> values) {
        return Attribute{std::move(name), Attribute::Kind::int64s, 0, 0, std::move(values)};
    }

    /// Adds a constant tensor of shape [rows, cols] holding `m` as it reads (element (i, j) at
    /// row i, column j), e.g. Dense's W as [Out, In]. Requires m's scalar to be Scalar and every
    /// value finite (ValueError naming the tensor and the element otherwise).
    template <class Derived>
    std::string matrix(std::string_view hint, const Eigen::MatrixBase<Derived>& m) {
        static_assert(std::is_same_v<typename Derived::Scalar, Scalar>,
                      "chrysalis::onnx::GraphBuilder::matrix: the matrix's scalar type is not "
                      "the network's");
        const Eigen::Matrix<Scalar, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor> rows = m;
        return constant(hint, {std::int64_t(rows.rows()), std::int64_t(rows.cols())}, rows.data(),
                        std::size_t(rows.size()), rows.cols());
    }

    /// Adds a constant tensor of shape [size] holding `v` (a column or row vector), e.g. Dense's
    /// b; it broadcasts over a [batch, size] tensor. Requires as matrix.
    template <class Derived>
    std::string vector(std::string_view hint, const Eigen::MatrixBase<Derived>& v) {
        static_assert(std::is_same_v<typename Derived::Scalar, Scalar>,
                      "chrysalis::onnx::GraphBuilder::vector: the vector's scalar type is not "
                      "the network's");
        const Eigen::Matrix<Scalar, Eigen::Dynamic, 1> values = v.reshaped();
        return constant(hint, {std::int64_t(values.size())}, values.data(),
                        std::size_t(values.size()), values.size());
    }

    /// Adds a constant scalar tensor (shape []) of Scalar holding Scalar(value); it broadcasts
    /// over any tensor. Requires Scalar(value) finite.
    std::string scalar(std::string_view hint, double value) {
        const Scalar s = std::is_same_v<Scalar, float> ? Scalar(to_float(value)) : Scalar(value);
        return constant(hint, {}, &s, 1, 1);
    }

    /// Adds a node of the default domain at opset_version: op_type applied to `inputs` (names
    /// returned by earlier calls, or the `x` given to to_onnx), with `attributes`. Returns the
    /// name of its one output. Requires every input to name a tensor of the graph so far.
    std::string node(std::string_view op_type, std::vector<std::string> inputs,
                     std::vector<Attribute> attributes = {}) {
        for (const std::string& input : inputs) {
            if (!known_.contains(input)) {
                fail(detail::concat("gives its ", op_type, " node the input '", input,
                                    "', which no earlier node, initializer or graph input "
                                    "produced"));
            }
        }
        for (const Attribute& a : attributes) {
            if (a.kind == Attribute::Kind::float32 && !std::isfinite(a.f)) {
                fail(detail::concat("gives its ", op_type, " node the attribute ", a.name,
                                    " a value that is not a finite float"));
            }
        }
        std::string output = fresh(op_type);
        nodes_.push_back(
            Node{std::string(op_type), std::move(inputs), output, output, std::move(attributes)});
        return output;
    }

  private:
    friend struct detail::OnnxGraphAccess;

    /// float(value), but ±∞ beyond float's range, where the conversion is undefined behaviour.
    static float to_float(double value) {
        constexpr double largest = double(std::numeric_limits<float>::max());
        if (value > largest) return std::numeric_limits<float>::infinity();
        if (value < -largest) return -std::numeric_limits<float>::infinity();
        return float(value);  // NaN stays NaN
    }

    struct Node {
        std::string op_type;
        std::vector<std::string> inputs;
        std::string output;
        std::string name;
        std::vector<Attribute> attributes;
    };
    struct Initializer {
        std::string name;
        std::vector<std::int64_t> dims;
        std::string raw;  // little-endian, row-major
        std::int64_t data_type = detail::onnx_data_type<Scalar>();
    };

    GraphBuilder() { known_ = {"input"}; }

    /// Names the tensors of layer `index` and its errors.
    void begin_layer(std::size_t index, std::string name) {
        layer_index_ = index;
        layer_name_ = std::move(name);
    }

    [[noreturn]] void fail(std::string_view what_is_wrong) const {
        throw ValueError(detail::concat("chrysalis::export_onnx: net's layer ", layer_index_, " (",
                                        layer_name_, ") ", what_is_wrong, "; nothing was written"));
    }

    /// "layer<i>.<hint>", with "_1", "_2", … appended if the graph has that name already.
    std::string fresh(std::string_view hint) {
        const std::string base = detail::concat("layer", layer_index_, ".", hint);
        std::string name = base;
        for (std::size_t n = 1; known_.contains(name); ++n) name = detail::concat(base, "_", n);
        known_.insert(name);
        return name;
    }

    /// `values` (count of them, row-major, rows of `row_length`) as an initializer of `dims`.
    std::string constant(std::string_view hint, std::vector<std::int64_t> dims,
                         const Scalar* values, std::size_t count, Eigen::Index row_length) {
        for (std::size_t k = 0; k < count; ++k) {
            if (std::isfinite(values[k])) continue;
            const std::size_t n = std::size_t(row_length);
            const std::string where = dims.size() == 2
                                          ? detail::concat(" at (", k / n, ", ", k % n, ")")
                                      : dims.size() == 1 ? detail::concat(" at ", k)
                                                         : std::string();
            fail(detail::concat("holds a non-finite value (", double(values[k]), ") in its ", hint,
                                where, ": a model with it computes nothing useful"));
        }
        std::string name = fresh(hint);
        std::string raw;
        raw.reserve(count * sizeof(Scalar));
        detail::put_le_values(raw, values, count);
        initializers_.push_back(
            Initializer{name, std::move(dims), std::move(raw), detail::onnx_data_type<Scalar>()});
        return name;
    }

    std::set<std::string> known_;
    std::vector<Node> nodes_;
    std::vector<Initializer> initializers_;
    std::size_t layer_index_ = 0;
    std::string layer_name_;
};

}  // namespace onnx

/// OnnxLayer<L, Scalar> — a layer export_onnx can write.
///
/// std::string to_onnx(onnx::GraphBuilder<Scalar>& graph, const std::string& x) const
///   Requires: x names a tensor of graph of shape [batch, w] holding the layer's input, one
///     sample per row (w = input_size, or the incoming width for a same_width layer).
///   Ensures: returns the name of a tensor of shape [batch, output width] (its element type
///     Scalar) that holds the layer's Mode::inference forward of every row of x, adding the
///     nodes and initializers it needs through graph only. It may return x itself: a layer that
///     is the identity at inference (Identity, Dropout) adds nothing. The result should match
///     the layer's forward to rounding: the export test compares them.
///   Throws: what graph throws (ValueError for a non-finite value); nothing else is expected.
/// The member is usually a template over the builder, `template <class Graph> std::string
/// to_onnx(Graph& graph, const std::string& x) const`, so that the layer's header needs no
/// include of this one.
template <class L, class Scalar = float>
concept OnnxLayer = requires(const L& layer, onnx::GraphBuilder<Scalar>& graph,
                             const std::string& x) {
    { layer.to_onnx(graph, x) } -> std::convertible_to<std::string>;
};

namespace detail {

/// The check behind "every layer maps itself to ONNX". Its name and arguments, printed by the
/// compiler in "In instantiation of …", name the layer without a mapping.
template <class L, class Scalar>
struct onnx_export_needs_to_onnx {
    static constexpr bool ok = OnnxLayer<L, Scalar>;
    static_assert(ok,
                  "chrysalis::export_onnx: every layer needs a member std::string "
                  "to_onnx(chrysalis::onnx::GraphBuilder<Scalar>& graph, const std::string& x) "
                  "const that adds its inference forward to the graph (OnnxLayer, "
                  "chrysalis/onnx.hpp); the layer without one is named above");
};

template <class Net, std::size_t... I>
constexpr bool all_layers_map_to_onnx(std::index_sequence<I...>) {
    return (onnx_export_needs_to_onnx<layer_type<Net, I>, typename Net::scalar_type>::ok && ...);
}

/// Reads GraphBuilder's private parts for export: it alone starts layers and encodes the graph.
struct OnnxGraphAccess {
    template <class S>
    static onnx::GraphBuilder<S> make() {
        return onnx::GraphBuilder<S>();
    }
    template <class S>
    static void begin_layer(onnx::GraphBuilder<S>& g, std::size_t index, std::string name) {
        g.begin_layer(index, std::move(name));
    }
    /// Adds an INT8 constant of shape [rows, cols] holding `values` row-major (rows·cols bytes):
    /// the int8 weights of an Int8Network, which no to_onnx of a float layer needs.
    template <class S>
    static std::string int8_matrix(onnx::GraphBuilder<S>& g, std::string_view hint,
                                   const std::int8_t* values, std::int64_t rows,
                                   std::int64_t cols) {
        std::string name = g.fresh(hint);
        g.initializers_.push_back(typename onnx::GraphBuilder<S>::Initializer{
            name,
            {rows, cols},
            std::string(reinterpret_cast<const char*>(values), std::size_t(rows * cols)),
            3});  // TensorProto INT8
        return name;
    }

    /// A ValueInfoProto: name and a tensor type of S with dimensions [batch, width].
    template <class S>
    static std::string value_info(std::string_view name, std::int64_t width) {
        namespace pb = protobuf;
        std::string batch_dim, width_dim, shape, tensor, type, info;
        pb::put_bytes(batch_dim, 2, "batch");  // Dimension.dim_param
        pb::put_int(width_dim, 1, width);      // Dimension.dim_value
        pb::put_bytes(shape, 1, batch_dim);    // TensorShapeProto.dim
        pb::put_bytes(shape, 1, width_dim);
        pb::put_int(tensor, 1, onnx_data_type<S>());  // TypeProto.Tensor.elem_type
        pb::put_bytes(tensor, 2, shape);              // TypeProto.Tensor.shape
        pb::put_bytes(type, 1, tensor);               // TypeProto.tensor_type
        pb::put_bytes(info, 1, name);                 // ValueInfoProto.name
        pb::put_bytes(info, 2, type);                 // ValueInfoProto.type
        return info;
    }

    /// The ModelProto of a finished graph whose result is the tensor `last`: "logits" becomes
    /// that tensor's name (the node producing it is renamed; a graph input or initializer is
    /// passed through an Identity node).
    template <class S>
    static std::string encode(onnx::GraphBuilder<S>& g, std::string last, std::int64_t in_width,
                              std::int64_t out_width, std::string_view doc) {
        namespace pb = protobuf;
        using Node = typename onnx::GraphBuilder<S>::Node;
        bool produced_by_node = false;
        for (const Node& n : g.nodes_) produced_by_node = produced_by_node || n.output == last;
        if (produced_by_node) {
            for (Node& n : g.nodes_) {
                for (std::string& input : n.inputs)
                    if (input == last) input = "logits";
                if (n.output == last) n.output = n.name = "logits";
            }
        } else {
            g.nodes_.push_back(Node{"Identity", {last}, "logits", "logits", {}});
        }

        std::string graph;
        for (const Node& n : g.nodes_) {
            std::string node;
            for (const std::string& input : n.inputs) pb::put_bytes(node, 1, input);
            pb::put_bytes(node, 2, n.output);
            pb::put_bytes(node, 3, n.name);
            pb::put_bytes(node, 4, n.op_type);
            for (const onnx::Attribute& a : n.attributes) {
                std::string attribute;
                pb::put_bytes(attribute, 1, a.name);
                if (a.kind == onnx::Attribute::Kind::float32) {
                    pb::put_float(attribute, 2, a.f);
                    pb::put_int(attribute, 20, 1);  // AttributeType FLOAT
                } else if (a.kind == onnx::Attribute::Kind::int64s) {
                    for (const std::int64_t v : a.ints) pb::put_int(attribute, 8, v);  // ints
                    pb::put_int(attribute, 20, 7);  // AttributeType INTS
                } else {
                    pb::put_int(attribute, 3, a.i);
                    pb::put_int(attribute, 20, 2);  // AttributeType INT
                }
                pb::put_bytes(node, 5, attribute);
            }
            pb::put_bytes(graph, 1, node);  // GraphProto.node
        }
        pb::put_bytes(graph, 2, "chrysalis");  // GraphProto.name
        for (const auto& init : g.initializers_) {
            std::string tensor;
            for (const std::int64_t d : init.dims) pb::put_int(tensor, 1, d);  // dims
            pb::put_int(tensor, 2, init.data_type);                            // data_type
            pb::put_bytes(tensor, 8, init.name);                               // name
            pb::put_bytes(tensor, 9, init.raw);                                // raw_data
            pb::put_bytes(graph, 5, tensor);  // GraphProto.initializer
        }
        pb::put_bytes(graph, 10, doc);                                 // GraphProto.doc_string
        pb::put_bytes(graph, 11, value_info<S>("input", in_width));    // GraphProto.input
        pb::put_bytes(graph, 12, value_info<S>("logits", out_width));  // GraphProto.output

        std::string opset;
        pb::put_bytes(opset, 1, "");  // OperatorSetIdProto.domain: the default, ai.onnx
        pb::put_int(opset, 2, onnx::opset_version);

        std::string model;
        pb::put_int(model, 1, onnx::ir_version);  // ModelProto.ir_version
        pb::put_bytes(model, 2, "chrysalis");     // producer_name
        pb::put_bytes(model, 3, version_string);  // producer_version
        pb::put_bytes(model, 7, graph);           // graph
        pb::put_bytes(model, 8, opset);           // opset_import
        return model;
    }
};

/// The ONNX model file of `net` (see export_onnx).
template <class Net>
std::string encode_onnx(const Net& net) {
    using S = typename Net::scalar_type;
    auto graph = OnnxGraphAccess::make<S>();
    const std::vector<std::string> names = layer_names<Net>();
    std::string x = "input";
    for_each_layer(net, [&](std::size_t i, const auto& layer) {
        OnnxGraphAccess::begin_layer(graph, i, names[i]);
        x = layer.to_onnx(graph, std::as_const(x));
    });
    return OnnxGraphAccess::encode(graph, x, Net::input_size, Net::output_size,
                                   architecture_of<Net>());
}

}  // namespace detail

/// Writes `net` to `path` as an ONNX model (IR version onnx::ir_version = 8, default-domain
/// opset onnx::opset_version = 17; producer "chrysalis", producer_version the library's
/// version; the architecture string as the graph's doc_string) that computes the network's
/// Mode::inference forward:
///   input  "input":  [batch, Net::input_size] of float (double for a double network), one
///                    sample per row — the transpose of chrysalis's features × batch layout;
///   output "logits": [batch, Net::output_size], the same type.
/// batch is symbolic: the model takes any number of samples. Each layer adds itself through its
/// to_onnx member (OnnxLayer): Dense<In, Out> becomes Gemm(input, W, b, transB = 1) with W an
/// [Out, In] initializer (the layout of PyTorch's nn.Linear and of export_npy), ReLU Relu, Tanh
/// Tanh, Sigmoid Sigmoid, LeakyReLU LeakyRelu(alpha = slope) in a float network and PRelu with
/// a double slope in a double one (an ONNX float attribute would round the slope), GELU its
/// exact erf form x·(1 + erf(x·(1/√2)))·½ as Mul, Erf, Add and Mul nodes (opset 17 has no Gelu),
/// and Identity and Dropout nothing (both are the identity at inference). Initializers are
/// stored as little-endian raw_data.
/// Requires: Net is a Sequential whose layers all name themselves (SerializableLayer) and model
///   OnnxLayer; otherwise the build stops naming the layer and the missing member.
/// Ensures: the file is replaced atomically, as by save: written to a temporary beside it,
///   fsynced and renamed over `path` (through a symbolic link, its target is replaced); a crash
///   or an error never leaves a partial file nor destroys the previous one.
/// Throws: ValueError naming chrysalis::export_onnx, `net`, the layer and the value, before
///   anything is written, if a parameter or hyperparameter the model would hold is NaN or
///   infinite (or a LeakyReLU slope of a float network is beyond float's range). IoError naming
///   `path` if it cannot be written (a directory, a device, a missing directory, no permission);
///   any previous file at `path` is left as it was.
template <class Net>
void export_onnx(const Net& net, const std::string& path) {
    static_assert(detail::serialization_needs_a_Sequential<Net>::ok,
                  "chrysalis::export_onnx: see the first error above");
    static_assert(detail::all_layers_map_to_onnx<Net>(std::make_index_sequence<Net::depth>{}),
                  "chrysalis::export_onnx: see the first error above");
    detail::write_file_atomically(path, detail::encode_onnx(net), "chrysalis::export_onnx");
}

namespace detail {

/// Dense layer `l` of an Int8Network, whose int8 weights are `w` (Out × In, as
/// Int8Network::int8_weights gives them), on x ([batch, In] floats) as the graph's nodes, each the
/// float operation Int8Network::forward performs, in its order, so that an evaluation in float32
/// gives its bits (see export_onnx(const Int8Network&, path)). Returns the [batch, Out] output
/// before the activations.
template <class = void>  // compiled only where used: see "Lazy on purpose", docs/performance.md
inline std::string int8_dense_to_onnx(onnx::GraphBuilder<float>& g, const Int8Dense& l,
                                      const Matrix<std::int8_t>& w, const std::string& x) {
    using G = onnx::GraphBuilder<float>;
    const std::string zero = g.scalar("zero", 0.0);
    std::string sx;  // s_x: [] (static) or [batch, 1] (dynamic)
    if (l.input_scale) {
        sx = g.scalar("input_scale", double(*l.input_scale));
    } else {
        const auto per_sample = [] {
            return std::vector<onnx::Attribute>{G::ints_attribute("axes", {1}),
                                                G::int_attribute("keepdims", 1)};
        };
        const std::string max_abs = g.node("ReduceMax", {g.node("Abs", {x})}, per_sample());
        // max_abs_or_nan: 0·x is 0 for a finite x and NaN for ±∞ or NaN, and a sum propagates
        // NaN in every runtime (a max need not), so this is 0 or NaN, and max_abs + it is NaN
        // exactly where a feature is not finite — whose scale is then 1, as in int8_scale.
        const std::string poison =
            g.node("ReduceSumSquare", {g.node("Mul", {x, zero})}, per_sample());
        const std::string scale = g.node(
            "Div",
            {g.node("Add", {max_abs, poison}), g.scalar("int8_max", double(int8_activation_max))});
        sx = g.node("Where", {g.node("Greater", {scale, zero}), scale, g.scalar("one", 1.0)});
    }
    // int8_quantize: rne(clamp(x / s_x, −63, 63)), NaN → 0 (Cast of a NaN is undefined).
    const std::string t = g.node("Div", {x, sx});
    const std::string clamped =
        g.node("Clip", {t, g.scalar("clip_low", -double(int8_activation_max)),
                        g.scalar("clip_high", double(int8_activation_max))});
    const std::string rounded = g.node("Round", {clamped});  // half to even
    const std::string q = g.node("Cast", {g.node("Where", {g.node("IsNaN", {t}), zero, rounded})},
                                 {G::int_attribute("to", 3)});  // INT8
    // W_q as [In, Out]: element (k, o) at k·Out + o, where column-major w keeps w(o, k).
    const std::string acc = g.node(
        "MatMulInteger",
        {q, OnnxGraphAccess::int8_matrix(g, "weight_t", w.data(), l.input_size, l.output_size)});
    // The epilogue: float(acc)·(s_w[o]·s_x[j]) + b[o].
    const Eigen::Map<const Vector<float>> sw(l.weight_scales.data(), l.output_size);
    const std::string scales = g.node("Mul", {g.vector("weight_scale", sw), sx});
    const std::string product =
        g.node("Mul", {g.node("Cast", {acc}, {G::int_attribute("to", 1)}), scales});  // FLOAT
    return g.node("Add", {product, g.vector("bias", l.bias)});
}

/// The ONNX model file of an Int8Network (see export_onnx(const Int8Network&, path)).
template <std::same_as<Int8Network> N>  // compiled only where used, as export_onnx below
inline std::string encode_onnx(const N& net) {
    auto graph = OnnxGraphAccess::make<float>();
    std::string doc =
        concat("Int8Network (", net.calibrated() ? "static" : "dynamic", " activation scales):");
    std::string x = "input";
    for (std::size_t i = 0; i < net.dense_count(); ++i) {
        const Int8Dense& l = net.layer(i);
        const std::string name = concat("Int8Dense<", l.input_size, ",", l.output_size, ">");
        OnnxGraphAccess::begin_layer(graph, i, name);
        x = int8_dense_to_onnx(graph, l, net.int8_weights(i), x);
        doc += " " + name;
        for (std::size_t k = 0; k < l.activations.size(); ++k) {
            std::visit(
                [&](const auto& activation) {
                    const std::string act = activation.name();
                    OnnxGraphAccess::begin_layer(graph, i,
                                                 concat(name, "'s activation ", k, ", ", act));
                    x = activation.to_onnx(graph, std::as_const(x));
                    doc += " " + act;
                },
                l.activations[k]);
        }
    }
    return OnnxGraphAccess::encode(graph, x, net.input_size(), net.output_size(), doc);
}

}  // namespace detail

/// Writes the int8 network `net` (int8_network.hpp) to `path` as an ONNX model of the same IR
/// version, opset, producer, input "input" and output "logits" as export_onnx(net, path) writes
/// for a float Sequential — [batch, input_size()] and [batch, output_size()] of float — that
/// computes Int8Network::forward: per Dense layer, the quantization of its input, the int8
/// product and the float epilogue, each as the operation forward performs, in its order:
///   s_x     dynamic: Where(s > 0, s, 1) with s = (ReduceMax(Abs(x), axes = [1]) +
///           ReduceSumSquare(x·0, axes = [1])) / 63 — the second term is NaN exactly where a
///           feature is not finite, whose scale is then 1, as forward's; static: a constant;
///   q_x     Cast<int8>(Where(IsNaN(t), 0, Round(Clip(t, −63, 63)))), t = x / s_x (ONNX's
///           Round is half to even, the library's rne; QuantizeLinear is not used: it
///           saturates to [−128, 127], not to the 7-bit range of the activations);
///   acc     MatMulInteger(q_x, W_q) with W_q the int8 weights as an [In, Out] initializer;
///   y       Cast<float>(acc)·(s_w·s_x) + b: Mul, Mul, Add;
/// then each activation by its own to_onnx (see export_onnx above). The graph's doc_string
/// lists the layers, e.g. "Int8Network (dynamic activation scales): Int8Dense<784,32> ReLU
/// Int8Dense<32,10>". An evaluation in IEEE float32 that performs each node as one rounded
/// operation gives forward's outputs bit for bit where the activations are Identity, ReLU and
/// LeakyReLU; Tanh, Sigmoid and GELU are a runtime's own functions, within ulps of Eigen's,
/// and a difference in a hidden layer can move a value across a rounding boundary of the next
/// quantization (one step of q_x). forward refuses a non-finite input; the model computes with
/// it as with a non-finite value in a hidden layer (scale 1, ±∞ → ±63, NaN → 0).
/// Requires: nothing beyond what Int8Network's constructor checked.
/// Ensures: the file is replaced atomically, as by export_onnx(net, path).
/// Throws: ValueError naming chrysalis::export_onnx, `net`, the Dense layer's index and the
///   activation, before anything is written, for a LeakyReLU slope (a public member) that is
///   NaN, infinite or beyond float's range. IoError naming `path` as export_onnx(net, path).
/// (A template constrained to Int8Network, so that it is compiled only where it is used and is
/// preferred to export_onnx(const Net&, path) for an Int8Network: see "Lazy on purpose",
/// docs/performance.md.)
template <std::same_as<Int8Network> N>
inline void export_onnx(const N& net, const std::string& path) {
    detail::write_file_atomically(path, detail::encode_onnx(net), "chrysalis::export_onnx");
}

}  // namespace chrysalis::inline CHRYSALIS_ISA_NAMESPACE
