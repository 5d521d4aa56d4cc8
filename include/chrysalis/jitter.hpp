#pragma once
// chrysalis/jitter.hpp — image jitter: every image of a batch shifted by a random offset.

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
#include "chrysalis/errors.hpp"
#include "chrysalis/random.hpp"
#include "chrysalis/tensor.hpp"

namespace chrysalis::inline CHRYSALIS_ISA_NAMESPACE {

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
/// Throws: ValueError if width or height < 1, max_shift < 0 or max_shift ≥ min(width, height)
///   (a shift that large can blank an image); ShapeError if images.rows() ≠ width·height.
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
    if (max_shift >= std::min(width, height)) {
        throw ValueError(detail::concat(
            what, ": max_shift must be below the image's smaller side, ", std::min(width, height),
            " (a shift that large moves every pixel out: a blank image keeping its label), got ",
            max_shift));
    }
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
