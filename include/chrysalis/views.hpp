#pragma once
// chrysalis/views.hpp — other views of the same samples, for cross-modal transfer (a teacher on
// one view supervising a student on another: chrysalis/cross_modal.hpp): an image downsampled by
// average pooling, a band of its rows, a fixed random projection with sensor noise. Each is a
// pure function of a data set that keeps its labels, its classes and the order of its samples,
// so the view of sample j is sample j of the result. No file I/O.
//
// Images are stored as the loaders store them: one image per column, width × height pixels
// row-major, pixel (x, y) — column x of row y — in feature y·width + x.

#include "chrysalis/isa.hpp"  // first: see its note on GCC bug 105593

#include <Eigen/Core>

#include <cmath>
#include <cstdint>
#include <limits>
#include <numbers>
#include <string>

#include "chrysalis/config.hpp"
#include "chrysalis/dataset.hpp"
#include "chrysalis/detail/data_checks.hpp"
#include "chrysalis/detail/gemm.hpp"
#include "chrysalis/errors.hpp"
#include "chrysalis/random.hpp"
#include "chrysalis/tensor.hpp"

namespace chrysalis::inline CHRYSALIS_ISA_NAMESPACE {

namespace detail {

/// The data's feature count is width · height, both ≥ 1 (ShapeError / ValueError naming `what`).
template <class Scalar>
void require_image_shape(const Dataset<Scalar>& data, Eigen::Index width, Eigen::Index height,
                         const char* what) {
    if (width < 1 || height < 1) {
        throw ValueError(concat(what, ": width and height must be >= 1, got width = ", width,
                                " and height = ", height));
    }
    // Compared without forming width · height, which overflows Eigen::Index for sizes whose
    // product exceeds it (and could wrap to the feature count).
    const Eigen::Index features = data.feature_count();
    if (features % width != 0 || features / width != height) {
        const bool fits = width <= std::numeric_limits<Eigen::Index>::max() / height;
        throw ShapeError(concat(what, ": the data has ", features,
                                " features per sample but width x height = ", width, " x ", height,
                                fits ? concat(" = ", width * height)
                                     : std::string(" (more pixels than an Eigen::Index holds)"),
                                "; expected one feature per pixel"));
    }
}

/// A standard normal deviate by the Box–Muller transform: r = √(−2·ln(1 − u₁)) (1 − u₁ is in
/// (0, 1], so the logarithm is finite), z = r·cos(2π·u₂). Two uniforms per deviate: simple, and
/// the sequence depends on the seed alone.
inline double standard_normal(Rng& rng) noexcept {
    const double r = std::sqrt(-2.0 * std::log(1.0 - rng.uniform()));
    return r * std::cos(2.0 * std::numbers::pi * rng.uniform());
}

}  // namespace detail

/// Average pooling of width × height images by `factor` in both directions: pixel (X, Y) of the
/// result is the mean of the factor × factor block of pixels (x, y) with x in
/// [X·factor, (X+1)·factor) and y in [Y·factor, (Y+1)·factor), summed in double. A 28 × 28
/// MNIST digit with factor 4 becomes a 7 × 7 one (49 features).
///
/// Requires: data.feature_count() == width · height; factor divides width and height.
/// Ensures: a data set of (width/factor) · (height/factor) features (row-major, as the input),
///   the same samples in the same order, the same labels and classes. factor = 1 copies.
/// Throws: ValueError naming chrysalis::downsample and the parameter for width, height or factor
///   < 1, or a factor that does not divide width or height; ShapeError for a feature count other
///   than width · height.
template <class Scalar>
Dataset<Scalar> downsample(const Dataset<Scalar>& data, Eigen::Index width, Eigen::Index height,
                           Eigen::Index factor) {
    constexpr const char* what = "chrysalis::downsample";
    detail::require_image_shape(data, width, height, what);
    if (factor < 1) throw ValueError(detail::concat(what, ": factor must be >= 1, got ", factor));
    if (width % factor != 0 || height % factor != 0) {
        throw ValueError(detail::concat(what, ": factor ", factor, " does not divide width ", width,
                                        " and height ", height,
                                        "; expected a factor of both (pooling blocks cover the "
                                        "image exactly)"));
    }
    const Eigen::Index w = width / factor, h = height / factor;
    const double inv = 1.0 / double(factor * factor);
    Dataset<Scalar> out;
    out.classes = data.classes;
    out.labels = data.labels;
    out.features.resize(w * h, data.size());
    for (Eigen::Index j = 0; j < data.size(); ++j) {
        const auto image = data.features.col(j);
        for (Eigen::Index Y = 0; Y < h; ++Y) {
            for (Eigen::Index X = 0; X < w; ++X) {
                double sum = 0;
                for (Eigen::Index y = Y * factor; y < (Y + 1) * factor; ++y)
                    for (Eigen::Index x = X * factor; x < (X + 1) * factor; ++x)
                        sum += double(image(y * width + x));
                out.features(Y * w + X, j) = Scalar(sum * inv);
            }
        }
    }
    return out;
}

/// Rows first_row … first_row + rows − 1 of width × height images: the lower half of a 28 × 28
/// digit is crop_rows(data, 28, 28, 14, 14) (392 features).
///
/// Requires: data.feature_count() == width · height; 0 ≤ first_row; rows ≥ 1;
///   first_row + rows ≤ height.
/// Ensures: a data set of width · rows features (pixel (x, y) of the crop is pixel
///   (x, first_row + y) of the image), the same samples in the same order, the same labels and
///   classes.
/// Throws: ValueError naming chrysalis::crop_rows and the parameter for width or height < 1,
///   first_row < 0, rows < 1 or first_row + rows > height; ShapeError for a feature count other
///   than width · height.
template <class Scalar>
Dataset<Scalar> crop_rows(const Dataset<Scalar>& data, Eigen::Index width, Eigen::Index height,
                          Eigen::Index first_row, Eigen::Index rows) {
    constexpr const char* what = "chrysalis::crop_rows";
    detail::require_image_shape(data, width, height, what);
    if (first_row < 0)
        throw ValueError(detail::concat(what, ": first_row must be >= 0, got ", first_row));
    if (rows < 1) throw ValueError(detail::concat(what, ": rows must be >= 1, got ", rows));
    // Without forming first_row + rows, which overflows for first_row near INT64_MAX.
    if (rows > height || first_row > height - rows) {
        throw ValueError(detail::concat(what, ": first_row + rows = ", first_row, " + ", rows,
                                        " is beyond the image's height ", height,
                                        "; expected rows inside the image"));
    }
    Dataset<Scalar> out;
    out.classes = data.classes;
    out.labels = data.labels;
    // Rows are contiguous in a row-major image: the crop is one block of each column. (No
    // block of a set without samples: its data pointer is null, and offsetting it is undefined.)
    if (data.size() == 0)
        out.features.resize(rows * width, 0);
    else
        out.features = data.features.middleRows(first_row * width, rows * width);
    return out;
}

/// A fixed Gaussian random projection with sensor noise: the view y = P·x + ε of a sample x,
/// with P a k × input_features matrix of independent N(0, 1/k) entries (so E‖P·x‖² = ‖x‖², as in
/// the Johnson–Lindenstrauss lemma) drawn once from `seed`, and ε k independent N(0, noise_sd²)
/// deviates drawn afresh for every sample, from the seed given to apply.
///
/// Make one and apply it to every set that must share the projection — the training and the test
/// set of one modality — with a different noise seed for each:
///
///   const RandomProjection<float> sensor(784, 64, 0.1, Seed{7});
///   const auto train_view = sensor(train, Seed{1});
///   const auto test_view = sensor(test, Seed{2});
///
/// Two objects made with the same arguments hold the same P, on every platform up to the last
/// bits of std::log and std::cos (both are drawn by chrysalis::Rng and the Box–Muller transform).
template <class Scalar = float>
class RandomProjection {
  public:
    /// Requires: input_features ≥ 1; k ≥ 1, with k · input_features values addressable (a
    ///   smaller P that does not fit in memory throws std::bad_alloc); noise_sd finite, ≥ 0 and
    ///   at most Scalar's largest.
    /// Ensures: matrix() is the k × input_features projection drawn from `seed`.
    /// Throws: ValueError naming chrysalis::RandomProjection and the parameter otherwise.
    RandomProjection(Eigen::Index input_features, Eigen::Index k, double noise_sd, Seed seed)
        : noise_sd_(noise_sd) {
        constexpr const char* what = "chrysalis::RandomProjection";
        if (input_features < 1) {
            throw ValueError(
                detail::concat(what, ": input_features must be >= 1, got ", input_features));
        }
        if (k < 1) throw ValueError(detail::concat(what, ": k must be >= 1, got ", k));
        // P's size in bytes must be a number: beyond, Eigen would throw a bare std::bad_alloc.
        if (k > std::numeric_limits<Eigen::Index>::max() / Eigen::Index(sizeof(Scalar)) /
                    input_features) {
            throw ValueError(detail::concat(what, ": k x input_features = ", k, " x ",
                                            input_features, " values of ", sizeof(Scalar),
                                            " bytes are more than an address space holds"));
        }
        if (!(std::isfinite(noise_sd) && noise_sd >= 0 &&
              noise_sd <= double(std::numeric_limits<Scalar>::max()))) {
            throw ValueError(
                detail::concat(what, ": noise_sd must be a finite number >= 0 (and at ",
                               "most the scalar type's largest, ",
                               double(std::numeric_limits<Scalar>::max()), "), got ", noise_sd));
        }
        Rng rng(seed);
        const double scale = 1.0 / std::sqrt(double(k));
        projection_.resize(k, input_features);
        for (Eigen::Index i = 0; i < projection_.size(); ++i)
            projection_.data()[i] = Scalar(scale * detail::standard_normal(rng));
    }

