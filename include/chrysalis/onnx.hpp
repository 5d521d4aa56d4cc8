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
#include <vector>

#include "chrysalis/architecture.hpp"
#include "chrysalis/config.hpp"
#include "chrysalis/detail/file_io.hpp"
#include "chrysalis/detail/protobuf.hpp"
#include "chrysalis/errors.hpp"
#include "chrysalis/network.hpp"

namespace chrysalis::inline CHRYSALIS_ISA_NAMESPACE {

namespace detail {
struct OnnxGraphAccess;
}  // namespace detail

namespace onnx {

/// The ONNX IR version and the default-domain opset export_onnx declares. A layer's to_onnx may
/// use any operator of the default domain ("ai.onnx") as defined at this opset.
inline constexpr std::int64_t ir_version = 8;
inline constexpr std::int64_t opset_version = 17;

/// One attribute of a node: a float ("alpha" of LeakyRelu) or an integer ("transB" of Gemm).
/// Made by GraphBuilder::float_attribute and GraphBuilder::int_attribute.
struct Attribute {
    enum class Kind { float32, int64 };
    std::string name;
    Kind kind = Kind::int64;
    float f = 0;
    std::int64_t i = 0;
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
        return Attribute{std::move(name), Attribute::Kind::float32, to_float(value), 0};
    }
    /// An integer attribute.
    static Attribute int_attribute(std::string name, std::int64_t value) {
        return Attribute{std::move(name), Attribute::Kind::int64, 0, value};
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
        constexpr double largest = std::numeric_limits<float>::max();
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
        initializers_.push_back(Initializer{name, std::move(dims), std::move(raw)});
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

/// The TensorProto data type of a scalar: FLOAT (1) or DOUBLE (11).
template <class S>
constexpr std::int64_t onnx_data_type() {
    return std::is_same_v<S, float> ? 1 : 11;
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
            pb::put_int(tensor, 2, onnx_data_type<S>());                       // data_type
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

}  // namespace chrysalis::inline CHRYSALIS_ISA_NAMESPACE
