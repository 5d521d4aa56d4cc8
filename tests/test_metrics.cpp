// argmax and accuracy on a logits matrix: ties, NaN, shapes, labels of any integer range, and
// agreement with accuracy(network, data set).

#include <catch2/catch.hpp>

#include <chrysalis/chrysalis.hpp>

#include <array>
#include <cmath>
#include <limits>
#include <span>
#include <vector>

using namespace chrysalis;

TEMPLATE_TEST_CASE("argmax gives the row of each column's largest logit", "[metrics]", float,
                   double, int) {
    using S = TestType;
    Eigen::Matrix<S, Eigen::Dynamic, Eigen::Dynamic> z(3, 4);
    z << 1, 5, 0, 2,  //
        3, 5, 0, -1,  //
        2, 4, 0, 2;
    // Column 1 ties rows 0 and 1, column 2 ties all, column 3 ties rows 0 and 2: the lowest wins.
    const Eigen::VectorXi want = (Eigen::VectorXi(4) << 1, 0, 0, 0).finished();
    CHECK(argmax(z) == want);
    // Any expression: negating makes the smallest the largest.
    const Eigen::VectorXi negated = (Eigen::VectorXi(4) << 0, 2, 0, 1).finished();
    CHECK(argmax(-z) == negated);
    CHECK(argmax(z.leftCols(2)) == want.head(2));
    CHECK(argmax(z.leftCols(0)).size() == 0);
}

TEST_CASE("argmax orders infinities and refuses NaN", "[metrics]") {
    constexpr float inf = std::numeric_limits<float>::infinity();
    Matrix<float> z(3, 2);
    z << -inf, 1,   //
        -inf, inf,  //
        -inf, inf;
    // An all −∞ column has its maximum (−∞) at row 0; +∞ beats 1, the first +∞ wins.
    CHECK(argmax(z) == (Eigen::VectorXi(2) << 0, 1).finished());
    z(2, 1) = std::numeric_limits<float>::quiet_NaN();
    CHECK_THROWS_WITH(argmax(z),
                      "chrysalis::argmax: logit 2 of sample 1 is NaN; a column with a NaN has no "
                      "largest logit");
    CHECK_THROWS_AS(argmax(z), ValueError);
    CHECK_THROWS_WITH(argmax(Matrix<float>(0, 3)),
                      "chrysalis::argmax: the logits have 0 rows (classes) for 3 samples; "
                      "expected at least one class");
}

TEST_CASE("accuracy is the fraction of columns whose argmax is the label", "[metrics]") {
    Matrix<double> z(3, 4);
    z << 1, 5, 0, 2,  //
        3, 5, 0, -1,  //
        2, 4, 0, 2;
    // argmax = {1, 0, 0, 0}.
    CHECK(accuracy(z, std::vector<int>{1, 0, 0, 0}) == 1.0);
    CHECK(accuracy(z, std::vector<int>{1, 1, 0, 2}) == 0.5);  // ties count for the lowest class
    CHECK(accuracy(z, std::vector<int>{2, 1, 1, 2}) == 0.0);
    CHECK(accuracy(z, std::vector<long>{1, 0, 2, 2}) == 0.5);
    CHECK(accuracy(z, (Eigen::VectorXi(4) << 1, 0, 0, 1).finished()) == 0.75);
    CHECK(accuracy(z, std::array<int, 4>{0, 0, 0, 0}) == 0.75);
    const std::vector<int> labels{1, 2, 0, 0};
    CHECK(accuracy(z, std::span<const int>(labels)) == 0.75);
    CHECK(accuracy(z.cast<float>(), labels) == 0.75);  // an expression
}

TEST_CASE("accuracy checks its labels and logits", "[metrics][errors]") {
    Matrix<float> z = Matrix<float>::Zero(3, 2);
    CHECK_THROWS_WITH(accuracy(z, std::vector<int>{0}),
                      "chrysalis::accuracy: 1 labels for a batch of 2 samples (one label per "
                      "logits column)");
    CHECK_THROWS_AS(accuracy(z, std::vector<int>{0}), ShapeError);
    CHECK_THROWS_WITH(accuracy(z, std::vector<int>{0, 3}),
                      "chrysalis::accuracy: label 3 of sample 1 is outside [0, 3)");
    CHECK_THROWS_AS(accuracy(z, (Eigen::VectorXi(2) << -1, 0).finished()), ValueError);
    CHECK_THROWS_WITH(accuracy(Matrix<float>(3, 0), std::vector<int>{}),
                      "chrysalis::accuracy: no samples (the logits have 0 columns)");
    z(1, 0) = std::numeric_limits<float>::quiet_NaN();
    CHECK_THROWS_WITH(accuracy(z, std::vector<int>{0, 1}),
                      "chrysalis::accuracy: logit 1 of sample 0 is NaN; a column with a NaN has "
                      "no largest logit");
}

TEST_CASE("accuracy of logits agrees with accuracy of a network on a data set", "[metrics]") {
    // Both overloads in one program: the logits one is constrained to Eigen matrices, so a call
    // with a network and a data set is never ambiguous.
    using Net = Sequential<Dense<4, 6>, ReLU, Dense<6, 3>>;
    Net net(Seed{7});
    Rng rng(Seed{8});
    Dataset<float> data;
    data.classes = 3;
    data.features.resize(4, 50);
    for (Eigen::Index i = 0; i < data.features.size(); ++i)
        data.features.data()[i] = float(rng.uniform(-1, 1));
    for (int b = 0; b < 50; ++b) data.labels.push_back(b % 3);
    const Matrix<float> logits = predict_logits(net, data);
    const double from_logits = accuracy(logits, data.labels);
    CHECK(from_logits == accuracy(net, data));
    // And it is what argmax says.
    const Eigen::VectorXi predicted = argmax(logits);
    int right = 0;
    for (int b = 0; b < 50; ++b) right += predicted(b) == data.labels[std::size_t(b)];
    CHECK(from_logits == double(right) / 50);
}