    /// The view of every sample of `data`: P·x + ε, with ε drawn from `noise_seed` in column
    /// order (sample 0's k deviates first), none when noise_sd = 0.
    /// Requires: data.feature_count() == input_features().
    /// Ensures: k() features per sample, the same samples in the same order, the same labels and
    ///   classes; the same data and noise_seed give the same result.
    /// Throws: ShapeError naming chrysalis::RandomProjection for another feature count;
    ///   ValueError naming it, the sample and the feature where the view is not finite (features
    ///   or noise too large for Scalar, or a NaN feature).
    [[nodiscard]] Dataset<Scalar> operator()(const Dataset<Scalar>& data, Seed noise_seed) const {
        if (data.feature_count() != input_features()) {
            throw ShapeError(
                detail::concat("chrysalis::RandomProjection: the data has ", data.feature_count(),
                               " features per sample but the projection takes ", input_features()));
        }
        Dataset<Scalar> out;
        out.classes = data.classes;
        out.labels = data.labels;
        out.features.resize(k(), data.size());
        // chrysalis's own product, compiled in its instruction-set namespace (isa.hpp).
        detail::Gemm<Scalar>().run(out.features, projection_, detail::Op::none, data.features,
                                   detail::Op::none);
        if (noise_sd_ > 0) {
            Rng rng(noise_seed);
            for (Eigen::Index i = 0; i < out.features.size(); ++i)
                out.features.data()[i] += Scalar(noise_sd_ * detail::standard_normal(rng));
        }
        // Features or noise near the scalar's largest overflow the view.
        detail::require_finite(out.features, "chrysalis::RandomProjection",
                               "the view (P·x + noise)", "feature");
        return out;
    }

