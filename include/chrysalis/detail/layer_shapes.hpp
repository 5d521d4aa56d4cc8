#pragma once
// chrysalis/detail/layer_shapes.hpp — the shape checks of the element-wise layers (activations,
// dropout): their forward and backward take any Eigen matrices, and an assignment between two of
// different sizes is an Eigen assertion with asserts on and a write out of bounds without. Each
// check is O(1), once per call: no cost per element.

#include "chrysalis/isa.hpp"  // first: see its note on GCC bug 105593

#include <Eigen/Core>

#include <type_traits>

#include "chrysalis/config.hpp"
#include "chrysalis/errors.hpp"

namespace chrysalis::inline CHRYSALIS_ISA_NAMESPACE::detail {

/// Gives `out` the shape rows × cols when it is a resizable Matrix (nothing is allocated when it
/// has it already); anything else (a MatrixRef, a Map, a block) keeps its shape.
template <class Out>
void resize_if_resizable(Out& out, Eigen::Index rows, Eigen::Index cols) {
    using O = std::remove_cv_t<Out>;
    if constexpr (std::is_base_of_v<Eigen::PlainObjectBase<O>, O>) {
        if ((O::RowsAtCompileTime == Eigen::Dynamic || out.rows() == rows) &&
            (O::ColsAtCompileTime == Eigen::Dynamic || out.cols() == cols)) {
            out.resize(rows, cols);
        }
    }
}

/// The forward of an element-wise layer: y must be x's shape (a resizable y is resized to it).
/// Throws ShapeError naming `what` ("chrysalis::ReLU::forward") and y otherwise.
template <class X, class Y>
void prepare_elementwise_output(const Eigen::MatrixBase<X>& x, Y& y, const char* what) {
    resize_if_resizable(y, x.rows(), x.cols());
    if (y.rows() != x.rows() || y.cols() != x.cols()) {
        throw ShapeError(concat(what, ": y is ", y.rows(), " x ", y.cols(), " but x is ", x.rows(),
                                " x ", x.cols(),
                                "; expected y of x's shape (the layer keeps the shape)"));
    }
}

/// The backward of an element-wise layer: dy of the shape of x and y (the last forward's input
/// and output, which are one shape), and dx of it too unless dx is empty (no input gradient
/// wanted; a resizable dx is resized). Returns whether dx is wanted. Throws ShapeError naming
/// `what` ("chrysalis::ReLU::backward") and the parameter otherwise.
template <class X, class Y, class DY, class DX>
[[nodiscard]] bool check_elementwise_backward(const Eigen::MatrixBase<X>& x,
                                              const Eigen::MatrixBase<Y>& y,
                                              const Eigen::MatrixBase<DY>& dy, DX& dx,
                                              const char* what) {
    const auto fail = [&](const char* name, Eigen::Index rows, Eigen::Index cols) {
        throw ShapeError(concat(what, ": ", name, " is ", rows, " x ", cols, " but dy is ",
                                dy.rows(), " x ", dy.cols(),
                                "; expected x, y, dy and dx (unless empty) of one shape, that of "
                                "the last forward's input and output"));
    };
    if (x.rows() != dy.rows() || x.cols() != dy.cols()) fail("x", x.rows(), x.cols());
    if (y.rows() != dy.rows() || y.cols() != dy.cols()) fail("y", y.rows(), y.cols());
    if (dx.size() == 0) return false;  // input gradient not wanted
    resize_if_resizable(dx, dy.rows(), dy.cols());
    if (dx.rows() != dy.rows() || dx.cols() != dy.cols()) fail("dx", dx.rows(), dx.cols());
    return true;
}

}  // namespace chrysalis::inline CHRYSALIS_ISA_NAMESPACE::detail
