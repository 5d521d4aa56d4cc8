// export_onnx: networks of every shipped layer, in float and double, and one with a layer of this
// file's own (the OnnxLayer extension point), are exported and checked by scripts/check_onnx.py
// with Debian's python3-onnx — the checker, strict shape inference, and a NumPy evaluation of
// the graph against chrysalis's logits. Without Python: the protobuf structure of the file, the
// weights' layout in it, and the errors (non-finite values, paths that cannot be written, the
// previous file kept). Int8Networks (int8_network.hpp), dynamic and static, with every activation
// they allow and with non-finite hidden values, are checked the same way, exactly where the
// arithmetic allows it, and a student trained briefly on Fashion-MNIST (when it is installed)
// classifies its 10,000 test images identically in chrysalis and in the exported graph.

#include <catch2/catch.hpp>

#include <chrysalis/chrysalis.hpp>
#include <chrysalis/onnx.hpp>

#include <sys/wait.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <limits>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "temp_dir.hpp"
#include "thrown.hpp"

namespace cy = chrysalis;

/// y = γ ⊙ x + β, feature by feature: a layer of the test's own, written as docs/extending.md
/// describes (one file, no library header touched), with an ONNX mapping through the OnnxLayer
/// member — here in its non-template form, naming the builder.
template <int Features, class Scalar>
class FeatureAffine {
  public:
    using scalar_type = Scalar;
    static constexpr int input_size = Features;
    static constexpr int output_size = Features;

    static std::string name() {
        return "FeatureAffine<" + std::to_string(Features) + "," +
               std::string(cy::detail::scalar_name<Scalar>()) + ">";
    }
    void initialize(cy::Rng& rng) {
        for (int i = 0; i < Features; ++i) {
            gamma_(i) = Scalar(rng.uniform(0.5, 1.5));
            beta_(i) = Scalar(rng.uniform(-0.5, 0.5));
        }
    }
    template <class F>
    void visit_parameters(F&& f) {
        f(gamma_, dgamma_);
        f(beta_, dbeta_);
    }
    void forward(cy::ConstMatrixRef<Scalar> x, cy::MatrixRef<Scalar> y, cy::Mode = {}) {
        y = (gamma_.asDiagonal() * x).colwise() + beta_;
    }
    void backward(cy::ConstMatrixRef<Scalar> x, cy::ConstMatrixRef<Scalar>,
                  cy::ConstMatrixRef<Scalar> dy, cy::MatrixRef<Scalar> dx) {
        dgamma_ = dy.cwiseProduct(x).rowwise().sum();
        dbeta_ = dy.rowwise().sum();
        if (dx.size() != 0) dx = gamma_.asDiagonal() * dy;
    }

    /// x·diag(γ) + β on [batch, Features] rows: Mul and Add, γ and β broadcast over the batch.
    std::string to_onnx(cy::onnx::GraphBuilder<Scalar>& graph, const std::string& x) const {
        const std::string scaled = graph.node("Mul", {x, graph.vector("gamma", gamma_)});
        return graph.node("Add", {scaled, graph.vector("beta", beta_)});
    }

    cy::Vector<Scalar>& gain() { return gamma_; }

  private:
    cy::Vector<Scalar> gamma_ = cy::Vector<Scalar>::Ones(Features);
    cy::Vector<Scalar> beta_ = cy::Vector<Scalar>::Zero(Features);
    cy::Vector<Scalar> dgamma_ = cy::Vector<Scalar>::Zero(Features);
    cy::Vector<Scalar> dbeta_ = cy::Vector<Scalar>::Zero(Features);
};

/// The identity, with a to_onnx that wires its node to a tensor the graph does not have.
struct MisWired {
    static constexpr int input_size = cy::same_width;
    static constexpr int output_size = cy::same_width;
    static std::string name() { return "MisWired"; }
    template <class X, class Y>
    void forward(const Eigen::MatrixBase<X>& x, Y&& y, cy::Mode = {}) const {
        y = x;
    }
    template <class X, class Yv, class DY, class DX>
    void backward(const Eigen::MatrixBase<X>&, const Eigen::MatrixBase<Yv>&,
                  const Eigen::MatrixBase<DY>& dy, DX&& dx) const {
        if (dx.size() != 0) dx = dy;
    }
    template <class Graph>
    std::string to_onnx(Graph& graph, const std::string& x) const {
        return graph.node("Identity", {x + ".typo"});
    }
};

static_assert(cy::OnnxLayer<FeatureAffine<4, float>, float>);
static_assert(cy::OnnxLayer<cy::Dense<3, 2, double>, double>);
static_assert(cy::OnnxLayer<cy::GELU, float> && cy::OnnxLayer<cy::Dropout<10>, double>);

