#pragma once
// chrysalis/dataset.hpp — a labelled data set in memory (features × N, one label per sample),
// min-max scaling, seeded subsets and splits. No file I/O: the loaders are in chrysalis/data.hpp.

#include "chrysalis/isa.hpp"  // first: see its note on GCC bug 105593

#include <Eigen/Core>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <limits>
#include <numeric>
#include <span>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "chrysalis/config.hpp"
#include "chrysalis/errors.hpp"
#include "chrysalis/random.hpp"
#include "chrysalis/tensor.hpp"

namespace chrysalis::inline CHRYSALIS_ISA_NAMESPACE {

/// A labelled data set: features (feature_count × N, one column per sample) and N labels in
/// [0, classes).
template <class Scalar = float>
struct Dataset {
    static_assert(is_supported_scalar_v<Scalar>,
                  "chrysalis::Dataset: Scalar must be float or double");
    using scalar_type = Scalar;
    Matrix<Scalar> features;  ///< feature_count × N
    std::vector<int> labels;  ///< N labels in [0, classes)
    int classes = 0;

    /// N, the number of samples.
    [[nodiscard]] Eigen::Index size() const noexcept { return features.cols(); }
    /// The number of features per sample (rows).
    [[nodiscard]] Eigen::Index feature_count() const noexcept { return features.rows(); }

