// The compile-time counterpart of benchmarks/compile_baseline.cpp written with chrysalis: the
// same work and nothing more — a 784-512-512-10 ReLU MLP trained in float with mini-batch SGD
// (no momentum) on softmax cross-entropy, shuffled batches of 128, two epochs, loss and accuracy
// printed per epoch, on random data. benchmarks/compile_time.sh compiles it beside the baseline
// and examples/minimal.cpp (which also loads IDX files, uses Adam, distils a student, predicts
// and saves), so that what chrysalis itself costs and what those features cost read apart.
// Compiled, never run by the test suite.
#include <chrysalis/chrysalis.hpp>

#include <cstdio>
#include <random>
#include <vector>

namespace cy = chrysalis;

using Mlp = cy::Sequential<cy::Dense<784, 512>, cy::ReLU, cy::Dense<512, 512>, cy::ReLU,
                           cy::Dense<512, 10>>;

int main() {
    std::mt19937 g(1);
    const int samples = 2048;
    cy::Dataset<float> data{(cy::Matrix<float>::Random(784, samples).array() + 1.0f) / 2.0f,
                            std::vector<int>(samples), 10};
    std::uniform_int_distribution<int> classes(0, 9);
    for (int& l : data.labels) l = classes(g);

    Mlp net{cy::Seed{1}};
    cy::Sgd opt{.lr = 0.05};
    for (const cy::EpochReport& r : cy::fit(net, data, cy::CrossEntropy{}, opt, {.epochs = 2}))
        std::printf("epoch %d: loss %.4f, accuracy %.2f%%\n", r.epoch + 1, r.loss,
                    100.0 * r.accuracy);
}