namespace {

using cy::test::TempDir;
using cy::test::thrown;

// Every shipped layer appears in one of the first two networks; they end in a Dense layer and in
// a layer that is the identity at inference (whose output the exported graph must still name
// "logits"). The widths stay at or below 10, which check_onnx.py's tolerance assumes.
template <class S>
using Activations =
    cy::Sequential<cy::Dense<6, 10, S>, cy::ReLU, cy::Dense<10, 8, S>, cy::LeakyReLU,
                   cy::Dropout<30>, cy::Dense<8, 7, S>, cy::Tanh, cy::Dense<7, 5, S>>;
template <class S>
using Smooth = cy::Sequential<cy::Dense<6, 9, S>, cy::Sigmoid, cy::Dense<9, 8, S>, cy::GELU,
                              cy::Identity, cy::Dense<8, 4, S>, cy::Dropout<20>>;
template <class S>
using Custom =
    cy::Sequential<cy::Dense<6, 8, S>, FeatureAffine<8, S>, cy::GELU, cy::Dense<8, 3, S>>;

struct Run {
    int status;
    std::string output;
};

/// Runs a shell command, returning its exit status and what it printed (stdout and stderr).
Run run(const std::string& command) {
    Run r{-1, {}};
    FILE* pipe = ::popen((command + " 2>&1").c_str(), "r");
    if (pipe == nullptr) return r;
    char buffer[4096];
    for (std::size_t n; (n = std::fread(buffer, 1, sizeof buffer, pipe)) > 0;)
        r.output.append(buffer, n);
    const int status = ::pclose(pipe);
    r.status = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    return r;
}

/// The Python with onnx and NumPy: Debian's /usr/bin/python3 first (a python3 earlier on PATH,
/// such as a pyenv one, may lack python3-onnx), then python3. Empty if neither has them.
std::string python() {
    for (const char* p : {"/usr/bin/python3", "python3"})
        if (run(std::string(p) + " -c 'import onnx, numpy'").status == 0) return p;
    return {};
}

/// Samples of the network's input width, uniform in [-3, 3]: both signs for ReLU, LeakyReLU and
/// GELU, and beyond the near-linear middle of Tanh and Sigmoid.
template <class S>
cy::Matrix<S> samples(int rows, int cols, std::uint64_t seed) {
    cy::Rng rng(cy::Seed{seed});
    cy::Matrix<S> x(rows, cols);
    for (Eigen::Index j = 0; j < x.cols(); ++j)
        for (Eigen::Index i = 0; i < x.rows(); ++i) x(i, j) = S(rng.uniform(-3.0, 3.0));
    return x;
}

/// Writes x and logits beside the model dir/<stem>.onnx and runs check_onnx.py on the three
/// files with `options` ("--rtol 0", …).
template <class S>
Run check_files(const TempDir& dir, const std::string& stem, const cy::Matrix<S>& x,
                const cy::Matrix<S>& logits, const std::string& options = "") {
    const std::string py = python();
    if (py.empty()) {
        FAIL(
            "no Python with onnx and NumPy: install Debian's python3-onnx and python3-numpy "
            "(scripts/install-deps.sh --ci)");
    }
    cy::save_npy(x, dir.file(stem + "_input.npy"));
    cy::save_npy(logits, dir.file(stem + "_logits.npy"));
    return run(py + " " CHRYSALIS_SOURCE_DIR "/scripts/check_onnx.py " + dir.file(stem + ".onnx") +
               " " + dir.file(stem + "_input.npy") + " " + dir.file(stem + "_logits.npy") + " " +
               options);
}

/// Exports `net`, writes 11 samples and the logits chrysalis computes for them (or, when
/// `logits_of` is given, another network's), and runs check_onnx.py on the three files.
template <class Net, class Other = Net>
Run check_with_python(Net& net, const TempDir& dir, const std::string& stem,
                      Other* logits_of = nullptr) {
    using S = typename Net::scalar_type;
    const cy::Matrix<S> x = samples<S>(Net::input_size, 11, 7);
    const cy::Matrix<S> logits = logits_of ? logits_of->forward(x) : net.forward(x);
    cy::export_onnx(net, dir.file(stem + ".onnx"));
    return check_files(dir, stem, x, logits);
}

/// The same for an Int8Network, on 200 samples (a few thousand logits: a difference of rounding
/// between chrysalis and the graph, if there were one, would show), `options` for check_onnx.py.
Run check_int8_with_python(cy::Int8Network& net, const TempDir& dir, const std::string& stem,
                           const std::string& options, cy::Int8Network* logits_of = nullptr) {
    const cy::Matrix<float> x = samples<float>(int(net.input_size()), 200, 7);
    const cy::Matrix<float> logits = (logits_of ? *logits_of : net).predict_logits(x);
    cy::export_onnx(net, dir.file(stem + ".onnx"));
    return check_files(dir, stem, x, logits, options);
}

std::string read_bytes(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

// A protobuf reader of the test's own, independent of the library's writer: every field of a
// message, or nothing if the bytes are not a well-formed message. A field's bytes view into the
// parsed message, which must outlive them.
struct Field {
    int number = 0;
    int wire = 0;
    std::uint64_t varint = 0;  // wire type 0
    std::string_view bytes;    // wire types 2 and 5
};

std::optional<std::uint64_t> read_varint(std::string_view& in) {
    std::uint64_t value = 0;
    for (int shift = 0; shift < 64 && !in.empty(); shift += 7) {
        const auto byte = static_cast<unsigned char>(in.front());
        in.remove_prefix(1);
        value |= std::uint64_t(byte & 0x7F) << shift;
        if ((byte & 0x80) == 0) return value;
    }
    return std::nullopt;
}

std::optional<std::vector<Field>> parse(std::string_view in) {
    std::vector<Field> fields;
    while (!in.empty()) {
        const auto key = read_varint(in);
        if (!key || (*key >> 3) == 0) return std::nullopt;
        Field f{int(*key >> 3), int(*key & 7), 0, {}};
        if (f.wire == 0) {
            const auto v = read_varint(in);
            if (!v) return std::nullopt;
            f.varint = *v;
        } else if (f.wire == 2 || f.wire == 5) {
            const auto n = f.wire == 5 ? std::optional<std::uint64_t>(4) : read_varint(in);
            if (!n || *n > in.size()) return std::nullopt;
            f.bytes = in.substr(0, *n);
            in.remove_prefix(*n);
        } else {
            return std::nullopt;  // export_onnx writes no other wire type
        }
        fields.push_back(f);
    }
    return fields;
}

/// The fields numbered `number` of a parsed message.
std::vector<Field> all(const std::vector<Field>& fields, int number) {
    std::vector<Field> found;
    for (const Field& f : fields)
        if (f.number == number) found.push_back(f);
    return found;
}

/// The one field numbered `number` (the test fails if there is not exactly one).
Field one(const std::vector<Field>& fields, int number) {
    const std::vector<Field> found = all(fields, number);
    REQUIRE(found.size() == 1);
    return found[0];
}

std::vector<Field> parsed(std::string_view bytes) {
    const auto fields = parse(bytes);
    REQUIRE(fields.has_value());
    return *fields;
}

template <class M>
std::string bytes_of(const M& m) {
    return {reinterpret_cast<const char*>(m.data()), std::size_t(m.size()) * sizeof(m(0))};
}

}  // namespace

TEMPLATE_TEST_CASE(
    "export_onnx: networks of every shipped layer pass onnx's checker and compute "
    "chrysalis's logits",
    "[onnx][scripts]", float, double) {
    using S = TestType;
    TempDir dir;
    Activations<S> activations(cy::Seed{11});
    activations.template layer<3>().slope = 0.2;  // not the default, which would hide a mix-up
    Smooth<S> smooth(cy::Seed{12});
    const std::string stem = std::string(cy::detail::scalar_name<S>());

    Run r = check_with_python(activations, dir, "activations_" + stem);
    INFO(r.output);
    CHECK(r.status == 0);
    r = check_with_python(smooth, dir, "smooth_" + stem);
    INFO(r.output);
    CHECK(r.status == 0);
}

TEMPLATE_TEST_CASE("export_onnx: a layer of the user's own maps itself through to_onnx",
                   "[onnx][scripts][extension]", float, double) {
    using S = TestType;
    TempDir dir;
    Custom<S> net(cy::Seed{13});
    const Run r = check_with_python(net, dir, "custom");
    INFO(r.output);
    CHECK(r.status == 0);
}

TEST_CASE("export_onnx: check_onnx.py fails a model whose logits are another network's",
          "[onnx][scripts]") {
    // The control that gives the passes above their meaning: the same architecture with other
    // weights must be told apart.
    TempDir dir;
    Activations<float> net(cy::Seed{11}), other(cy::Seed{14});
    const Run r = check_with_python(net, dir, "control", &other);
    INFO(r.output);
    CHECK(r.status == 1);
    CHECK(r.output.find("exceeds the tolerance") != std::string::npos);
}

TEST_CASE("export_onnx: the file is a ModelProto of IR 8, opset 17, with W as [Out, In] raw data",
          "[onnx]") {
    TempDir dir;
    cy::Sequential<cy::Dense<3, 2>, cy::ReLU, cy::Dense<2, 4>, cy::Dropout<50>> net(cy::Seed{5});
    const std::string path = dir.file("net.onnx");
    cy::export_onnx(net, path);
    const std::string bytes = read_bytes(path);
    REQUIRE(bytes == cy::detail::encode_onnx(net));
    // ModelProto: field 1 (ir_version) = 8 first: key 0x08, value 0x08.
    REQUIRE(bytes.substr(0, 2) == std::string("\x08\x08", 2));
    const std::vector<Field> model = parsed(bytes);
    CHECK(one(model, 1).varint == 8);
    CHECK(one(model, 2).bytes == "chrysalis");
    CHECK(one(model, 3).bytes == CHRYSALIS_VERSION_STRING);
    const std::vector<Field> opset = parsed(one(model, 8).bytes);
    CHECK(one(opset, 1).bytes.empty());  // the default domain
    CHECK(one(opset, 2).varint == 17);

    const std::vector<Field> graph = parsed(one(model, 7).bytes);
    CHECK(one(graph, 10).bytes == cy::architecture(net));
    std::vector<std::string> ops, outputs;
    for (const Field& node : all(graph, 1)) {
        const std::vector<Field> n = parsed(node.bytes);
        ops.emplace_back(one(n, 4).bytes);
        outputs.emplace_back(one(n, 2).bytes);
    }
    // Dropout adds nothing: the last Gemm's output is the graph's "logits".
    CHECK(ops == std::vector<std::string>{"Gemm", "Relu", "Gemm"});
    CHECK(outputs.back() == "logits");

    const std::vector<Field> initializers = all(graph, 5);
    REQUIRE(initializers.size() == 4);
    const std::vector<Field> w = parsed(initializers[2].bytes);  // layer 2's weight
    CHECK(one(w, 8).bytes == "layer2.weight");
    std::vector<std::uint64_t> dims;
    for (const Field& d : all(w, 1)) dims.push_back(d.varint);
    CHECK(dims == std::vector<std::uint64_t>{4, 2});  // [Out, In]
    CHECK(one(w, 2).varint == 1);                     // FLOAT
    // Row-major: W(i, j) at i·In + j, i.e. Wᵀ's column-major storage.
    const cy::Matrix<float> wt = net.layer<2>().weights().transpose();
    CHECK(one(w, 9).bytes == bytes_of(wt));
    const std::vector<Field> b = parsed(initializers[3].bytes);
    CHECK(one(b, 8).bytes == "layer2.bias");
    CHECK(one(b, 1).varint == 4);
    CHECK(one(b, 9).bytes == bytes_of(net.layer<2>().bias()));

    // The input: "input", FLOAT, [batch, 3].
    const std::vector<Field> input = parsed(one(graph, 11).bytes);
    CHECK(one(input, 1).bytes == "input");
    const std::vector<Field> tensor = parsed(one(parsed(one(input, 2).bytes), 1).bytes);
    CHECK(one(tensor, 1).varint == 1);
    const std::vector<Field> shape_dims = all(parsed(one(tensor, 2).bytes), 1);
    REQUIRE(shape_dims.size() == 2);
    CHECK(one(parsed(shape_dims[0].bytes), 2).bytes == "batch");
    CHECK(one(parsed(shape_dims[1].bytes), 1).varint == 3);
}

TEST_CASE("export_onnx: a double network is written as DOUBLE tensors", "[onnx]") {
    cy::Sequential<cy::Dense<3, 2, double>, cy::LeakyReLU> net(cy::Seed{5});
    const std::string bytes = cy::detail::encode_onnx(net);  // the fields below view into it
    const std::vector<Field> graph = parsed(one(parsed(bytes), 7).bytes);
    for (const Field& init : all(graph, 5)) CHECK(one(parsed(init.bytes), 2).varint == 11);
    // The slope is a double constant of PRelu: 0.01 exactly as the network holds it.
    const std::vector<Field> slope = parsed(all(graph, 5).back().bytes);
    CHECK(one(slope, 8).bytes == "layer1.slope");
    CHECK(all(slope, 1).empty());  // a scalar: no dims
    const double value = 0.01;
    CHECK(one(slope, 9).bytes == std::string_view(reinterpret_cast<const char*>(&value), 8));
}

TEST_CASE(
    "export_onnx: non-finite parameters and miswired layers are refused naming the layer, "
    "nothing written",
    "[onnx][errors]") {
    TempDir dir;
    const std::string path = dir.file("net.onnx");
    using Net = cy::Sequential<cy::Dense<3, 4>, cy::ReLU, cy::Dense<4, 2>>;
    {
        Net net(cy::Seed{1});
        net.layer<2>().weights()(1, 3) = cy::test::nan_f;
        CHECK(thrown<cy::ValueError>([&] { cy::export_onnx(net, path); }) ==
              "chrysalis::export_onnx: net's layer 2 (Dense<4,2,float>) holds a non-finite value "
              "(nan) in its weight at (1, 3): a model with it computes nothing useful; nothing "
              "was written");
    }
    {
        Net net(cy::Seed{1});
        net.layer<0>().bias()(2) = -cy::test::inf_f;
        CHECK(thrown<cy::ValueError>([&] { cy::export_onnx(net, path); })
                  .find("layer 0 (Dense<3,4,float>) holds a non-finite value (-inf) in its bias "
                        "at 2") != std::string::npos);
    }
    {
        Custom<float> net(cy::Seed{1});
        net.layer<1>().gain()(0) = cy::test::nan_f;
        CHECK(thrown<cy::ValueError>([&] { cy::export_onnx(net, path); })
                  .find("layer 1 (FeatureAffine<8,float>) holds a non-finite value (nan) in its "
                        "gamma at 0") != std::string::npos);
    }
    {  // a slope set through the public member, past what the constructor allows
        cy::Sequential<cy::Dense<3, 4>, cy::LeakyReLU> net(cy::Seed{1});
        net.layer<1>().slope = std::numeric_limits<double>::quiet_NaN();
        CHECK(thrown<cy::ValueError>([&] { cy::export_onnx(net, path); })
                  .find("layer 1 (LeakyReLU) gives its LeakyRelu node the attribute alpha a "
                        "value that is not a finite float") != std::string::npos);
        net.layer<1>().slope = 1e300;  // infinite as a float
        CHECK_THROWS_AS(cy::export_onnx(net, path), cy::ValueError);
        cy::Sequential<cy::Dense<3, 4, double>, cy::LeakyReLU> twin(cy::Seed{1});
        twin.layer<1>().slope = std::numeric_limits<double>::infinity();
        CHECK(thrown<cy::ValueError>([&] {
                  cy::export_onnx(twin, path);
              }).find("(inf) in its slope") != std::string::npos);
    }
    {  // a layer of the user's own whose node reads a tensor that does not exist
        cy::Sequential<cy::Dense<3, 4>, MisWired> net(cy::Seed{1});
        CHECK(thrown<cy::ValueError>([&] { cy::export_onnx(net, path); }) ==
              "chrysalis::export_onnx: net's layer 1 (MisWired) gives its Identity node the input "
              "'layer0.Gemm.typo', which no earlier node, initializer or graph input produced; "
              "nothing was written");
    }
    CHECK(dir.entries().empty());
}

TEST_CASE("export_onnx: a failed export keeps the previous file intact", "[onnx][errors]") {
    TempDir dir;
    const std::string path = dir.file("student.onnx");
    cy::Sequential<cy::Dense<3, 4>, cy::Tanh, cy::Dense<4, 2>> net(cy::Seed{1});
    cy::export_onnx(net, path);
    const std::string good = read_bytes(path);
    REQUIRE(!good.empty());
    net.layer<0>().weights()(0, 0) = cy::test::nan_f;
    CHECK_THROWS_AS(cy::export_onnx(net, path), cy::ValueError);
    CHECK(read_bytes(path) == good);
    CHECK(dir.entries() == std::vector<std::string>{"student.onnx"});  // no temporary left

    // Through a symbolic link the target is replaced and the link kept, as by save.
    net.layer<0>().weights()(0, 0) = 0.5f;
    std::filesystem::create_symlink("student.onnx", dir.file("link.onnx"));
    cy::export_onnx(net, dir.file("link.onnx"));
    CHECK(std::filesystem::is_symlink(dir.file("link.onnx")));
    CHECK(read_bytes(path) == cy::detail::encode_onnx(net));
    CHECK(read_bytes(path) != good);
}

TEST_CASE("export_onnx: a path that cannot be written is an IoError naming it", "[onnx][errors]") {
    TempDir dir;
    cy::Sequential<cy::Dense<3, 2>> net(cy::Seed{1});
    std::filesystem::create_directory(dir.file("models"));
    const std::string directory = dir.file("models");
    CHECK(thrown<cy::IoError>([&] { cy::export_onnx(net, directory); }) ==
          "chrysalis::export_onnx: cannot write '" + directory +
              "': it is a directory; only a regular file is replaced");
    const std::string missing = dir.file("no/such/dir/net.onnx");
    CHECK(thrown<cy::IoError>([&] {
              cy::export_onnx(net, missing);
          }).starts_with("chrysalis::export_onnx: cannot write '" + missing + "'"));
    CHECK(thrown<cy::IoError>([&] {
              cy::export_onnx(net, "/dev/null");
          }).find("only a regular file is replaced") != std::string::npos);
}

// ------------------------------------------------------------------------------- Int8Network --

namespace {

// The activations an Int8Network computes exactly as a float32 ONNX runtime does (a max, a
// select with one product, nothing) sit between the Dense layers, so the requantized inputs of
// every layer are the same integers in both and the logits the same bits. Tanh, Sigmoid and GELU
// are each runtime's own functions, which differ by ulps; after the last Dense layer they reach
// the logits without being quantized again.
using Int8Exact = cy::Sequential<cy::Dense<6, 10>, cy::ReLU, cy::Dense<10, 8>, cy::LeakyReLU,
                                 cy::Dropout<30>, cy::Dense<8, 7>, cy::Identity, cy::Dense<7, 5>>;
using Int8Every = cy::Sequential<cy::Dense<6, 10>, cy::ReLU, cy::Dense<10, 8>, cy::LeakyReLU,
                                 cy::Identity, cy::Dense<8, 5>, cy::Tanh, cy::Sigmoid, cy::GELU>;

/// Sets every bias of a Dense layer of `net` to values in [-3, 3]. A network fresh from its
/// constructor has zero biases, and float(acc)·s + 0 is the same number whether a compiler fuses
/// the epilogue's product and sum into one FMA or not (the sum is exact): the exact comparisons
/// below would not see a fused epilogue.
template <class Net>
void nonzero_biases(Net& net, std::uint64_t seed) {
    cy::detail::for_each_layer(net, [&](std::size_t i, auto& layer) {
        if constexpr (requires { layer.bias(); })
            layer.bias() = samples<float>(int(layer.bias().size()), 1, seed + i);
    });
}

/// The Int8Exact network, its LeakyReLU slope 0.2 (not the default, which would hide a mix-up),
/// quantized with dynamic scales or with static ones calibrated on 40 other samples.
cy::Int8Network int8_exact(std::uint64_t seed, bool calibrated) {
    Int8Exact net(cy::Seed{seed});
    net.layer<3>().slope = 0.2;
    nonzero_biases(net, seed);
    return calibrated ? cy::quantize(net, samples<float>(6, 40, seed + 100)) : cy::quantize(net);
}

/// Debian's dataset-fashion-mnist (CHRYSALIS_FASHION_MNIST_DIR points elsewhere): the path of
/// `stem` there, gzipped or not, or empty.
std::string fashion_mnist(const std::string& stem) {
    const char* env = std::getenv("CHRYSALIS_FASHION_MNIST_DIR");
    const std::filesystem::path dir = env != nullptr ? env : "/usr/share/datasets/fashion-mnist";
    for (const std::string suffix : {".gz", ""})
        if (std::filesystem::exists(dir / (stem + suffix))) return (dir / (stem + suffix)).string();
    return {};
}

}  // namespace

TEST_CASE(
    "export_onnx(Int8Network): dynamic and static scales give chrysalis's int8 logits bit for "
    "bit, through onnx's checker and strict shape inference",
    "[onnx][scripts][int8]") {
    TempDir dir;
    for (const bool calibrated : {false, true}) {
        cy::Int8Network net = int8_exact(21, calibrated);
        REQUIRE(net.calibrated() == calibrated);
        const Run r = check_int8_with_python(net, dir, calibrated ? "static" : "dynamic",
                                             "--rtol 0 --same-argmax");
        INFO(r.output);
        CHECK(r.status == 0);
        CHECK(r.output.find("max relative error 0 ") != std::string::npos);
    }
}

TEST_CASE(
    "export_onnx(Int8Network): every Int8Activation maps itself, within the float32 tolerance "
    "of its runtime functions",
    "[onnx][scripts][int8]") {
    // check_onnx.py's float32 default, 1e-5 of the largest logit: the only differences are
    // those of tanh, the logistic and erf (an ulp or two each, see the script) on exact inputs.
    TempDir dir;
    Int8Every fp32(cy::Seed{22});
    fp32.layer<3>().slope = 0.2;
    nonzero_biases(fp32, 22);
    for (const bool calibrated : {false, true}) {
        cy::Int8Network net =
            calibrated ? cy::quantize(fp32, samples<float>(6, 40, 5)) : cy::quantize(fp32);
        const Run r = check_int8_with_python(net, dir, calibrated ? "every_static" : "every",
                                             "--same-argmax");
        INFO(r.output);
        CHECK(r.status == 0);
    }
}

TEST_CASE(
    "export_onnx(Int8Network): non-finite hidden values are quantized as chrysalis does "
    "(scale 1, infinity to 63, NaN to 0)",
    "[onnx][scripts][int8]") {
    // Layer 0's weight scales of 1e37 make its outputs overflow to +inf and -inf in samples 0–2
    // (|acc| ≥ 127·63 = 8001 times 1e37·s_x, s_x ≥ 2/63 there). After Identity a sample then has
    // ±inf and no NaN, where a max of |x| is inf, not the NaN whose scale is 1; after GELU,
    // GELU(-inf) = -inf·0 = NaN too. Layer 1 must use the scale 1 for those samples, clamp ±inf
    // to ±63 and quantize NaN to 0: a graph without the ReduceSumSquare(x·0) term gives the
    // scale inf and 0 or NaN quotients, and one without the IsNaN guard casts NaN to int8,
    // which check_onnx.py refuses.
    const long ld0 = cy::detail::int8_padded(2), ld1 = cy::detail::int8_padded(3);
    for (const cy::Int8Activation& activation :
         {cy::Int8Activation(cy::Identity{}), cy::Int8Activation(cy::GELU{})}) {
        cy::Int8Dense first;
        first.input_size = 2;
        first.output_size = 3;
        first.weights.assign(std::size_t(3 * ld0), std::int8_t(0));
        const std::int8_t w[3][2] = {{127, 127}, {-127, -127}, {1, -1}};
        for (long o = 0; o < 3; ++o)
            for (long k = 0; k < 2; ++k) first.weights[std::size_t(o * ld0 + k)] = w[o][k];
        first.weight_scales = {1e37f, 1e37f, 0.01f};
        first.bias = cy::Vector<float>::Zero(3);
        first.activations = {activation};
        cy::Int8Dense second;
        second.input_size = 3;
        second.output_size = 2;
        second.weights.assign(std::size_t(2 * ld1), std::int8_t(0));
        for (long k = 0; k < 3; ++k) {
            second.weights[std::size_t(k)] = std::int8_t(10 + k);
            second.weights[std::size_t(ld1 + k)] = std::int8_t(-20 + 7 * k);
        }
        second.weight_scales = {0.5f, 0.25f};
        second.bias = cy::Vector<float>::Constant(2, 1.0f);
        cy::Int8Network net({first, second});

        cy::Matrix<float> x(2, 4);
        x << 1, 3, -2, 0.5f,  //
            2, 1, -1, -0.5f;
        const cy::Matrix<float> logits = net.predict_logits(x);
        REQUIRE(logits.allFinite());
        REQUIRE(net.last_input_scales(1)[0] == 1.0f);  // layer 1 saw ±inf (and NaN) in sample 0
        TempDir dir;
        cy::export_onnx(net, dir.file("overflow.onnx"));
        const Run r = check_files(dir, "overflow", x, logits, "--rtol 0");
        INFO(r.output);
        CHECK(r.status == 0);
    }
}

TEST_CASE("export_onnx(Int8Network): check_onnx.py fails a model whose logits are another's",
          "[onnx][scripts][int8]") {
    TempDir dir;
    cy::Int8Network net = int8_exact(21, false), other = int8_exact(23, false);
    const Run r = check_int8_with_python(net, dir, "control", "--rtol 0", &other);
    INFO(r.output);
    CHECK(r.status == 1);
    CHECK(r.output.find("exceeds the tolerance") != std::string::npos);
}

TEST_CASE(
    "export_onnx(Int8Network): a student trained on Fashion-MNIST classifies the 10,000 test "
    "images identically in chrysalis and in the ONNX graph",
    "[onnx][scripts][int8][fashion-mnist]") {
    const std::string train_images = fashion_mnist("train-images-idx3-ubyte"),
                      train_labels = fashion_mnist("train-labels-idx1-ubyte"),
                      test_images = fashion_mnist("t10k-images-idx3-ubyte"),
                      test_labels = fashion_mnist("t10k-labels-idx1-ubyte");
    if (train_images.empty() || train_labels.empty() || test_images.empty() ||
        test_labels.empty()) {
        WARN("Fashion-MNIST not found (apt-get install dataset-fashion-mnist); skipped");
        return;
    }
    // One epoch on 4,000 images: a student of about 71% accuracy, whose logits have near-ties on
    // some of the test images — where a single differing bit could change the class.
    const cy::Dataset<float> train = cy::load_idx<float>(train_images, train_labels);
    const cy::Dataset<float> test = cy::load_idx<float>(test_images, test_labels);
    std::vector<Eigen::Index> first(4000);
    for (std::size_t i = 0; i < first.size(); ++i) first[i] = Eigen::Index(i);
    cy::Sequential<cy::Dense<784, 32>, cy::ReLU, cy::Dense<32, 10>> student(cy::Seed{3});
    cy::Sgd sgd{.lr = 0.05, .momentum = 0.9};
    cy::fit(student, cy::subset(train, first), cy::CrossEntropy{}, sgd,
            {.epochs = 1, .batch_size = 32, .seed = cy::Seed{4}, .progress = false, .threads = 1});

    TempDir dir;
    for (const bool calibrated : {false, true}) {
        cy::Int8Network net = calibrated
                                  ? cy::quantize(student, train.features.middleCols(4000, 1000))
                                  : cy::quantize(student);
        const std::string stem = calibrated ? "fashion_static" : "fashion_dynamic";
        const cy::Matrix<float> logits = net.predict_logits(test.features);
        Eigen::Index right = 0;
        for (Eigen::Index j = 0; j < logits.cols(); ++j) {
            Eigen::Index label;
            logits.col(j).maxCoeff(&label);
            right += label == test.labels[std::size_t(j)];
        }
        INFO("int8 accuracy " << double(right) / double(logits.cols()));
        CHECK(right > 6000);  // trained (chance is 1,000): the classes are real decisions
        cy::export_onnx(net, dir.file(stem + ".onnx"));
        const Run r = check_files(dir, stem, test.features, logits, "--rtol 0 --same-argmax");
        INFO(r.output);
        CHECK(r.status == 0);
        CHECK(r.output.find("the same class for 10000 of 10000") != std::string::npos);
    }
}

TEST_CASE(
    "export_onnx(Int8Network): the weights are an INT8 [In, Out] initializer read by "
    "MatMulInteger, and QuantizeLinear is not used",
    "[onnx][int8]") {
    cy::Int8Network net = int8_exact(24, true);
    const std::string bytes = cy::detail::encode_onnx(net);  // the fields below view into it
    const std::vector<Field> graph = parsed(one(parsed(bytes), 7).bytes);
    CHECK(one(graph, 10).bytes ==
          "Int8Network (static activation scales): Int8Dense<6,10> ReLU Int8Dense<10,8> "
          "LeakyReLU Int8Dense<8,7> Identity Int8Dense<7,5>");
    std::vector<std::string> ops;
    for (const Field& node : all(graph, 1)) ops.emplace_back(one(parsed(node.bytes), 4).bytes);
    CHECK(std::count(ops.begin(), ops.end(), "MatMulInteger") == 4);
    CHECK(std::count(ops.begin(), ops.end(), "QuantizeLinear") == 0);
    CHECK(std::count(ops.begin(), ops.end(), "ReduceMax") == 0);  // static: constant scales
    bool found = false;
    for (const Field& init : all(graph, 5)) {
        const std::vector<Field> t = parsed(init.bytes);
        if (one(t, 8).bytes != "layer1.weight_t") continue;
        found = true;
        CHECK(one(t, 2).varint == 3);  // INT8
        std::vector<std::uint64_t> dims;
        for (const Field& d : all(t, 1)) dims.push_back(d.varint);
        CHECK(dims == std::vector<std::uint64_t>{10, 8});  // [In, Out]
        // Row-major [In, Out] is the column-major Out × In matrix's storage.
        const Eigen::Matrix<std::int8_t, Eigen::Dynamic, Eigen::Dynamic> w = net.int8_weights(1);
        CHECK(one(t, 9).bytes == bytes_of(w));
    }
    CHECK(found);
    // The static scale of layer 1 is its own initializer, the calibrated float.
    const float s = *net.input_scale(1);
    bool scale_found = false;
    for (const Field& init : all(graph, 5)) {
        const std::vector<Field> t = parsed(init.bytes);
        if (one(t, 8).bytes != "layer1.input_scale") continue;
        scale_found = true;
        CHECK(one(t, 9).bytes == std::string_view(reinterpret_cast<const char*>(&s), 4));
    }
    CHECK(scale_found);
}

TEST_CASE(
    "export_onnx(Int8Network): no network with a NaN LeakyReLU slope reaches it, and an "
    "unwritable path is refused by name, the previous file kept",
    "[onnx][int8][errors]") {
    TempDir dir;
    const std::string path = dir.file("student.onnx");
    cy::Int8Network good = int8_exact(25, false);
    cy::export_onnx(good, path);
    const std::string before = read_bytes(path);
    REQUIRE(before == cy::detail::encode_onnx(good));

    std::vector<cy::Int8Dense> layers;
    for (std::size_t i = 0; i < good.dense_count(); ++i) layers.push_back(good.layer(i));
    REQUIRE(std::holds_alternative<cy::LeakyReLU>(layers[1].activations.at(0)));
    std::get<cy::LeakyReLU>(layers[1].activations[0]).slope =
        std::numeric_limits<double>::quiet_NaN();
    // The constructor refuses it, so export_onnx's own check of the slope (kept as a second line)
    // is never reached by an int8 network.
    CHECK_THAT(thrown<cy::ValueError>([&] { cy::Int8Network bad(std::move(layers)); }),
               Catch::Contains("chrysalis::Int8Network: layer 1: activation 0 (LeakyReLU) has "
                               "slope nan"));
    CHECK(read_bytes(path) == before);
    CHECK(dir.entries() == std::vector<std::string>{"student.onnx"});

    std::filesystem::create_directory(dir.file("models"));
    CHECK(thrown<cy::IoError>([&] { cy::export_onnx(good, dir.file("models")); }) ==
          "chrysalis::export_onnx: cannot write '" + dir.file("models") +
              "': it is a directory; only a regular file is replaced");
}
