#pragma once
// chrysalis/detail/gemm.hpp — C = op(A)·op(B) (or C += …) through Eigen's own GEMM kernel, with
// the packing workspace kept between calls. Eigen's `C.noalias() = A * B` allocates that workspace
// on every call once it is larger than EIGEN_STACK_ALLOCATION_LIMIT (128 KiB), which a training
// step at these sizes always is; a layer keeps one Gemm per product instead, so a step allocates
// nothing after the first batch. Uses Eigen 3.4's internal general_matrix_matrix_product.

#include <Eigen/Core>

#include <algorithm>
#include <memory>

#include "chrysalis/tensor.hpp"

namespace chrysalis::detail {

/// Whether an operand is used as stored or transposed.
enum class Op { none, transpose };

template <class S>
class Gemm {
  public:
    Gemm() = default;
    // A copy starts with no workspace of its own (it is a cache, not state).
    Gemm(const Gemm&) noexcept {}
    Gemm& operator=(const Gemm&) noexcept { return *this; }
    Gemm(Gemm&&) noexcept = default;
    Gemm& operator=(Gemm&&) noexcept = default;
    ~Gemm() = default;

    /// C = op(A)·op(B) when accumulate is false, C += op(A)·op(B) when true. C, A and B have
    /// contiguous columns (inner stride 1); C is already op(A).rows() × op(B).cols() and overlaps
    /// neither operand. A call larger in any dimension than all before allocates the workspace;
    /// every other call allocates nothing.
    void run(MatrixRef<S> c, ConstMatrixRef<S> a, Op op_a, ConstMatrixRef<S> b, Op op_b,
             bool accumulate = false) {
        const Eigen::Index rows = c.rows(), cols = c.cols();
        const Eigen::Index depth = op_a == Op::none ? a.cols() : a.rows();
        eigen_assert(rows == (op_a == Op::none ? a.rows() : a.cols()));
        eigen_assert(cols == (op_b == Op::none ? b.cols() : b.rows()));
        eigen_assert(depth == (op_b == Op::none ? b.rows() : b.cols()));
        if (cols == 1 && op_b == Op::none && depth > 0) {
            // One sample: a matrix-vector product, which streams op(A) once instead of packing it.
            auto y = c.col(0);
            if (op_a == Op::none) {
                accumulate ? (y.noalias() += a * b.col(0)) : (y.noalias() = a * b.col(0));
            } else {
                accumulate ? (y.noalias() += a.transpose() * b.col(0))
                           : (y.noalias() = a.transpose() * b.col(0));
            }
            return;
        }
        if (!accumulate) c.setZero();
        if (rows == 0 || cols == 0 || depth == 0) return;
        // A workspace made for a larger product serves a smaller one (Eigen takes the minimum of
        // each block size and the dimension), so only growth allocates: the smaller last batch
        // of an epoch reuses the workspace of the full batches.
        if (!blocking_ || rows > cap_rows_ || cols > cap_cols_ || depth > cap_depth_) {
            cap_rows_ = std::max(rows, cap_rows_);
            cap_cols_ = std::max(cols, cap_cols_);
            cap_depth_ = std::max(depth, cap_depth_);
            blocking_ = std::make_unique<Blocking>(cap_rows_, cap_cols_, cap_depth_, 1, true);
            blocking_->allocateAll();
        }
        rows_ = rows;
        cols_ = cols;
        depth_ = depth;
        // Column-major A read as its transpose is a row-major matrix with the same stride.
        if (op_a == Op::none && op_b == Op::none) {
            product<Eigen::ColMajor, Eigen::ColMajor>(c, a, b);
        } else if (op_a == Op::none) {
            product<Eigen::ColMajor, Eigen::RowMajor>(c, a, b);
        } else if (op_b == Op::none) {
            product<Eigen::RowMajor, Eigen::ColMajor>(c, a, b);
        } else {
            product<Eigen::RowMajor, Eigen::RowMajor>(c, a, b);
        }
    }

  private:
    using Blocking = Eigen::internal::gemm_blocking_space<Eigen::ColMajor, S, S, Eigen::Dynamic,
                                                          Eigen::Dynamic, Eigen::Dynamic, 1, false>;

    template <int OrderA, int OrderB>
    void product(MatrixRef<S>& c, const ConstMatrixRef<S>& a, const ConstMatrixRef<S>& b) {
        Eigen::internal::general_matrix_matrix_product<
            Eigen::Index, S, OrderA, false, S, OrderB, false, Eigen::ColMajor,
            1>::run(rows_, cols_, depth_, a.data(), a.outerStride(), b.data(), b.outerStride(),
                    c.data(), 1, c.outerStride(), S(1), *blocking_, nullptr);
    }

    std::unique_ptr<Blocking> blocking_;
    Eigen::Index rows_ = 0, cols_ = 0, depth_ = 0;              // the current product
    Eigen::Index cap_rows_ = 0, cap_cols_ = 0, cap_depth_ = 0;  // what the workspace was made for
};

}  // namespace chrysalis::detail
