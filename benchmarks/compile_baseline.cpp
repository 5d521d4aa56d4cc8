// The compile-time baseline of benchmarks/compile_time.sh: what a user would write by hand with
// Eigen alone instead of using chrysalis — an MLP (784-512-512-10 ReLU, like minimal.cpp's
// teacher) trained in float with mini-batch SGD on softmax cross-entropy: forward, loss,
// backward, update, shuffled batches, accuracy. It is compiled, never run by the test suite;
// the data are random so that it needs no files.
#include <Eigen/Dense>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <numeric>
#include <random>
#include <vector>

using Matrix = Eigen::MatrixXf;
using Vector = Eigen::VectorXf;

struct Layer {
    Matrix w;  // out × in
    Vector b;  // out
    Layer(int in, int out, std::mt19937& g) : w(out, in), b(Vector::Zero(out)) {
        std::normal_distribution<float> n(0.0f, std::sqrt(2.0f / float(in)));  // He
        for (Eigen::Index i = 0; i < w.size(); ++i) w.data()[i] = n(g);
    }
};

struct Mlp {
    Layer l1, l2, l3;
    Matrix h1, h2, z;  // activations of the last forward
    explicit Mlp(std::mt19937& g) : l1(784, 512, g), l2(512, 512, g), l3(512, 10, g) {}

    const Matrix& forward(const Matrix& x) {
        h1 = ((l1.w * x).colwise() + l1.b).cwiseMax(0.0f);
        h2 = ((l2.w * h1).colwise() + l2.b).cwiseMax(0.0f);
        z = (l3.w * h2).colwise() + l3.b;
        return z;
    }

    /// One SGD step on a batch (columns of x); returns the mean loss and counts the hits.
    float train_step(const Matrix& x, const std::vector<int>& y, float lr, int& correct) {
        const Eigen::Index n = x.cols();
        forward(x);
        // softmax cross-entropy, its gradient dz = (softmax(z) − onehot(y)) / n
        Matrix p = (z.rowwise() - z.colwise().maxCoeff()).array().exp().matrix();
        p.array().rowwise() /= p.colwise().sum().array();
        float loss = 0;
        for (Eigen::Index j = 0; j < n; ++j) {
            Eigen::Index arg = 0;
            z.col(j).maxCoeff(&arg);
            correct += arg == y[std::size_t(j)];
            loss -= std::log(std::max(p(y[std::size_t(j)], j), 1e-30f));
            p(y[std::size_t(j)], j) -= 1;
        }
        const Matrix dz = p / float(n);
        const Matrix d2 =
            (l3.w.transpose() * dz).cwiseProduct((h2.array() > 0).cast<float>().matrix());
        const Matrix d1 =
            (l2.w.transpose() * d2).cwiseProduct((h1.array() > 0).cast<float>().matrix());
        l3.w.noalias() -= lr * dz * h2.transpose();
        l3.b -= lr * dz.rowwise().sum();
        l2.w.noalias() -= lr * d2 * h1.transpose();
        l2.b -= lr * d2.rowwise().sum();
        l1.w.noalias() -= lr * d1 * x.transpose();
        l1.b -= lr * d1.rowwise().sum();
        return loss / float(n);
    }
};

int main() {
    std::mt19937 g(1);
    const int samples = 2048, batch = 128, epochs = 2;
    const Matrix data = (Matrix::Random(784, samples).array() + 1.0f) / 2.0f;
    std::vector<int> labels(samples);
    std::uniform_int_distribution<int> classes(0, 9);
    for (int& l : labels) l = classes(g);

    Mlp net(g);
    std::vector<int> order(samples);
    std::iota(order.begin(), order.end(), 0);
    Matrix x(784, batch);
    std::vector<int> y(batch);
    for (int epoch = 0; epoch < epochs; ++epoch) {
        std::shuffle(order.begin(), order.end(), g);
        double loss = 0;
        int correct = 0;
        for (int start = 0; start + batch <= samples; start += batch) {
            for (int k = 0; k < batch; ++k) {
                x.col(k) = data.col(order[std::size_t(start + k)]);
                y[std::size_t(k)] = labels[std::size_t(order[std::size_t(start + k)])];
            }
            loss += net.train_step(x, y, 0.05f, correct);
        }
        std::printf("epoch %d: loss %.4f, accuracy %.2f%%\n", epoch + 1, loss / (samples / batch),
                    100.0 * correct / samples);
    }
}
