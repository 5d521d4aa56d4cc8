#pragma once
// chrysalis/tensor.hpp — the matrix types the layers and networks exchange.
//
// One sample is one column: a batch of B samples with F features is an F × B column-major matrix,
// so each sample's features (or logits) are contiguous.

#include "chrysalis/isa.hpp"  // first: see its note on GCC bug 105593

#include <Eigen/Core>

namespace chrysalis::inline CHRYSALIS_ISA_NAMESPACE {

/// Column-major storage, whatever the program's Eigen default: a project that defines
/// EIGEN_DEFAULT_TO_ROW_MAJOR still gets chrysalis's layout (the kernels, the model files and
/// the one-sample-per-column convention rely on it). A 1 × N matrix is a row vector, which
/// Eigen stores row-major.
template <int Rows, int Cols>
inline constexpr int column_major_options = Eigen::AutoAlign |
                                            ((Rows == 1 && Cols != 1) ? Eigen::RowMajor
                                                                      : Eigen::ColMajor);

/// A batch: Features × batch size, one column per sample (Features may be Eigen::Dynamic).
template <int Features, class Scalar = float>
using Batch =
    Eigen::Matrix<Scalar, Features, Eigen::Dynamic, column_major_options<Features, Eigen::Dynamic>>;

/// The weights of a dense layer, Out × In (y = W·x + b).
template <int Out, int In, class Scalar = float>
using Weights = Eigen::Matrix<Scalar, Out, In, column_major_options<Out, In>>;

/// A dynamically sized column-major matrix: the storage layers and networks work in (column-major
/// even where the program defines EIGEN_DEFAULT_TO_ROW_MAJOR).
template <class Scalar>
using Matrix = Eigen::Matrix<Scalar, Eigen::Dynamic, Eigen::Dynamic, Eigen::ColMajor>;

/// A column vector (biases).
template <class Scalar>
using Vector = Eigen::Matrix<Scalar, Eigen::Dynamic, 1>;

/// A read-only view of a batch: binds to a Matrix, a block of whole columns of one, or a Map,
/// without copying.
template <class Scalar>
using ConstMatrixRef = Eigen::Ref<const Matrix<Scalar>>;

/// A writable view of a batch (same bindings as ConstMatrixRef, writable).
template <class Scalar>
using MatrixRef = Eigen::Ref<Matrix<Scalar>>;

/// Whether a forward pass is for training (dropout active, inputs kept for backward) or for
/// inference.
enum class Mode { inference, training };

/// The width of a layer that keeps the width of its input (activations, dropout).
inline constexpr int same_width = 0;

}  // namespace chrysalis::inline CHRYSALIS_ISA_NAMESPACE