    /// P, k × input_features.
    [[nodiscard]] const Matrix<Scalar>& matrix() const noexcept { return projection_; }
    /// The number of features of the view.
    [[nodiscard]] Eigen::Index k() const noexcept { return projection_.rows(); }
    /// The number of features it takes.
    [[nodiscard]] Eigen::Index input_features() const noexcept { return projection_.cols(); }
    /// The standard deviation of the sensor noise.
    [[nodiscard]] double noise_sd() const noexcept { return noise_sd_; }

  private:
    Matrix<Scalar> projection_;
    double noise_sd_;
};

/// One data set through a random projection: RandomProjection<Scalar>(data.feature_count(), k,
/// noise_sd, seed) applied with the noise seed derive_seed(seed, 1). The same seed gives the same
/// projection for any data set with the same feature count — and the same noise sequence, so
/// sample j of two sets gets the same ε; to view a training and a test set, make one
/// RandomProjection and apply it with two noise seeds instead.
/// Requires, ensures and throws as RandomProjection's constructor and operator(), naming
/// chrysalis::random_projection for a data set without features (ShapeError: there is nothing to
/// project).
template <class Scalar>
Dataset<Scalar> random_projection(const Dataset<Scalar>& data, Eigen::Index k, double noise_sd,
                                  Seed seed) {
    if (data.feature_count() == 0) {
        throw ShapeError(detail::concat("chrysalis::random_projection: the data's features are 0x",
                                        data.size(),
                                        " (features x samples); expected at least 1 feature "
                                        "(row) to project"));
    }
    return RandomProjection<Scalar>(data.feature_count(), k, noise_sd, seed)(data,
                                                                             derive_seed(seed, 1));
}

}  // namespace chrysalis::inline CHRYSALIS_ISA_NAMESPACE
