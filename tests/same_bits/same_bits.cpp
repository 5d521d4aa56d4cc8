// One small training run whose every weight is printed as a hash, for the same_bits test
// (same_bits.cmake): built by g++ and clang++ at several optimisation levels, with and without
// -ffp-contract=off, it shows which builds give the same bits (docs/getting-started.md, "The
// same bits from another build"). Fits a 20-64-64-5 network with Adam (Dense, ReLU, Tanh,
// cross-entropy), then distils a 20-16-5 student from its logits at T = 3, on seeded random data.
#include <chrysalis/chrysalis.hpp>

#include <cstdint>
#include <cstdio>
#include <cstring>
#include <vector>

namespace cy = chrysalis;

namespace {

using Teacher =
    cy::Sequential<cy::Dense<20, 64>, cy::ReLU, cy::Dense<64, 64>, cy::Tanh, cy::Dense<64, 5>>;
using Student = cy::Sequential<cy::Dense<20, 16>, cy::ReLU, cy::Dense<16, 5>>;

// FNV-1a over the bit patterns of every parameter, in visit_parameters order.
template <class Net>
std::uint64_t weights_hash(Net& net) {
    std::uint64_t hash = 14695981039346656037ull;
    net.visit_parameters([&](auto& p, auto&) {
        for (Eigen::Index i = 0; i < p.size(); ++i) {
            std::uint32_t bits = 0;
            const float value = p.data()[i];
            std::memcpy(&bits, &value, sizeof bits);
            for (int byte = 0; byte < 4; ++byte) {
                hash ^= (bits >> (8 * byte)) & 0xffu;
                hash *= 1099511628211ull;
            }
        }
    });
    return hash;
}

}  // namespace

int main() {
    cy::set_quiet(true);
    cy::Rng rng{cy::Seed{7}};
    cy::Matrix<float> x(20, 512);
    std::vector<int> y(512);
    for (Eigen::Index j = 0; j < x.cols(); ++j) {
        for (Eigen::Index i = 0; i < x.rows(); ++i) x(i, j) = float(rng.uniform(-1, 1));
        y[std::size_t(j)] = int(rng.below(5));
    }
    const cy::Dataset<float> data{x, y, 5};

    Teacher teacher{cy::Seed{3}};
    cy::Adam teacher_opt{.lr = 1e-2};
    (void)cy::fit(teacher, data, cy::CrossEntropy{}, teacher_opt, {.epochs = 3, .batch_size = 32});
    const cy::Matrix<float> logits = cy::predict_logits(teacher, data);

    Student student{cy::Seed{4}};
    cy::Adam student_opt{.lr = 1e-2};
    (void)cy::distill(student, data, logits, cy::Distillation{.temperature = 3, .alpha = 0.7},
                      student_opt, {.epochs = 2, .batch_size = 32});

#ifdef __FMA__
    std::printf("fma 1\n");
#else
    std::printf("fma 0\n");
#endif
    std::printf("teacher %016llx\n", static_cast<unsigned long long>(weights_hash(teacher)));
    std::printf("student %016llx\n", static_cast<unsigned long long>(weights_hash(student)));
}
