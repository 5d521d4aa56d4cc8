// A new optimizer in one file, touching no library header: RMSProp (Tieleman & Hinton 2012,
// PyTorch's form). It names itself and saves and restores its one accumulator through the
// StateWriter / StateReader that checkpoints give it, so checkpoints hold it without a change
// of format. The tests below show it training with chrysalis::fit, resuming bit-identically from
// a checkpoint, and being refused by name for a checkpoint of another optimizer.
// docs/extending.md walks through it.

#include <catch2/catch.hpp>

#include <chrysalis/chrysalis.hpp>

#include <unistd.h>

#include <cmath>
#include <cstddef>
#include <filesystem>
#include <string>
#include <type_traits>
#include <vector>

/// RMSProp's settings; RMSProp checks them.
struct RMSPropSettings {
    double lr = 0.01;     ///< η, > 0
    double alpha = 0.99;  ///< α, the accumulator's decay, in [0, 1)
    double eps = 1e-8;    ///< ε, > 0
};

/// RMSProp for networks of scalar type Scalar, per parameter θ with gradient g:
///   v ← α·v + (1 − α)·g²,   θ ← θ − η·g/(√v + ε),
/// with v (one accumulator per parameter block) starting at 0.
template <class Scalar = float>
class RMSProp {
  public:
    /// Throws chrysalis::ValueError naming the setting unless lr > 0, 0 ≤ alpha < 1, eps > 0.
    explicit RMSProp(RMSPropSettings settings = {}) : settings_(settings) {
        const auto require = [](bool ok, const char* what, double value) {
            if (!ok)
                throw chrysalis::ValueError(std::string("RMSProp: ") + what + ", got " +
                                            std::to_string(value));
        };
        require(std::isfinite(settings.lr) && settings.lr > 0, "lr must be > 0", settings.lr);
        require(settings.alpha >= 0 && settings.alpha < 1, "alpha must be in [0, 1)",
                settings.alpha);
        require(std::isfinite(settings.eps) && settings.eps > 0, "eps must be > 0", settings.eps);
    }

    // BlockwiseOptimizer: fit calls begin_step once per batch, then update for every parameter
    // block as soon as backward has its gradient.
    void begin_step() noexcept {}
    template <class P, class G>
    void update(P& p, const G& g, std::size_t block, int /*epoch*/) {
        static_assert(std::is_same_v<typename P::Scalar, Scalar>,
                      "RMSProp<Scalar>: the network's scalar type must be Scalar");
        if (square_avg_.size() <= block) square_avg_.resize(block + 1);
        chrysalis::Matrix<Scalar>& v = square_avg_[block];
        if (v.size() == 0) v.setZero(p.rows(), p.cols());  // first update of this block
        using A = Eigen::Array<Scalar, Eigen::Dynamic, 1>;
        Eigen::Map<A> theta(p.data(), p.size());
        const Eigen::Map<const A> grad(g.data(), g.size());
        Eigen::Map<A> acc(v.data(), v.size());
        const Scalar alpha = Scalar(settings_.alpha), lr = Scalar(settings_.lr),
                     eps = Scalar(settings_.eps);
        acc = alpha * acc + (Scalar(1) - alpha) * grad.square();
        theta -= lr * grad / (acc.sqrt() + eps);
    }

    // Optimizer: a name for checkpoints, and its state as named records. The settings are not
    // state: a resumed run takes them from the RMSProp object it is given.
    static std::string name() { return "RMSProp"; }
    void save_state(chrysalis::StateWriter<Scalar>& out) const {
        out.blocks("square_avg", square_avg_);
    }
    void load_state(chrysalis::StateReader<Scalar>& in) { square_avg_ = in.blocks("square_avg"); }

    [[nodiscard]] const std::vector<chrysalis::Matrix<Scalar>>& square_avg() const noexcept {
        return square_avg_;
    }

