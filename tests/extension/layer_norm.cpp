// A new layer in one file, touching no library header: LayerNorm over the features of each
// sample (column), with a trainable gain and bias and one runtime hyperparameter (ε). It names
// itself for the file formats, so save/load and checkpoints hold it, and the tests below show it
// training with chrysalis::fit, round-tripping through save/load, resuming bit-identically from
// a checkpoint, and passing the gradient checker in double. docs/extending.md walks through it.

#include <catch2/catch.hpp>

#include <chrysalis/chrysalis.hpp>

#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <span>
#include <string>
#include <type_traits>
#include <vector>

/// LayerNorm<Features, Scalar> (Ba, Kiros & Hinton 2016), per column x of Features values:
///   μ = mean(x),  σ² = mean((x − μ)²),  s = 1/√(σ² + ε),  x̂ = (x − μ)·s,  y = γ ⊙ x̂ + β.
/// Backward, for dy = ∂L/∂y and g = γ ⊙ dy:
///   ∂L/∂γ = Σ_columns dy ⊙ x̂,   ∂L/∂β = Σ_columns dy,
///   ∂L/∂x = s·(g − mean(g) − x̂ ⊙ mean(g ⊙ x̂)).
/// μ and s are recomputed from x in backward (x is given to it), so the layer keeps no per-batch
/// state and allocates nothing after construction.
template <int Features, class Scalar = float>
class LayerNorm {
    static_assert(Features > 1, "LayerNorm<Features>: normalising needs at least two features");

  public:
    // Layer: widths and scalar type (Sequential checks them against its neighbours).
    using scalar_type = Scalar;
    static constexpr int input_size = Features;
    static constexpr int output_size = Features;
    static constexpr std::size_t parameter_count = 2 * std::size_t(Features);

    LayerNorm()
        : gamma_(chrysalis::Vector<Scalar>::Ones(Features)),
          beta_(chrysalis::Vector<Scalar>::Zero(Features)),
          dgamma_(chrysalis::Vector<Scalar>::Zero(Features)),
          dbeta_(chrysalis::Vector<Scalar>::Zero(Features)),
          xhat_(Features),
          g_(Features) {}

    // SerializableLayer: the name fixes what the type fixes; ε is a runtime hyperparameter.
    static std::string name() {
        return "LayerNorm<" + std::to_string(Features) + "," +
               (std::is_same_v<Scalar, float> ? "float" : "double") + ">";
    }
    [[nodiscard]] std::vector<double> hyperparameters() const { return {eps_}; }
    void set_hyperparameters(std::span<const double> values) {
        if (values.size() != 1)
            throw chrysalis::ValueError(
                "LayerNorm::set_hyperparameters: expected 1 value (eps), got " +
                std::to_string(values.size()));
        set_eps(values[0]);
    }
    /// Throws chrysalis::ValueError unless eps is finite and > 0.
    void set_eps(double eps) {
        if (!(std::isfinite(eps) && eps > 0))
            throw chrysalis::ValueError("LayerNorm: eps must be a finite number > 0, got " +
                                        std::to_string(eps));
        eps_ = eps;
    }
    [[nodiscard]] double eps() const noexcept { return eps_; }

    // ParameterizedLayer: γ = 1, β = 0 (the identity on normalised features; rng is not needed).
    void initialize(chrysalis::Rng& /*rng*/) {
        gamma_.setOnes();
        beta_.setZero();
    }
    template <class F>
    void visit_parameters(F&& f) {
        f(gamma_, dgamma_);
        f(beta_, dbeta_);
    }
    chrysalis::Vector<Scalar>& gain() noexcept { return gamma_; }
    chrysalis::Vector<Scalar>& bias() noexcept { return beta_; }

    void forward(chrysalis::ConstMatrixRef<Scalar> x, chrysalis::MatrixRef<Scalar> y,
                 chrysalis::Mode = chrysalis::Mode::inference) {
        for (Eigen::Index b = 0; b < x.cols(); ++b) {
            normalise(x.col(b));
            y.col(b) = (gamma_.array() * xhat_.array() + beta_.array()).matrix();
        }
    }

    void backward(chrysalis::ConstMatrixRef<Scalar> x, chrysalis::ConstMatrixRef<Scalar> /*y*/,
                  chrysalis::ConstMatrixRef<Scalar> dy, chrysalis::MatrixRef<Scalar> dx) {
        dgamma_.setZero();
        dbeta_.setZero();
        for (Eigen::Index b = 0; b < x.cols(); ++b) {
            const Scalar s = normalise(x.col(b));
            dgamma_.array() += dy.col(b).array() * xhat_.array();
            dbeta_ += dy.col(b);
            if (dx.size() == 0) continue;  // the first layer: no input gradient wanted
            g_ = gamma_.cwiseProduct(dy.col(b));
            const Scalar mean_g = g_.mean();
            const Scalar mean_gx = (g_.array() * xhat_.array()).mean();
            dx.col(b) = (s * (g_.array() - mean_g - xhat_.array() * mean_gx)).matrix();
        }
    }

