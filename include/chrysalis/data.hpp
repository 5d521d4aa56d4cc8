#pragma once
// chrysalis/data.hpp — data sets: loading IDX files (MNIST, Fashion-MNIST; raw or gzip) and CSV
// files, min-max scaling, seeded splits and subsets, mini-batches and image jitter.
//
// A data set holds one sample per column (features × N), like every batch in chrysalis, and one
// integer label per sample. File errors are chrysalis::IoError (cannot open, read or write) and
// chrysalis::FormatError (the content is wrong); wrong arguments are chrysalis::ValueError (a
// value outside its domain) and chrysalis::ShapeError (sizes that do not fit). All four derive
// from chrysalis::Error (errors.hpp); docs/errors.md lists what each loader validates.

#include "chrysalis/isa.hpp"  // first: see its note on GCC bug 105593

#include <Eigen/Core>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <numeric>
#include <span>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "chrysalis/config.hpp"
#include "chrysalis/detail/data_csv.hpp"
#include "chrysalis/detail/data_idx.hpp"
#include "chrysalis/detail/data_io.hpp"
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
    Matrix<Scalar> features;  ///< feature_count × N
    std::vector<int> labels;  ///< N labels in [0, classes)
    int classes = 0;

    /// N, the number of samples.
    [[nodiscard]] Eigen::Index size() const noexcept { return features.cols(); }
    /// The number of features per sample (rows).
    [[nodiscard]] Eigen::Index feature_count() const noexcept { return features.rows(); }

    /// Checks the invariants. Throws, naming what is wrong: ValueError for classes ≤ 0, a label
    /// outside [0, classes) (which sample, which value) or — unless allow_non_finite — a NaN or
    /// infinite feature (which sample, which feature); ShapeError for labels.size() ≠ N.
    void validate(bool allow_non_finite = false) const {
        constexpr const char* what = "chrysalis::Dataset::validate";
        if (classes <= 0)
            throw ValueError(detail::concat(what, ": classes must be >= 1, got ", classes));
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

/// How load_idx reads a file pair.
struct IdxOptions {
    bool scale = true;  ///< divide the uint8 pixels by 255, into [0, 1]; false keeps 0..255
    int classes = 10;   ///< every label must be below this; it becomes Dataset::classes
};

/// Reads an IDX image file (magic 0x00000803: N × rows × cols unsigned bytes) and an IDX label
/// file (magic 0x00000801: N unsigned bytes), raw or gzip-compressed (recognised by the gzip
/// magic 1f 8b and decompressed with zlib), as MNIST and Fashion-MNIST ship them.
///
/// Ensures: features is rows·cols × N, image i in column i with its pixels row by row (pixel
///   (r, c) in row r·cols + c), each p/255 when options.scale, else p; labels as in the file;
///   classes = options.classes.
/// Throws: IoError for a missing or unreadable file or a directory; FormatError for a wrong magic
///   number, a wrong dimension count, sizes that overflow or exceed what the file can hold, data
///   shorter or longer than the header says, corrupt gzip data, image and label counts that
///   differ, or a label ≥ options.classes; ValueError for options.classes < 1. Each
///   message names the function and the file, what was found and what was expected.
template <class Scalar = float>
Dataset<Scalar> load_idx(const std::string& images_path, const std::string& labels_path,
                         const IdxOptions& options = {}) {
    Dataset<Scalar> data;
    detail::read_idx(images_path, labels_path, options.scale, options.classes, data.features,
                     data.labels);
    data.classes = options.classes;
    return data;
}

/// Writes `data` as an IDX image file of rows × cols images and an IDX label file, gzip-compressed
/// when a path ends in ".gz" (else raw). With `scaled`, every feature must be in [0, 1] and is
/// written as round(255·x) (so load_idx gives the values back exactly when they are multiples
/// of 1/255, as loaded ones are); without, every feature must be an integer in 0..255.
///
/// Throws: what validate() throws for a dataset that fails it; ValueError for rows or cols < 1, a
///   label above 255 or a feature outside the allowed values (which sample, which feature);
///   ShapeError for feature_count ≠ rows·cols — all checked before a file is opened; IoError when
///   a file cannot be written (each file is replaced atomically: a failed or interrupted
///   save leaves the previous file as it was).
template <class Scalar>
void save_idx(const Dataset<Scalar>& data, int rows, int cols, const std::string& images_path,
              const std::string& labels_path, bool scaled = true) {
    data.validate();
    detail::write_idx(data.features, std::span<const int>(data.labels), rows, cols, images_path,
                      labels_path, scaled);
}

/// How load_csv reads a file and save_csv writes one.
struct CsvOptions {
    int label_column = -1;  ///< 0-based index of the label column; -1 = the last
    bool header = false;    ///< the first line is a header (skipped; written by save_csv)
    char delimiter = ',';   ///< the field separator (not a letter, digit, '+', '-' or '.')
    int classes = 0;        ///< labels must be below this; 0 = the largest label + 1
    /// Accept the feature fields nan, inf and infinity (signed, any case) instead of throwing
    /// FormatError — for data with missing values to be imputed before training (fit, distill
    /// and predict_logits reject non-finite features). Labels must always be integers.
    bool allow_non_finite = false;
};

/// Reads a CSV file (raw or gzip): one sample per line, one integer label column, every other
/// column a feature (decimal numbers, std::from_chars syntax, a leading '+' allowed; spaces and
/// tabs around a field are ignored; empty lines are skipped; a UTF-8 byte order mark is skipped).
/// Quoted fields are not supported.
///
/// Ensures: features is (columns − 1) × N in file order; classes = options.classes, or the
///   largest label + 1 when it is 0.
/// Throws: IoError when the file cannot be read; FormatError naming the file, the line and (from
///   1) the column for a line with another number of columns than the first data line, a field
///   that is empty, not a number, not finite (unless options.allow_non_finite) or out of the
///   scalar's range, a label that is not an integer, negative or ≥ options.classes, a first line
///   of one column or fewer columns than label_column needs, and a file with no data lines;
///   ValueError for bad options (delimiter, label_column < −1, classes < 0).
template <class Scalar = float>
Dataset<Scalar> load_csv(const std::string& path, const CsvOptions& options = {}) {
    Dataset<Scalar> data;
    detail::read_csv(path, options.label_column, options.header, options.delimiter, options.classes,
                     data.features, data.labels, data.classes, options.allow_non_finite);
    return data;
}

/// Writes `data` as CSV: the label in options.label_column (−1 = last), a header line of x0, x1,
/// …, label when options.header, each value in the shortest form that reads back exactly
/// (std::to_chars), so load_csv with the same options returns the same data. Gzip when the path
/// ends in ".gz".
/// Throws: what validate() throws for a dataset that fails it (non-finite features included);
///   ValueError for a label_column outside [−1, feature_count]; IoError when the file cannot be
///   written (the file is replaced atomically: a failed or interrupted save leaves the
///   previous file as it was).
template <class Scalar>
void save_csv(const Dataset<Scalar>& data, const std::string& path,
              const CsvOptions& options = {}) {
    data.validate();
    detail::write_csv(data.features, std::span<const int>(data.labels), path, options.label_column,
                      options.header, options.delimiter);
}

/// Min-max scaling of every feature f into [0, 1] with the range of `reference` (the data itself
/// when null, so a test set can use its training set's range):
///   x'_f = (x_f − min_f) / (max_f − min_f),   and x'_f = 0 where max_f = min_f,
/// computed in double. Values of `data` outside the reference's range land outside [0, 1] (they
/// are not clipped).
/// Returns: the (min, max) vectors used, one entry per feature.
/// Throws: ShapeError if the reference has no samples or a different feature count; ValueError
///   if it has a non-finite feature.
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
    if (!ref.features.allFinite()) {
        throw ValueError(detail::concat(what, ": ", name,
                                        " has a NaN or infinite feature; expected finite values"));
    }
    std::pair<Vector<Scalar>, Vector<Scalar>> range{ref.features.rowwise().minCoeff(),
                                                    ref.features.rowwise().maxCoeff()};
    const auto& [lo, hi] = range;
    for (Eigen::Index j = 0; j < data.size(); ++j) {
        for (Eigen::Index f = 0; f < data.feature_count(); ++f) {
            const double width = double(hi(f)) - double(lo(f));
            Scalar& x = data.features(f, j);
            x = width > 0 ? Scalar((double(x) - double(lo(f))) / width) : Scalar(0);
        }
    }
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
/// Throws: ValueError for a fraction outside [0, 1) (or NaN); ShapeError for a label count other
///   than N.
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

/// Mini-batches of a data set without copying it each epoch: a permutation of the sample indices
/// and one feature_count × batch_size buffer, filled by gathering columns.
///
///   Batcher<float> batches(train, 128);
///   for (int epoch = 0; epoch < epochs; ++epoch) {
///       batches.start_epoch(rng);
///       while (batches.next()) step(batches.features(), batches.labels());
///   }
///
/// Keeps a reference to the data set, which must outlive the Batcher and not change size.
template <class Scalar>
class Batcher {
  public:
    /// Throws ValueError for batch_size < 1, ShapeError for a data set whose label count is not N.
    /// Allocates the buffers (for min(batch_size, N) samples) here, once.
    Batcher(const Dataset<Scalar>& data, Eigen::Index batch_size, bool shuffle = true)
        : data_(data), batch_size_(batch_size), shuffle_(shuffle) {
        if (batch_size < 1) {
            throw ValueError(
                detail::concat("chrysalis::Batcher: batch_size must be >= 1, got ", batch_size));
        }
        detail::require_one_label_per_sample(data, "chrysalis::Batcher");
        const Eigen::Index capacity = std::min(batch_size, data.size());
        order_.resize(std::size_t(data.size()));
        std::iota(order_.begin(), order_.end(), Eigen::Index(0));
        buffer_.resize(data.feature_count(), capacity);
        labels_.resize(std::size_t(capacity));
    }
    /// A temporary data set would dangle.
    Batcher(Dataset<Scalar>&&, Eigen::Index, bool = true) = delete;

    /// Starts an epoch: a fresh permutation of 0..N−1 drawn from rng (Fisher–Yates with
    /// Rng::below, from the identity, so the order depends only on rng's state and is the same on
    /// every platform), or the identity without drawing when shuffle is false.
    void start_epoch(Rng& rng) {
        std::iota(order_.begin(), order_.end(), Eigen::Index(0));
        if (shuffle_) {
            for (std::size_t i = order_.size(); i > 1; --i) {
                const auto j = std::size_t(rng.below(i));
                std::swap(order_[i - 1], order_[j]);
            }
        }
        position_ = 0;
        current_ = 0;
        started_ = true;
    }

    /// Gathers the next batch (the last of an epoch may be smaller) and returns true; returns
    /// false, with an empty batch, when the epoch is done. Allocates nothing.
    /// Throws std::logic_error if no epoch was started (a bug in the calling code, not bad input:
    /// the one exception of chrysalis that is not a chrysalis::Error).
    bool next() {
        if (!started_)
            throw std::logic_error("chrysalis::Batcher::next: call start_epoch(rng) first");
        position_ += current_;
        const Eigen::Index n = data_.size();
        current_ = std::min(batch_size_, n - position_);
        for (Eigen::Index k = 0; k < current_; ++k) {
            const Eigen::Index i = order_[std::size_t(position_ + k)];
            buffer_.col(k) = data_.features.col(i);
            labels_[std::size_t(k)] = data_.labels[std::size_t(i)];
        }
        return current_ > 0;
    }

    /// The current batch's features, feature_count × b (b = its size).
    [[nodiscard]] ConstMatrixRef<Scalar> features() const { return buffer_.leftCols(current_); }
    /// The same, writable (for transforms such as jitter); the data set is not changed.
    [[nodiscard]] MatrixRef<Scalar> mutable_features() { return buffer_.leftCols(current_); }
    /// The current batch's b labels.
    [[nodiscard]] std::span<const int> labels() const {
        return {labels_.data(), std::size_t(current_)};
    }
    /// The data set column of each sample in the current batch (to look up cached teacher
    /// logits, for instance).
    [[nodiscard]] std::span<const Eigen::Index> indices() const {
        return {order_.data() + position_, std::size_t(current_)};
    }
    /// ⌈N / batch_size⌉.
    [[nodiscard]] Eigen::Index batches_per_epoch() const noexcept {
        return (data_.size() + batch_size_ - 1) / batch_size_;
    }
    [[nodiscard]] Eigen::Index batch_size() const noexcept { return batch_size_; }

  private:
    const Dataset<Scalar>& data_;
    Eigen::Index batch_size_;
    bool shuffle_;
    bool started_ = false;
    std::vector<Eigen::Index> order_;
    Matrix<Scalar> buffer_;
    std::vector<int> labels_;
    Eigen::Index position_ = 0;  // the first sample of the current batch, in order_
    Eigen::Index current_ = 0;   // the current batch's size
};

namespace detail {
/// Shifts one width × height row-major image by (dx, dy) in place: pixel (x, y) takes the value
/// of (x − dx, y − dy), 0 where that is outside. Rows, and pixels within a row, are visited in
/// the direction of the shift, so each source is read before it is overwritten.
template <class Scalar>
void shift_image(Scalar* image, int width, int height, int dx, int dy) noexcept {
    if (dx == 0 && dy == 0) return;
    if (std::abs(dx) >= width || std::abs(dy) >= height) {
        std::fill(image, image + std::ptrdiff_t(width) * height, Scalar(0));
        return;
    }
    for (int i = 0; i < height; ++i) {
        const int y = dy > 0 ? height - 1 - i : i;
        Scalar* row = image + std::ptrdiff_t(y) * width;
        const int source_y = y - dy;
        if (source_y < 0 || source_y >= height) {
            std::fill(row, row + width, Scalar(0));
            continue;
        }
        const Scalar* source = image + std::ptrdiff_t(source_y) * width;
        if (dx >= 0) {
            std::copy_backward(source, source + width - dx, row + width);
            std::fill(row, row + dx, Scalar(0));
        } else {
            std::copy(source - dx, source + width, row);
            std::fill(row + width + dx, row + width, Scalar(0));
        }
    }
}
}  // namespace detail

/// Image jitter (Hinton et al.'s teacher saw inputs shifted by up to 2 pixels): every column of
/// `images`, read as a height × width row-major image, is shifted by dx then dy pixels, each
/// drawn uniformly from [−max_shift, max_shift] (dx = rng.below(2·max_shift + 1) − max_shift,
/// then dy the same way, column by column); uncovered pixels become 0. In place; allocates
/// nothing; draws nothing when max_shift is 0.
/// Throws: ValueError if width or height < 1 or max_shift < 0; ShapeError if
///   images.rows() ≠ width·height.
template <class Scalar>
void jitter(MatrixRef<Scalar> images, int width, int height, int max_shift, Rng& rng) {
    constexpr const char* what = "chrysalis::jitter";
    if (width < 1 || height < 1) {
        throw ValueError(detail::concat(
            what, ": width and height must be >= 1, got width = ", width, ", height = ", height));
    }
    if (images.rows() != Eigen::Index(width) * height) {
        throw ShapeError(detail::concat(
            what, ": the images have ", images.rows(), " rows but width × height = ", width, " × ",
            height, " = ", Eigen::Index(width) * height, "; expected one row per pixel"));
    }
    if (max_shift < 0)
        throw ValueError(detail::concat(what, ": max_shift must be >= 0, got ", max_shift));
    if (max_shift == 0) return;
    const std::uint64_t choices = 2 * std::uint64_t(max_shift) + 1;
    for (Eigen::Index c = 0; c < images.cols(); ++c) {
        const int dx = int(std::int64_t(rng.below(choices)) - max_shift);
        const int dy = int(std::int64_t(rng.below(choices)) - max_shift);
        detail::shift_image(images.data() + c * images.outerStride(), width, height, dx, dy);
    }
}

/// jitter for a whole matrix (Scalar is deduced from it).
template <class Scalar>
void jitter(Matrix<Scalar>& images, int width, int height, int max_shift, Rng& rng) {
    jitter(MatrixRef<Scalar>(images), width, height, max_shift, rng);
}

}  // namespace chrysalis::inline CHRYSALIS_ISA_NAMESPACE