  private:
    RMSPropSettings settings_;
    std::vector<chrysalis::Matrix<Scalar>> square_avg_;  // v, per parameter block
};

// ---------------------------------------------------------------------------------------------
// Tests

namespace {

namespace cy = chrysalis;

using Net = cy::Sequential<cy::Dense<16, 32>, cy::ReLU, cy::Dropout<20>, cy::Dense<32, 4>>;
static_assert(cy::Optimizer<RMSProp<float>, Net>);
static_assert(cy::BlockwiseOptimizer<RMSProp<double>, double>);

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
    return {.epochs = epochs, .batch_size = 24, .seed = cy::Seed{5}, .progress = false};
}

template <class N>
std::string parameter_bytes(N& net) {
    std::string bytes;
    net.visit_parameters([&](auto& p, auto&) {
        using S = typename std::remove_cvref_t<decltype(p)>::Scalar;
        bytes.append(reinterpret_cast<const char*>(p.data()), std::size_t(p.size()) * sizeof(S));
    });
    return bytes;
}

struct Scratch {
    std::filesystem::path dir = std::filesystem::temp_directory_path() /
                                ("chrysalis-ext-rmsprop-" + std::to_string(::getpid()));
    Scratch() { std::filesystem::create_directories(dir); }
    ~Scratch() {
        std::error_code ignored;
        std::filesystem::remove_all(dir, ignored);
    }
    [[nodiscard]] std::string file(const std::string& name) const { return (dir / name).string(); }
};

}  // namespace

TEST_CASE("RMSProp: one step matches the formula", "[extension][optimizer]") {
    cy::Matrix<double> p(2, 1), g(2, 1);
    p << 1.0, -2.0;
    g << 0.5, -0.25;
    RMSProp<double> rmsprop({.lr = 0.1, .alpha = 0.9, .eps = 1e-8});
    rmsprop.begin_step();
    rmsprop.update(p, g, 0, 0);
    // v = 0.1·g², so θ − 0.1·g/(√(0.1)·|g| + ε) = θ ∓ 0.1/√0.1 (up to ε, 1e-8 relative).
    const double shift = 0.1 / std::sqrt(0.1);
    CHECK(p(0) == Approx(1.0 - shift).epsilon(1e-7));
    CHECK(p(1) == Approx(-2.0 + shift).epsilon(1e-7));
    CHECK(rmsprop.square_avg()[0](1) == Approx(0.1 * 0.0625).epsilon(1e-12));
}

TEST_CASE("RMSProp: settings are checked, naming them", "[extension][optimizer]") {
    CHECK_THROWS_WITH(RMSProp<>({.lr = 0}), Catch::Matchers::Contains("lr must be > 0"));
    CHECK_THROWS_WITH(RMSProp<>({.alpha = 1}), Catch::Matchers::Contains("alpha"));
    CHECK_THROWS_WITH(RMSProp<>({.eps = -1}), Catch::Matchers::Contains("eps"));
}

TEST_CASE("RMSProp: trains a network with chrysalis::fit", "[extension][optimizer]") {
    Net net(cy::Seed{2});
    RMSProp<> rmsprop({.lr = 0.003});
    const auto reports =
        cy::fit(net, quarters(240, cy::Seed{1}), cy::CrossEntropy{}, rmsprop, options(6));
    REQUIRE(reports.size() == 6);
    // From ≈ ln 4 ≈ 1.39 for near-uniform outputs: an easy problem must go far below that, and
    // accuracy far above chance (0.25).
    CHECK(reports.back().loss < 0.5 * reports.front().loss);
    CHECK(reports.back().accuracy > 0.9);
}