  private:
    /// x̂ of one column into xhat_; returns s = 1/√(σ² + ε).
    template <class Column>
    Scalar normalise(const Column& x) {
        const Scalar mu = x.mean();
        const Scalar s = Scalar(1) / std::sqrt((x.array() - mu).square().mean() + Scalar(eps_));
        xhat_ = ((x.array() - mu) * s).matrix();
        return s;
    }

    chrysalis::Vector<Scalar> gamma_, beta_, dgamma_, dbeta_;
    chrysalis::Vector<Scalar> xhat_, g_;  // one column's x̂ and γ ⊙ dy
    double eps_ = 1e-5;                   // PyTorch's default
};

static_assert(chrysalis::ParameterizedLayer<LayerNorm<8>, float>);
static_assert(chrysalis::SerializableLayer<LayerNorm<8>, float>);
static_assert(chrysalis::SerializableLayer<LayerNorm<8, double>, double>);

// ---------------------------------------------------------------------------------------------
// Tests

namespace {

namespace cy = chrysalis;

using Net = cy::Sequential<cy::Dense<16, 24>, LayerNorm<24>, cy::ReLU, cy::Dense<24, 4>>;

/// 4 classes of 16 features: a class's quarter of the features is bright, plus noise.
cy::Dataset<float> quarters(Eigen::Index n, cy::Seed seed) {
    cy::Rng rng(seed);
    cy::Dataset<float> data;
    data.classes = 4;
    data.features.resize(16, n);
    for (Eigen::Index j = 0; j < n; ++j) {
        const int label = int(rng.below(4));
        data.labels.push_back(label);
        for (int f = 0; f < 16; ++f)
            data.features(f, j) = float((f / 4 == label ? 0.7 : 0.1) + 0.3 * rng.uniform());
    }
    return data;
}

cy::TrainOptions<float> options(int epochs) {
    return {.epochs = epochs, .batch_size = 16, .seed = cy::Seed{5}, .progress = false};
}

/// Every parameter as raw bytes: equal bytes mean bit-identical parameters.
template <class N>
std::string parameter_bytes(N& net) {
    std::string bytes;
    net.visit_parameters([&](auto& p, auto&) {
        using S = typename std::remove_cvref_t<decltype(p)>::Scalar;
        bytes.append(reinterpret_cast<const char*>(p.data()), std::size_t(p.size()) * sizeof(S));
    });
    return bytes;
}

/// A file name in a fresh directory of its own, removed with it.
struct Scratch {
    std::filesystem::path dir = std::filesystem::temp_directory_path() /
                                ("chrysalis-ext-layer-norm-" + std::to_string(::getpid()));
    Scratch() { std::filesystem::create_directories(dir); }
    ~Scratch() {
        std::error_code ignored;
        std::filesystem::remove_all(dir, ignored);
    }
    [[nodiscard]] std::string file(const std::string& name) const { return (dir / name).string(); }
};

}  // namespace

TEST_CASE("LayerNorm: backward matches finite differences in double", "[extension][layer]") {
    LayerNorm<6, double> layer;
    cy::Rng rng(cy::Seed{3});
    for (Eigen::Index i = 0; i < 6; ++i) {  // away from γ = 1, β = 0, so both gradients count
        layer.gain()(i) = rng.uniform(0.5, 1.5);
        layer.bias()(i) = rng.uniform(-0.5, 0.5);
    }
    cy::Matrix<double> x(6, 5);
    for (Eigen::Index i = 0; i < x.size(); ++i) x.data()[i] = rng.uniform(-2, 2);
    const cy::GradcheckReport report = cy::gradcheck_layer(layer, x, 6);
    INFO("worst at " << report.where << ": analytic " << report.analytic << ", numeric "
                     << report.numeric);
    // The five-point difference at h = 1e-4 has truncation error O(h⁴) ≈ 1e-16 and rounding
    // error ≈ 1e-16/h ≈ 1e-12 relative on O(1) values: 1e-7 leaves room and still fails for any
    // wrong term (a missing mean or x̂ term gives errors of order 1).
    CHECK(report.checked == 6 + 6 + 30);
    CHECK(report.passed(1e-7));
}

