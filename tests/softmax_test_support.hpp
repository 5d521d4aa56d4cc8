#pragma once
// Shared by the softmax tests: run either kernel on a matrix, and a long-double reference.

#include <chrysalis/softmax.hpp>

#include <algorithm>
#include <cmath>
#include <string>

namespace chrysalis::test {

/// Which implementation a test exercises: the public functions (the SIMD kernel where compiled
/// in) or the portable scalar fallback, called directly.
enum class Kernel { public_api, scalar };

inline std::string to_string(Kernel k) {
    return k == Kernel::public_api ? "public" : "scalar";
}

template <class S>
using Mat = Eigen::Matrix<S, Eigen::Dynamic, Eigen::Dynamic>;

template <detail::SoftmaxOutput Output, class S>
Mat<S> run_softmax(Kernel kernel, const Mat<S>& x, double temperature) {
    if (kernel == Kernel::public_api) {
        return Output == detail::SoftmaxOutput::probabilities ? softmax(x, temperature)
                                                              : log_softmax(x, temperature);
    }
    Mat<S> out(x.rows(), x.cols());
    detail::softmax_columns_scalar<Output>(
        detail::ColumnBlock<S>{x.data(), x.rows(), out.data(), out.rows(), x.rows(), x.cols()},
        detail::inverse_temperature<S>(temperature));
    return out;
}

template <class S>
Mat<S> probabilities(Kernel k, const Mat<S>& x, double t) {
    return run_softmax<detail::SoftmaxOutput::probabilities, S>(k, x, t);
}
template <class S>
Mat<S> log_probabilities(Kernel k, const Mat<S>& x, double t) {
    return run_softmax<detail::SoftmaxOutput::log_probabilities, S>(k, x, t);
}

/// One column's softmax in long double (64-bit mantissa on x86), from the same inputs the
/// kernel sees: y_i = (z_i − max z)/T, log S, and the outputs.
struct LongDoubleColumn {
    Eigen::Matrix<long double, Eigen::Dynamic, 1> y, p, log_p;
    long double log_s = 0;
};

template <class S>
LongDoubleColumn long_double_softmax(const Eigen::Matrix<S, Eigen::Dynamic, 1>& z, double t) {
    LongDoubleColumn r;
    const long double m = static_cast<long double>(z.maxCoeff());
    r.y = (z.template cast<long double>().array() - m) / static_cast<long double>(t);
    long double s = 0;
    for (Eigen::Index i = 0; i < r.y.size(); ++i) s += std::exp(r.y(i));
    r.log_s = std::log(s);
    r.p = (r.y.array().exp() / s).matrix();
    r.log_p = (r.y.array() - r.log_s).matrix();
    return r;
}

}  // namespace chrysalis::test