TEST_CASE("RMSProp: a run resumed from its checkpoint is bit-identical to an uninterrupted one",
          "[extension][optimizer][checkpoint]") {
    Scratch scratch;
    const std::string path = scratch.file("run.ckpt");
    const auto data = quarters(100, cy::Seed{1});
    const RMSPropSettings settings{.lr = 0.003};

    Net straight(cy::Seed{2});
    RMSProp<> straight_rmsprop(settings);
    cy::fit(straight, data, cy::CrossEntropy{}, straight_rmsprop, options(4));

    {  // two epochs and a checkpoint, then everything is destroyed
        Net first(cy::Seed{2});
        RMSProp<> rmsprop(settings);
        cy::fit(first, data, cy::CrossEntropy{}, rmsprop, options(2),
                cy::Checkpointing{.path = path});
    }
    Net resumed(cy::Seed{8});
    RMSProp<> resumed_rmsprop(settings);
    const auto o = options(4);
    CHECK(cy::fit(resumed, data, cy::CrossEntropy{}, resumed_rmsprop, o,
                  cy::Checkpointing{.resume_from = path})
              .size() == 2);
    CHECK(parameter_bytes(resumed) == parameter_bytes(straight));
    REQUIRE(resumed_rmsprop.square_avg().size() == straight_rmsprop.square_avg().size());
    for (std::size_t k = 0; k < straight_rmsprop.square_avg().size(); ++k)
        CHECK(resumed_rmsprop.square_avg()[k] == straight_rmsprop.square_avg()[k]);

    // The control: the same checkpoint with the accumulator dropped resumes to other weights,
    // so the equality above depends on the restored state.
    Net control(cy::Seed{8});
    RMSProp<> loaded(settings);
    const cy::Checkpoint info = cy::load_checkpoint(control, loaded, path);
    REQUIRE(loaded.square_avg().size() == 4);
    cy::save_checkpoint(control, RMSProp<>(settings), info, scratch.file("fresh.ckpt"));
    RMSProp<> control_rmsprop(settings);
    CHECK(cy::fit(control, data, cy::CrossEntropy{}, control_rmsprop, o,
                  cy::Checkpointing{.resume_from = scratch.file("fresh.ckpt")})
              .size() == 2);
    CHECK(parameter_bytes(control) != parameter_bytes(straight));
}

TEST_CASE("RMSProp: a checkpoint of another optimizer is refused by name, changing nothing",
          "[extension][optimizer][checkpoint]") {
    Scratch scratch;
    const std::string path = scratch.file("adam.ckpt");
    Net net(cy::Seed{2});
    cy::Adam adam{.lr = 0.01};
    cy::fit(net, quarters(48, cy::Seed{1}), cy::CrossEntropy{}, adam, options(1));
    cy::save_checkpoint(net, adam, cy::Checkpoint{1}, path);

    Net other(cy::Seed{3});
    RMSProp<> rmsprop;
    const std::string before = parameter_bytes(other);
    CHECK_THROWS_WITH(cy::load_checkpoint(other, rmsprop, path),
                      "chrysalis::load_checkpoint: '" + path +
                          "' holds the state of a Adam optimizer but the optimizer is RMSProp; "
                          "resume with the optimizer type it was saved with");
    CHECK(parameter_bytes(other) == before);
    CHECK(rmsprop.square_avg().empty());
}

TEST_CASE("RMSProp: distils a student with chrysalis::distill", "[extension][optimizer]") {
    const auto train = quarters(240, cy::Seed{1}), test = quarters(240, cy::Seed{7});
    Net teacher(cy::Seed{2});
    RMSProp<> teacher_rmsprop({.lr = 0.003});
    cy::fit(teacher, train, cy::CrossEntropy{}, teacher_rmsprop, options(6));
    const cy::Matrix<float> logits = cy::predict_logits(teacher, train);
    Net student(cy::Seed{3});
    RMSProp<> rmsprop({.lr = 0.003});
    const auto reports =
        cy::distill(student, train, logits, cy::Distillation{.temperature = 2.0, .alpha = 0.9},
                    rmsprop, options(6));
    REQUIRE(reports.size() == 6);
    CHECK(reports.back().loss < reports.front().loss);
    CHECK(cy::accuracy(student, test) > 0.9);  // chance is 0.25
}