TEST_CASE("LayerNorm: a network with it trains with chrysalis::fit", "[extension][layer]") {
    const auto data = quarters(256, cy::Seed{1});
    Net net(cy::Seed{2});
    cy::Adam adam{.lr = 0.01};
    const auto reports = cy::fit(net, data, cy::CrossEntropy{}, adam, options(6));
    REQUIRE(reports.size() == 6);
    // Initial loss ≈ ln 4 ≈ 1.39 for near-uniform outputs; six epochs of an easy problem must
    // bring it far below, and accuracy far above chance (0.25).
    CHECK(reports.back().loss < 0.5 * reports.front().loss);
    CHECK(reports.back().accuracy > 0.9);
}

TEST_CASE("LayerNorm: save and load round-trip its parameters and eps", "[extension][layer]") {
    Scratch scratch;
    Net net(cy::Seed{2});
    cy::Adam adam{.lr = 0.01};
    cy::fit(net, quarters(64, cy::Seed{1}), cy::CrossEntropy{}, adam, options(1));
    net.layer<1>().set_eps(1e-3);
    CHECK(cy::architecture(net) ==
          "Sequential<Dense<16,24,float>,LayerNorm<24,float>,ReLU,Dense<24,4,float>>");
    cy::save(net, scratch.file("model.bin"));

    Net back(cy::Seed{9});
    REQUIRE(parameter_bytes(back) != parameter_bytes(net));
    cy::load(back, scratch.file("model.bin"));
    CHECK(parameter_bytes(back) == parameter_bytes(net));
    CHECK(back.layer<1>().eps() == 1e-3);

    // Rejected values throw ValueError (load turns that into FormatError naming the file).
    CHECK_THROWS_AS(net.layer<1>().set_hyperparameters(std::vector<double>{-1.0}), cy::ValueError);
    CHECK_THROWS_AS(net.layer<1>().set_hyperparameters(std::vector<double>{1.0, 2.0}),
                    cy::ValueError);
}

TEST_CASE("LayerNorm: a run resumed from its checkpoint is bit-identical to an uninterrupted one",
          "[extension][layer][checkpoint]") {
    Scratch scratch;
    const std::string path = scratch.file("run.ckpt");
    const auto data = quarters(100, cy::Seed{1});

    Net straight(cy::Seed{2});
    cy::Adam straight_adam{.lr = 0.01};
    cy::fit(straight, data, cy::CrossEntropy{}, straight_adam, options(4));

    {
        Net first(cy::Seed{2});
        cy::Adam adam{.lr = 0.01};
        cy::fit(first, data, cy::CrossEntropy{}, adam, options(2), cy::Checkpointing{.path = path});
    }
    Net resumed(cy::Seed{8});  // another start: the checkpoint must replace all of it
    cy::Adam resumed_adam{.lr = 0.01};
    const auto o = options(4);
    CHECK(cy::fit(resumed, data, cy::CrossEntropy{}, resumed_adam, o,
                  cy::Checkpointing{.resume_from = path})
              .size() == 2);
    CHECK(parameter_bytes(resumed) == parameter_bytes(straight));

    // The control: the same checkpoint with the optimizer's state dropped (a fresh Adam) resumes
    // to other weights, so the equality above depends on the restored optimizer state.
    Net control(cy::Seed{8});
    cy::Adam loaded{.lr = 0.01};
    const cy::Checkpoint info = cy::load_checkpoint(control, loaded, path);
    cy::save_checkpoint(control, cy::Adam{.lr = 0.01}, info, scratch.file("fresh.ckpt"));
    cy::Adam control_adam{.lr = 0.01};
    CHECK(cy::fit(control, data, cy::CrossEntropy{}, control_adam, o,
                  cy::Checkpointing{.resume_from = scratch.file("fresh.ckpt")})
              .size() == 2);
    CHECK(parameter_bytes(control) != parameter_bytes(straight));
}

TEST_CASE("LayerNorm: a student with it distils from a teacher with chrysalis::distill",
          "[extension][layer]") {
    using Student = cy::Sequential<cy::Dense<16, 8>, LayerNorm<8>, cy::ReLU, cy::Dense<8, 4>>;
    const auto train = quarters(256, cy::Seed{1}), test = quarters(256, cy::Seed{9});
    Net teacher(cy::Seed{2});
    cy::Adam teacher_adam{.lr = 0.01};
    cy::fit(teacher, train, cy::CrossEntropy{}, teacher_adam, options(6));
    const cy::Matrix<float> logits = cy::predict_logits(teacher, train);
    Student student(cy::Seed{3});
    cy::Adam adam{.lr = 0.01};
    const auto reports =
        cy::distill(student, train, logits, cy::Distillation{.temperature = 2.0, .alpha = 0.9},
                    adam, options(6));
    REQUIRE(reports.size() == 6);
    // The distillation objective falls, and the student learns the easy problem (chance 0.25).
    CHECK(reports.back().loss < reports.front().loss);
    CHECK(cy::accuracy(student, test) > 0.9);
}
