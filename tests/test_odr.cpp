// One definition per program: two files of one executable use chrysalis's softmax, fused
// distillation loss and a training step, one compiled for plain x86-64 (odr/odr_baseline.cpp)
// and one with -march=native (odr/odr_native.cpp). chrysalis puts its code in a namespace named
// after the instruction set (chrysalis/isa.hpp), so each file must run its own kernels — the
// baseline file must not end up in the native file's AVX code — and each must match a double
// reference computed here.

#include <catch2/catch.hpp>

#include "odr/odr_unit.hpp"

#include <algorithm>
#include <cmath>
#include <vector>

using namespace odr_test;

namespace {

using Col = std::vector<double>;

/// Softmax of column j of the shared logits at temperature t, in long double.
std::vector<long double> softmax_ref(int j, int salt, long double t) {
    std::vector<long double> p(classes);
    long double m = -1e300L, s = 0;
    for (int i = 0; i < classes; ++i) m = std::max<long double>(m, input_value(i, j, salt));
    for (int i = 0; i < classes; ++i)
        s += p[std::size_t(i)] = std::exp((input_value(i, j, salt) - m) / t);
    for (auto& v : p) v /= s;
    return p;
}

struct KdRef {
    double loss = 0;
    std::vector<double> gradient;
};

/// α·T²·(1/B)·Σ KL(p_t^T ‖ p_s^T) + (1−α)·(1/B)·Σ CE(y, p_s^1) and its gradient
/// α·T·(p_s^T − p_t^T)/B + (1−α)·(p_s^1 − onehot(y))/B (docs/distillation.md).
KdRef kd_ref(double t, double alpha) {
    KdRef r;
    r.gradient.assign(std::size_t(classes * samples), 0.0);
    const auto y = labels(samples, classes);
    long double kl = 0, ce = 0;
    for (int j = 0; j < samples; ++j) {
        const auto ps = softmax_ref(j, 1, t), pt = softmax_ref(j, 2, t), p1 = softmax_ref(j, 1, 1);
        for (int i = 0; i < classes; ++i) {
            const std::size_t k = std::size_t(i);
            if (pt[k] > 0) kl += pt[k] * (std::log(pt[k]) - std::log(ps[k]));
            const double onehot = i == y[std::size_t(j)] ? 1.0 : 0.0;
            r.gradient[std::size_t(j * classes + i)] = double(
                alpha * t * (ps[k] - pt[k]) / samples + (1 - alpha) * (p1[k] - onehot) / samples);
        }
        ce -= std::log(p1[std::size_t(y[std::size_t(j)])]);
    }
    r.loss = double(alpha * t * t * kl / samples + (1 - alpha) * ce / samples);
    return r;
}

/// One SGD step on cross-entropy for Dense(20→32)·ReLU·Dense(32→5), from the unit's own initial
/// weights (W1, b1, W2, b2 in visit order, column-major), in double.
std::vector<double> step_ref(const std::vector<double>& w) {
    const int I = step_in, H = step_hidden, O = step_out, B = step_batch;
    const double* w1 = w.data();
    const double* b1 = w1 + H * I;
    const double* w2 = b1 + H;
    const double* b2 = w2 + O * H;
    std::vector<double> h(std::size_t(H * B)), dz(std::size_t(O * B)), dh(std::size_t(H * B));
    const auto y = labels(B, O);
    for (int b = 0; b < B; ++b) {
        for (int r = 0; r < H; ++r) {
            double s = b1[r];
            for (int k = 0; k < I; ++k) s += w1[r + k * H] * input_value(k, b, 3);
            h[std::size_t(r + b * H)] = std::max(0.0, s);
        }
        std::vector<long double> z(static_cast<std::size_t>(O), 0.0L);
        long double m = -1e300L, sum = 0;
        for (int r = 0; r < O; ++r) {
            long double s = b2[r];
            for (int k = 0; k < H; ++k) s += w2[r + k * O] * h[std::size_t(k + b * H)];
            z[std::size_t(r)] = s;
            m = std::max(m, s);
        }
        for (auto& v : z) sum += v = std::exp(v - m);
        for (int r = 0; r < O; ++r)
            dz[std::size_t(r + b * O)] =
                double((z[std::size_t(r)] / sum - (r == y[std::size_t(b)] ? 1 : 0)) / B);
        for (int r = 0; r < H; ++r) {
            double s = 0;
            for (int k = 0; k < O; ++k) s += w2[k + r * O] * dz[std::size_t(k + b * O)];
            dh[std::size_t(r + b * H)] = h[std::size_t(r + b * H)] > 0 ? s : 0.0;
        }
    }
    std::vector<double> out = w;
    double* nw1 = out.data();
    double* nb1 = nw1 + H * I;
    double* nw2 = nb1 + H;
    double* nb2 = nw2 + O * H;
    for (int r = 0; r < H; ++r) {
        double gb = 0;
        for (int b = 0; b < B; ++b) gb += dh[std::size_t(r + b * H)];
        nb1[r] -= step_lr * gb;
        for (int k = 0; k < I; ++k) {
            double g = 0;
            for (int b = 0; b < B; ++b) g += dh[std::size_t(r + b * H)] * input_value(k, b, 3);
            nw1[r + k * H] -= step_lr * g;
        }
    }
    for (int r = 0; r < O; ++r) {
        double gb = 0;
        for (int b = 0; b < B; ++b) gb += dz[std::size_t(r + b * O)];
        nb2[r] -= step_lr * gb;
        for (int k = 0; k < H; ++k) {
            double g = 0;
            for (int b = 0; b < B; ++b) g += dz[std::size_t(r + b * O)] * h[std::size_t(k + b * H)];
            nw2[r + k * O] -= step_lr * g;
        }
    }
    return out;
}

void check_unit(const UnitResults& u) {
    INFO("unit compiled for " << u.compiled_isa);
    // Each kernel records the namespace it was compiled in as it runs.
    CHECK(u.softmax_isa == u.compiled_isa);
    CHECK(u.loss_isa == u.compiled_isa);
    CHECK(u.step_isa == u.compiled_isa);

    // Softmax: the documented bound, u·(12 + 3|y| + 2n)·p with y = (z − max z)/T (docs/softmax.md).
    const double unit = 0x1p-24;
    for (int j = 0; j < samples; ++j) {
        const auto ref = softmax_ref(j, 1, 2);
        long double m = -1e300L;
        for (int i = 0; i < classes; ++i) m = std::max<long double>(m, input_value(i, j, 1));
        for (int i = 0; i < classes; ++i) {
            const double p = double(ref[std::size_t(i)]);
            const double y = double((input_value(i, j, 1) - m) / 2);
            CHECK(std::abs(u.probabilities[std::size_t(j * classes + i)] - p) <=
                  unit * (12 + 3 * std::abs(y) + 2 * classes) * p);
        }
    }

    // The fused loss: float sums of 70 terms of magnitude ≤ T² = 9, each within a few units of
    // roundoff of its exact value; 1e-5 relative (about 170 u) bounds that with room.
    const KdRef kd = kd_ref(3.0, 0.7);
    CHECK(std::abs(u.kd_loss - kd.loss) <= 1e-5 * (1 + std::abs(kd.loss)));
    REQUIRE(u.kd_gradient.size() == kd.gradient.size());
    for (std::size_t k = 0; k < kd.gradient.size(); ++k)
        CHECK(std::abs(u.kd_gradient[k] - kd.gradient[k]) <= 1e-6);  // |g| ≤ (αT + 1 − α)/B ≈ 0.34

    // The step: three float products of depth ≤ 32 (error ≤ γ_32 ≈ 32u ≈ 2e-6 of Σ|a||b|, which is
    // ≤ about 10 here) feed a step of lr = 0.1: 1e-5 absolute on each weight holds that.
    const auto ref = step_ref(u.weights_before);
    REQUIRE(u.weights_after.size() == ref.size());
    double worst = 0;
    for (std::size_t k = 0; k < ref.size(); ++k)
        worst = std::max(worst, std::abs(u.weights_after[k] - ref[k]));
    CHECK(worst <= 1e-5);
    // … and the step changed the weights by much more than that.
    double moved = 0;
    for (std::size_t k = 0; k < ref.size(); ++k)
        moved = std::max(moved, std::abs(u.weights_after[k] - u.weights_before[k]));
    CHECK(moved > 1e-3);
}

}  // namespace

TEST_CASE("a file built without -march runs its own kernels beside a -march=native file", "[isa]") {
    const UnitResults base = run_baseline_unit();
    const UnitResults native = run_native_unit();
#if defined(__x86_64__)
    // odr_baseline.cpp is compiled with -march=x86-64: SSE2 is the widest it may use.
    CHECK(base.compiled_isa == "isa_sse2");
#endif
    check_unit(base);
    check_unit(native);
    // What must be one per program is one: a save in each unit at once never picks the same
    // temporary name, and set_quiet in one unit silences the other.
    CHECK(base.temporaries_counter == native.temporaries_counter);
    CHECK(base.quiet_switch == native.quiet_switch);
    CHECK(base.thread_setting == native.thread_setting);  // this thread's, seen from both
    {
        // set_threads here (a file built with -march=native) holds in the baseline unit.
        chrysalis::ThreadsScope three(3);
        CHECK(run_baseline_unit().threads_seen == 3);
    }
    if (base.compiled_isa == native.compiled_isa)
        WARN("this CPU's native instruction set is the baseline: both units ran the same kernels");
}
