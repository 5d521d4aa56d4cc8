// A program that sets Eigen's default storage order to row-major (EIGEN_DEFAULT_TO_ROW_MAJOR, a
// documented Eigen configuration some projects use) before including chrysalis: the library's
// own matrices stay column-major, one sample per column, and every result is what the default
// order gives — forwards, softmax, training, the layout of the files written and read.

#define EIGEN_DEFAULT_TO_ROW_MAJOR
#include <catch2/catch.hpp>

#include <chrysalis/data.hpp>
#include <chrysalis/fit.hpp>
#include <chrysalis/losses.hpp>
#include <chrysalis/optim.hpp>
#include <chrysalis/serialize.hpp>
#include <chrysalis/softmax.hpp>

#include <cmath>
#include <cstring>
#include <string>
#include <vector>

#include "temp_dir.hpp"

using namespace chrysalis;

namespace {
using Net = Sequential<Dense<5, 7>, ReLU, Dense<7, 3>>;

Dataset<float> three_classes(Eigen::Index n) {
    Dataset<float> d;
    d.features.resize(5, n);
    d.labels.resize(std::size_t(n));
    d.classes = 3;
    Rng rng(Seed{1});
    for (Eigen::Index j = 0; j < n; ++j) {
        d.labels[std::size_t(j)] = int(j % 3);
        for (Eigen::Index i = 0; i < 5; ++i)
            d.features(i, j) = float((i % 3 == j % 3 ? 0.7 : 0.1) + 0.2 * rng.uniform());
    }
    return d;
}
}  // namespace

TEST_CASE("chrysalis's matrices stay column-major under EIGEN_DEFAULT_TO_ROW_MAJOR", "[layout]") {
    STATIC_REQUIRE(Eigen::MatrixXf::IsRowMajor);  // the define took effect for the program
    STATIC_REQUIRE_FALSE(Matrix<float>::IsRowMajor);
    STATIC_REQUIRE_FALSE(Batch<5, double>::IsRowMajor);
    STATIC_REQUIRE_FALSE(Weights<3, 7>::IsRowMajor);
    STATIC_REQUIRE(Weights<1, 7>::IsRowMajor);  // a row vector, which Eigen stores by rows
}

TEST_CASE("forward, softmax and training give what the definitions give", "[layout]") {
    const Dataset<float> d = three_classes(90);
    Net net(Seed{2});
    const Matrix<float> z = net.forward(d.features);
    // The reference in the program's own (row-major) Eigen matrices: the arithmetic is the
    // same, so the only difference is the order of the sums (a few float roundings).
    const Eigen::MatrixXf h =
        ((net.layer<0>().weights() * d.features).colwise() + net.layer<0>().bias()).cwiseMax(0.0f);
    const Eigen::MatrixXf want = (net.layer<2>().weights() * h).colwise() + net.layer<2>().bias();
    CHECK((z - want).cwiseAbs().maxCoeff() <= 1e-5f * (1 + want.cwiseAbs().maxCoeff()));

    const Matrix<float> p = softmax(z, 2.0f);
    for (Eigen::Index j = 0; j < p.cols(); ++j) {
        const Eigen::ArrayXf e = (z.col(j).array() - z.col(j).maxCoeff()).unaryExpr([](float v) {
            return std::exp(v / 2.0f);
        });
        CHECK((p.col(j).array() - e / e.sum()).abs().maxCoeff() <= 1e-6f);
    }

    Sgd sgd{.lr = 0.1, .momentum = 0.9};
    const auto history =
        fit(net, d, CrossEntropy{}, sgd, {.epochs = 8, .batch_size = 15, .progress = false});
    CHECK(history.back().loss < 0.5 * history.front().loss);
    CHECK(history.back().accuracy > 0.9);
}

TEST_CASE("files hold and give back columns, whatever the program's default order", "[layout]") {
    const test::TempDir dir;
    Net net(Seed{3});
    export_npy(net, dir.file("npy"));
    // Layer 0's W (7 × 5) as .npy: fortran_order, so the data are the columns one after another.
    const std::string bytes = test::read_bytes(dir.file("npy/0_0.npy"));
    const auto& w = net.layer<0>().weights();
    std::vector<float> columns;
    for (Eigen::Index j = 0; j < w.cols(); ++j)
        for (Eigen::Index i = 0; i < w.rows(); ++i) columns.push_back(w(i, j));
    const std::size_t data_bytes = columns.size() * sizeof(float);
    REQUIRE(bytes.size() > data_bytes);
    CHECK(std::memcmp(bytes.data() + bytes.size() - data_bytes, columns.data(), data_bytes) == 0);

    // IDX images are read into one column per sample.
    Dataset<float> d = three_classes(12);
    d.features = (d.features * 255).array().round() / 255;  // what an IDX file can hold exactly
    save_idx(d, 1, 5, dir.file("x.idx"), dir.file("y.idx"));
    const Dataset<float> back = load_idx<float>(dir.file("x.idx"), dir.file("y.idx"));
    CHECK(back.features == d.features);
    CHECK(back.labels == d.labels);
}
