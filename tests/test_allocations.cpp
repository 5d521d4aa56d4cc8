// The output overloads of softmax / log_softmax allocate nothing. Two kinds of allocation are
// counted while a test's window is open: every global operator new (replaced below), and every
// Eigen heap allocation (Eigen calls malloc directly; with EIGEN_RUNTIME_NO_MALLOC it checks an
// "is malloc allowed" flag first, through eigen_assert, which this file routes to a counter).

#include <atomic>
#include <cstdlib>
#include <new>

namespace {
std::atomic<bool> counting{false};
std::atomic<long> allocations{0};
}  // namespace

inline void count_eigen_check(bool allowed) {
    if (!allowed) ++allocations;
}
#define EIGEN_RUNTIME_NO_MALLOC
// Eigen's only assertion that can fail in this file is the malloc check.
#define eigen_assert(x) count_eigen_check(static_cast<bool>(x))

#include <catch2/catch.hpp>

#include <chrysalis/chrysalis.hpp>

#include <vector>

namespace {

void* counted_alloc(std::size_t size) {
    if (counting.load()) ++allocations;
    if (void* p = std::malloc(size == 0 ? 1 : size)) return p;
    throw std::bad_alloc();
}

/// Counts the allocations made by f.
template <class F>
long allocations_in(F&& f) {
    allocations = 0;
    counting = true;
    Eigen::internal::set_is_malloc_allowed(false);
    f();
    Eigen::internal::set_is_malloc_allowed(true);
    counting = false;
    return allocations.load();
}
}  // namespace

void* operator new(std::size_t size) {
    return counted_alloc(size);
}
void* operator new[](std::size_t size) {
    return counted_alloc(size);
}
void operator delete(void* p) noexcept {
    std::free(p);
}
void operator delete[](void* p) noexcept {
    std::free(p);
}
void operator delete(void* p, std::size_t) noexcept {
    std::free(p);
}
void operator delete[](void* p, std::size_t) noexcept {
    std::free(p);
}

TEMPLATE_TEST_CASE("softmax into a caller's matrix does not allocate", "[softmax][allocation]",
                   float, double) {
    using S = TestType;
    using M = Eigen::Matrix<S, Eigen::Dynamic, Eigen::Dynamic>;
    for (Eigen::Index n : {10, 100, 5000}) {
        const M x = M::Random(n, 64);
        M out(n, 64);
        INFO(n << " classes");
        CHECK(allocations_in([&] { chrysalis::softmax(x, 2.0, out); }) == 0);
        CHECK(allocations_in([&] { chrysalis::log_softmax(x, 2.0, out); }) == 0);
        // An expression is evaluated into out itself, not into a temporary.
        CHECK(allocations_in([&] { chrysalis::softmax(x * S(3), 2.0, out); }) == 0);
        CHECK(allocations_in([&] { chrysalis::softmax(out, 2.0, out); }) == 0);
    }
    // The check above can fail: the returning form allocates its result.
    const M x = M::Random(10, 4);
    CHECK(allocations_in([&] {
              const M p = chrysalis::softmax(x, 2.0);
              (void)p;
          }) == 1);
}

TEST_CASE("a training step allocates nothing after the first batch", "[network][allocation]") {
    using Net = chrysalis::Sequential<chrysalis::Dense<784, 300>, chrysalis::ReLU,
                                      chrysalis::Dropout<50>, chrysalis::Dense<300, 100>,
                                      chrysalis::Tanh, chrysalis::Dense<100, 10>>;
    using M = Eigen::MatrixXf;
    Net net(chrysalis::Seed{1});
    const M x = M::Random(784, 128);
    std::vector<int> labels(128);
    for (std::size_t i = 0; i < labels.size(); ++i) labels[i] = int(i % 10);
    M grad128(10, 128), grad50(10, 50);
    auto step = [&](Eigen::Index batch) {
        M& grad = batch == 128 ? grad128 : grad50;
        const std::span<const int> yb(labels.data(), std::size_t(batch));
        chrysalis::CrossEntropy{}(net.forward(x.leftCols(batch), chrysalis::Mode::training), yb,
                                  grad);
        net.backward(grad, true);
        net.visit_parameters([](auto& p, auto& g) { p -= 0.01f * g; });
    };
    const long first = allocations_in([&] { step(128); });
    CHECK(first > 0);  // the buffers and GEMM workspaces: the counter sees them
    CHECK(allocations_in([&] { step(128); }) == 0);
    // A smaller last batch, then full batches again: nothing reallocates.
    CHECK(allocations_in([&] { step(50); }) == 0);
    CHECK(allocations_in([&] { step(128); }) == 0);
    // Single-sample inference (a matrix-vector product per layer) allocates nothing either.
    CHECK(allocations_in([&] { net.forward(x.leftCols(1)); }) == 0);
}

