#pragma once
// chrysalis/detail/data_checks.hpp — the checks fit, distill and the evaluation functions make on
// their data before using it: finite features, shapes that fit the network, labels in range.

#include "chrysalis/isa.hpp"  // first: see its note on GCC bug 105593

#include <Eigen/Core>
#include <xsimd/xsimd.hpp>

#include <cmath>
#include <concepts>
#include <cstddef>
#include <span>
#include <string_view>
#include <type_traits>
#include <utility>

#include "chrysalis/config.hpp"
#include "chrysalis/dataset.hpp"
#include "chrysalis/errors.hpp"
#include "chrysalis/layer_traits.hpp"

namespace chrysalis::inline CHRYSALIS_ISA_NAMESPACE {

namespace detail {

/// Whether every element of m is finite, in one vectorised pass: 0·x is 0 for a finite x and NaN
/// for NaN or ±∞, and a sum with a NaN term is NaN. (Eigen's allFinite does not vectorise.)
/// Matrices and blocks with contiguous columns (or rows) are read one register at a time, with a
/// fraction of the compile time of Eigen's reduction (which other expressions still take), into
/// four sums: with one, each addition waited for the one before (a 1200 × 128 float layer
/// output, checked after every training step's forward, took 11.0–11.2 µs on the Zen 5 VM of
/// docs/performance.md; 3.2–3.3 µs with four, network_bench's finite_check).
template <class Derived>
[[nodiscard]] bool all_finite(const Eigen::MatrixBase<Derived>& m) {
    using S = typename Derived::Scalar;
    if constexpr ((Derived::Flags & Eigen::DirectAccessBit) &&
                  Derived::InnerStrideAtCompileTime == 1) {
        using B = xsimd::batch<S>;
        constexpr auto L = Eigen::Index(B::size);
        const Derived& d = m.derived();
        B s0(S(0)), s1(S(0)), s2(S(0)), s3(S(0));
        S rest = 0;
        const Eigen::Index n = d.innerSize();
        for (Eigen::Index j = 0; j < d.outerSize(); ++j) {
            const S* line = d.data() + j * d.outerStride();
            Eigen::Index i = 0;
            for (; i + 4 * L <= n; i += 4 * L) {
                s0 += B::load_unaligned(line + i) * S(0);
                s1 += B::load_unaligned(line + i + L) * S(0);
                s2 += B::load_unaligned(line + i + 2 * L) * S(0);
                s3 += B::load_unaligned(line + i + 3 * L) * S(0);
            }
            for (; i + L <= n; i += L) s0 += B::load_unaligned(line + i) * S(0);
            for (; i < n; ++i) rest += line[i] * S(0);
        }
        return std::isfinite(xsimd::hadd((s0 + s1) + (s2 + s3)) + rest);
    } else {
        return std::isfinite((m.array() * S(0)).sum());
    }
}

/// Throws ValueError naming `what`, the sample (column, counted from `first`: m may be a batch
/// of a larger set) and the row of the first non-finite value of `m`; `name` says what m is
/// ("the data"), `rows` what its rows are ("feature"), `why` ends the message.
/// O(rows·N) once per call: cheap against a forward pass, which is O(parameters·N).
template <class Derived>
void require_finite(const Eigen::MatrixBase<Derived>& m, const char* what, const char* name,
                    const char* rows, Eigen::Index first = 0,
                    const char* why = "(a NaN or infinite input has no meaningful output)") {
    if (all_finite(m)) return;
    for (Eigen::Index j = 0; j < m.cols(); ++j) {
        for (Eigen::Index i = 0; i < m.rows(); ++i) {
            if (!std::isfinite(m(i, j))) {
                throw ValueError(concat(what, ": ", rows, " ", i, " of sample ", first + j, " of ",
                                        name, " is ", m(i, j), "; expected a finite number ", why));
            }
        }
    }
}

/// A network whose layers can be reached one by one (Sequential): Net::depth layers,
/// net.template layer<I>() for each.
template <class Net>
concept layered_network = requires(const Net& net) {
    { std::remove_cvref_t<Net>::depth } -> std::convertible_to<std::size_t>;
    net.template layer<0>();
};

/// checked_hyperparameters (layer_traits.hpp) for every layer of net, each named
/// "<what>: layer <i> (<name>)<of>" — `of` says which network where a call takes two (" of the
/// teacher"). Throws ValueError for the first layer whose set_hyperparameters refuses what it
/// holds. O(layers); only layers with hyperparameters are probed.
template <layered_network Net>
void check_hyperparameters(const Net& net, std::string_view what, std::string_view refusal,
                           std::string_view of = {}) {
    [&]<std::size_t... I>(std::index_sequence<I...>) {
        (..., (void)checked_hyperparameters(
                  net.template layer<I>(),
                  [&] {
                      using L = std::remove_cvref_t<decltype(net.template layer<I>())>;
                      return concat(what, ": layer ", I, " (", layer_label<L>(), ")", of);
                  },
                  refusal));
    }
    (std::make_index_sequence<std::remove_cvref_t<Net>::depth>{});
}

/// Throws ValueError naming `what`, `name` (which network), the parameter block (in
/// visit_parameters order) and the row and column of the first NaN or infinite parameter of `net`:
/// a network holding one has no meaningful output, and a ReLU can hide it from the logits (max(x,
/// 0) of −∞ is a finite 0), so the logits alone cannot vouch for it. O(parameters) once per call,
/// against the forward's O(parameters·N). A network without visit_parameters is not checked here.
/// A layered network's hyperparameters are checked too (check_hyperparameters): a LeakyReLU slope
/// set to NaN through its public member after construction is refused, named "<what>: layer <i>
/// (LeakyReLU) of <name> holds hyperparameters that its set_hyperparameters refuses …", where it
/// would otherwise turn every negative pre-activation into NaN.
template <class Net>
void require_finite_parameters(Net& net, const char* what, const char* name = "the network") {
    if constexpr (requires { net.visit_parameters([](auto&, auto&) {}); }) {
        std::size_t block = 0;
        net.visit_parameters([&](auto& p, auto&) {
            if (!all_finite(p)) {
                for (Eigen::Index j = 0; j < p.cols(); ++j) {
                    for (Eigen::Index i = 0; i < p.rows(); ++i) {
                        if (!std::isfinite(p(i, j))) {
                            throw ValueError(concat(
                                what, ": parameter block ", block,
                                " (in visit_parameters order) of ", name, " holds ", p(i, j),
                                " at row ", i, ", column ", j,
                                "; expected finite parameters (a network with a NaN or infinite "
                                "parameter has no meaningful output)"));
                        }
                    }
                }
            }
            ++block;
        });
    }
    if constexpr (layered_network<Net>) {
        check_hyperparameters(net, what,
                              "its set_hyperparameters refuses (a network holding them has no "
                              "meaningful output)",
                              concat(" of ", name));
    }
}

/// The data fits the network: as many features as its input width, no more classes than
/// outputs, at least one sample (ShapeError); every feature finite (ValueError naming the
/// sample).
template <class Net, class Scalar>
void check_data(const Dataset<Scalar>& data, const char* what, const char* name = "the data") {
    if (data.feature_count() != Net::input_size) {
        throw ShapeError(concat(what, ": ", name, " has ", data.feature_count(),
                                " features per sample but the network's input width is ",
                                Net::input_size));
    }
    if (data.classes > Net::output_size) {
        throw ShapeError(concat(what, ": ", name, " has ", data.classes,
                                " classes but the network has ", Net::output_size, " outputs"));
    }
    if (data.size() == 0)
        throw ShapeError(concat(what, ": ", name, " is empty; expected at least one sample"));
    require_finite(data.features, what, name, "feature");
}

/// One label per sample (ShapeError), each in [0, Net::output_size) (ValueError naming the
/// sample of the data set) — checked before a label indexes anything.
template <class Net, class Scalar>
void check_labels(const Dataset<Scalar>& data, const char* what, const char* name = "the data") {
    if (Eigen::Index(data.labels.size()) != data.size()) {
        throw ShapeError(concat(what, ": ", name, " has ", data.labels.size(), " labels for ",
                                data.size(), " samples; expected one label per sample"));
    }
    for (std::size_t i = 0; i < data.labels.size(); ++i) {
        if (data.labels[i] < 0 || data.labels[i] >= Net::output_size) {
            throw ValueError(concat(what, ": label ", data.labels[i], " of sample ", i, " of ",
                                    name, " is outside [0, ", Net::output_size,
                                    "); expected a class of the network's ", Net::output_size,
                                    " outputs"));
        }
    }
}

/// Number of columns whose largest logit is at the label.
template <class L>
Eigen::Index count_correct(const L& logits, std::span<const int> labels) {
    Eigen::Index right = 0;
    for (Eigen::Index b = 0; b < logits.cols(); ++b) {
        Eigen::Index arg = 0;
        logits.col(b).maxCoeff(&arg);
        right += arg == labels[std::size_t(b)];
    }
    return right;
}

}  // namespace detail

}  // namespace chrysalis::inline CHRYSALIS_ISA_NAMESPACE
