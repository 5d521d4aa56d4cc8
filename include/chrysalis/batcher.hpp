#pragma once
// chrysalis/batcher.hpp — mini-batches of a data set: a shuffled order and one gathered buffer.

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
#include "chrysalis/dataset.hpp"
#include "chrysalis/errors.hpp"
#include "chrysalis/random.hpp"
#include "chrysalis/tensor.hpp"

namespace chrysalis::inline CHRYSALIS_ISA_NAMESPACE {

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
        // Not (N + batch_size − 1) / batch_size, which overflows for a batch_size near INT64_MAX.
        return data_.size() / batch_size_ + (data_.size() % batch_size_ != 0 ? 1 : 0);
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

}  // namespace chrysalis::inline CHRYSALIS_ISA_NAMESPACE