TEST_CASE("an input gradient keeps the path of the widest batch, allocating nothing",
          "[network][allocation]") {
    // Where operands are read in place, the 800 × 800 layer's input gradient is computed through
    // its transpose for batches of fewer than 192 columns (Gemm::transposes_input_gradient),
    // directly for wider ones. A Gemm chooses by the widest batch it has seen, so a smaller last
    // batch takes the full batches' path and workspace: after the widest batch, nothing
    // allocates, whichever path that batch took (on another CPU both take the direct one).
    using Net = chrysalis::Sequential<chrysalis::Dense<64, 800>, chrysalis::ReLU,
                                      chrysalis::Dense<800, 800>, chrysalis::ReLU,
                                      chrysalis::Dense<800, 10>>;
    using M = Eigen::MatrixXf;
    const M x = M::Random(64, 256);
    std::vector<int> labels(256);
    for (std::size_t i = 0; i < labels.size(); ++i) labels[i] = int(i % 10);
    for (Eigen::Index widest : {128, 256}) {
        Net net(chrysalis::Seed{3});
        M grad(10, 256);
        auto step = [&](Eigen::Index batch) {
            auto g = grad.leftCols(batch);
            const std::span<const int> yb(labels.data(), std::size_t(batch));
            chrysalis::CrossEntropy{}(net.forward(x.leftCols(batch)), yb, g);
            net.backward(g, true);
        };
        INFO("widest batch " << widest);
        CHECK(allocations_in([&] { step(widest); }) > 0);
        CHECK(allocations_in([&] { step(widest); }) == 0);
        CHECK(allocations_in([&] { step(100); }) == 0);  // the widest batch's path
        CHECK(allocations_in([&] { step(widest); }) == 0);
    }
}

TEMPLATE_TEST_CASE("every loss's into-preallocated form allocates nothing", "[losses][allocation]",
                   float, double) {
    using S = TestType;
    using M = Eigen::Matrix<S, Eigen::Dynamic, Eigen::Dynamic>;
    const M zs = M::Random(10, 64), zt = M::Random(10, 64);
    const M pt = chrysalis::softmax(zt, 3.0);
    std::vector<int> labels(64);
    for (std::size_t i = 0; i < labels.size(); ++i) labels[i] = int(i % 10);
    const Eigen::VectorXi eigen_labels = Eigen::Map<const Eigen::VectorXi>(labels.data(), 64);
    M grad(10, 64);
    // As the training loops call them: through Refs of the logits and of a gradient buffer.
    const chrysalis::ConstMatrixRef<S> s(zs), t(zt), p(pt);
    chrysalis::MatrixRef<S> g(grad);
    const std::span<const int> y(labels);
    CHECK(allocations_in([&] { chrysalis::CrossEntropy{}(s, y, g); }) == 0);
    CHECK(allocations_in([&] { chrysalis::Distillation{}(s, t, y, g); }) == 0);
    CHECK(allocations_in([&] { chrysalis::Distillation{}.soft_targets(s, p, y, g); }) == 0);
    CHECK(allocations_in([&] { chrysalis::SoftTargetCrossEntropy{}(s, p, y, g); }) == 0);
    CHECK(allocations_in([&] { chrysalis::LogitMatching{}(s, t, y, g); }) == 0);
    CHECK(allocations_in([&] { chrysalis::ReverseKL{}(s, t, y, g); }) == 0);
    // Int labels in an Eigen vector are read where they are, as a span's are.
    CHECK(allocations_in([&] { chrysalis::Distillation{}(zs, zt, eigen_labels, grad); }) == 0);
    // The check can fail: labels of another integer type are converted (one vector), and the
    // returning form allocates its gradient.
    const std::vector<long> long_labels(labels.begin(), labels.end());
    CHECK(allocations_in([&] { chrysalis::ReverseKL{}(s, t, long_labels, g); }) == 1);
    CHECK(allocations_in([&] {
              const auto r = chrysalis::LogitMatching{}(zs, zt);
              (void)r;
          }) == 1);
}