    /// Checks the invariants. Throws, naming what is wrong: ValueError for classes ≤ 0, a label
    /// outside [0, classes) (which sample, which value) or — unless allow_non_finite — a NaN or
    /// infinite feature (which sample, which feature); ShapeError for no features (0 rows: a
    /// sample without features carries nothing to learn from, and neither file format can hold
    /// it) or labels.size() ≠ N. N = 0 (no samples, with features) is a valid, empty set.
    void validate(bool allow_non_finite = false) const {
        constexpr const char* what = "chrysalis::Dataset::validate";
        if (classes <= 0)
            throw ValueError(detail::concat(what, ": classes must be >= 1, got ", classes));
        if (feature_count() == 0) {
            throw ShapeError(detail::concat(what, ": the features are 0x", size(),
                                            " (features x samples); expected at least 1 feature "
                                            "(row)"));
        }
        if (Eigen::Index(labels.size()) != size()) {
            throw ShapeError(
                detail::concat(what, ": ", labels.size(), " labels for ", size(),
                               " samples (feature columns); expected one label per sample"));
        }
        for (std::size_t i = 0; i < labels.size(); ++i) {
            if (labels[i] < 0 || labels[i] >= classes) {
                throw ValueError(detail::concat(what, ": label ", labels[i], " of sample ", i,
                                                " is outside [0, classes) = [0, ", classes, ")"));
            }
        }
        if (allow_non_finite || features.allFinite()) return;
        for (Eigen::Index j = 0; j < size(); ++j) {
            for (Eigen::Index i = 0; i < feature_count(); ++i) {
                if (!std::isfinite(features(i, j))) {
                    throw ValueError(detail::concat(
                        what, ": feature ", i, " of sample ", j, " is ", features(i, j),
                        "; expected a finite number (validate(true) accepts NaN and Inf)"));
                }
            }
        }
    }
};

/// Min-max scaling of every feature f into [0, 1] with the range of `reference` (the data itself
/// when null, so a test set can use its training set's range):
///   x'_f = (x_f − min_f) / (max_f − min_f),   and x'_f = 0 where max_f = min_f,
/// computed in double. Any finite range is handled, even one wider than the type can subtract
/// (−1e308 to 1e308 in double): the result is then in [0, 1] all the same. Values of `data`
/// outside the reference's range land outside [0, 1] (they are not clipped).
/// Returns: the (min, max) vectors used, one entry per feature.
/// Throws: ShapeError if the reference has no samples or a different feature count; ValueError
///   naming the feature and the sample if the reference or the data has a NaN or infinite
///   feature, or if a value of the data scales beyond the type's range with the reference's
///   (a narrow range, a value far outside it) — all checked before anything is changed.
template <class Scalar>
std::pair<Vector<Scalar>, Vector<Scalar>> scale_to_unit(
    Dataset<Scalar>& data, const Dataset<Scalar>* reference = nullptr) {
    constexpr const char* what = "chrysalis::scale_to_unit";
    const Dataset<Scalar>& ref = reference != nullptr ? *reference : data;
    const char* name = reference != nullptr ? "the reference" : "the data";
    if (ref.feature_count() != data.feature_count()) {
        throw ShapeError(detail::concat(what, ": the reference has ", ref.feature_count(),
                                        " features per sample but the data has ",
                                        data.feature_count(), "; expected the same"));
    }
    if (ref.size() == 0)
        throw ShapeError(detail::concat(what, ": ", name, " has no samples, hence no range"));
    // Both sets: a NaN in the data would otherwise come out as a NaN "in [0, 1]".
    const auto require_finite = [&](const Dataset<Scalar>& set, const char* set_name) {
        if (set.features.allFinite()) return;
        for (Eigen::Index j = 0; j < set.size(); ++j) {
            for (Eigen::Index f = 0; f < set.feature_count(); ++f) {
                if (!std::isfinite(set.features(f, j))) {
                    throw ValueError(detail::concat(what, ": feature ", f, " of sample ", j, " of ",
                                                    set_name, " is ", set.features(f, j),
                                                    "; expected finite values"));
                }
            }
        }
    };
    require_finite(ref, name);
    if (reference != nullptr) require_finite(data, "the data");
    std::pair<Vector<Scalar>, Vector<Scalar>> range{ref.features.rowwise().minCoeff(),
                                                    ref.features.rowwise().maxCoeff()};
    // References, not a structured binding: clang++ 14 cannot capture one in a lambda.
    const Vector<Scalar>& lo = range.first;
    const Vector<Scalar>& hi = range.second;
    const auto scaled = [&](Eigen::Index f, Eigen::Index j) {
        // In double; for double features whose range is wider than double can subtract
        // (max − min = ∞ for −1e308 and 1e308), halve both first: exact for values this
        // large, so (x − lo)/(hi − lo) keeps its value instead of becoming 0 or NaN.
        double a = double(data.features(f, j)), l = double(lo(f)), h = double(hi(f));
        if (!std::isfinite(h - l) || !std::isfinite(a - l)) {
            a *= 0.5;
            l *= 0.5;
            h *= 0.5;
        }
        const double width = h - l;
        return width > 0 ? (a - l) / width : 0.0;
    };
    if (reference != nullptr) {
        // Data outside a narrow reference range can land beyond the type's range (0.5 against
        // [0, 1e-40] is 5e39): refused before anything is changed, as a non-finite value is.
        for (Eigen::Index j = 0; j < data.size(); ++j) {
            for (Eigen::Index f = 0; f < data.feature_count(); ++f) {
                const double v = scaled(f, j);
                if (!(std::abs(v) <= double(std::numeric_limits<Scalar>::max()))) {
                    throw ValueError(detail::concat(
                        what, ": feature ", f, " of sample ", j, " of the data (",
                        data.features(f, j), ") scales to ", v, " with the reference's range [",
                        lo(f), ", ", hi(f), "], beyond the largest value of the data's type"));
                }
            }
        }
    }
    for (Eigen::Index j = 0; j < data.size(); ++j)
        for (Eigen::Index f = 0; f < data.feature_count(); ++f)
            data.features(f, j) = Scalar(scaled(f, j));
    return range;
}

namespace detail {
template <class Scalar>
void require_one_label_per_sample(const Dataset<Scalar>& data, const char* what) {
    if (Eigen::Index(data.labels.size()) != data.size()) {
        throw ShapeError(detail::concat(what, ": the data set has ", data.labels.size(),
                                        " labels for ", data.size(),
                                        " samples; expected one label per sample"));
    }
}
}  // namespace detail

/// The samples at `indices`, in that order (an index may repeat); classes is kept.
/// Throws: ValueError for an index outside [0, N) (naming its position and value); ShapeError
///   if data has a label count other than N.
template <class Scalar>
Dataset<Scalar> subset(const Dataset<Scalar>& data, std::span<const Eigen::Index> indices) {
    detail::require_one_label_per_sample(data, "chrysalis::subset");
    Dataset<Scalar> out;
    out.classes = data.classes;
    out.features.resize(data.feature_count(), Eigen::Index(indices.size()));
    out.labels.resize(indices.size());
    for (std::size_t k = 0; k < indices.size(); ++k) {
        const Eigen::Index i = indices[k];
        if (i < 0 || i >= data.size()) {
            throw ValueError(detail::concat("chrysalis::subset: indices[", k, "] = ", i,
                                            " is outside [0, ", data.size(), ")"));
        }
        out.features.col(Eigen::Index(k)) = data.features.col(i);
        out.labels[k] = data.labels[std::size_t(i)];
    }
    return out;
}

/// A seeded split into (training, validation): round(validation_fraction · N) samples chosen at
/// random go to the second set, the rest to the first; each keeps the original order. The choice
/// is a partial Fisher–Yates shuffle with Rng::below, so a seed gives the same split everywhere.
/// Throws: ValueError for a fraction outside [0, 1) (or NaN), or a fraction above 0 that rounds
///   to no validation sample or no training sample; ShapeError for a label count other than N.
template <class Scalar>
std::pair<Dataset<Scalar>, Dataset<Scalar>> split(const Dataset<Scalar>& data,
                                                  double validation_fraction, Seed seed) {
    if (!(validation_fraction >= 0 && validation_fraction < 1)) {
        throw ValueError(detail::concat(
            "chrysalis::split: validation_fraction must be in [0, 1), got ", validation_fraction));
    }
    detail::require_one_label_per_sample(data, "chrysalis::split");
    const Eigen::Index n = data.size();
    const auto n_validation = Eigen::Index(std::llround(validation_fraction * double(n)));
    // A fraction asked for must give both sets a sample: an empty set would only be refused
    // later, by fit or evaluate, without a word about the split.
    if (validation_fraction > 0 && (n_validation == 0 || n_validation == n)) {
        throw ValueError(detail::concat(
            "chrysalis::split: validation_fraction ", validation_fraction, " of ", n,
            " samples gives ", n_validation, " to validation and ", n - n_validation,
            " to training; expected at least one in each (or validation_fraction 0 for no "
            "validation set)"));
    }
    std::vector<Eigen::Index> order(std::size_t(n), 0);
    std::iota(order.begin(), order.end(), Eigen::Index(0));
    Rng rng(seed);
    for (Eigen::Index i = 0; i < n_validation; ++i) {
        const auto j = i + Eigen::Index(rng.below(std::uint64_t(n - i)));
        std::swap(order[std::size_t(i)], order[std::size_t(j)]);
    }
    std::vector<char> chosen(std::size_t(n), 0);
    for (Eigen::Index i = 0; i < n_validation; ++i) chosen[std::size_t(order[std::size_t(i)])] = 1;
    std::vector<Eigen::Index> first, second;
    first.reserve(std::size_t(n - n_validation));
    second.reserve(std::size_t(n_validation));
    for (Eigen::Index i = 0; i < n; ++i) (chosen[std::size_t(i)] ? second : first).push_back(i);
    return {subset(data, first), subset(data, second)};
}

}  // namespace chrysalis::inline CHRYSALIS_ISA_NAMESPACE
