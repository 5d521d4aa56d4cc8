#pragma once
// chrysalis/layers/dense.hpp — the fully connected layer.

#include "chrysalis/isa.hpp"  // first: see its note on GCC bug 105593

#include <cmath>
#include <functional>
#include <stdexcept>
#include <string>

#include "chrysalis/config.hpp"
#include "chrysalis/detail/gemm.hpp"
#include "chrysalis/errors.hpp"
#include "chrysalis/init.hpp"
#include "chrysalis/random.hpp"
#include "chrysalis/tensor.hpp"

namespace chrysalis::inline CHRYSALIS_ISA_NAMESPACE {

/// Dense<In, Out, Scalar>: y = W·x + b over an In × B batch, W of Out × In, b of Out.
///
/// Gradients, for dy = ∂loss/∂y (Out × B):
///   ∂loss/∂W = dy·xᵀ,   ∂loss/∂b = Σ_columns dy,   ∂loss/∂x = Wᵀ·dy.
/// The three products go through detail::Gemm, which keeps Eigen's packing workspace, so
/// forward and backward allocate nothing once the batch size has been seen.
template <int In, int Out, class Scalar = float>
class Dense {
    static_assert(In > 0 && Out > 0, "chrysalis::Dense<In, Out>: both widths must be positive");
    static_assert(is_supported_scalar_v<Scalar>,
                  "chrysalis::Dense: Scalar must be float or double");

  public:
    using scalar_type = Scalar;
    static constexpr int input_size = In;
    static constexpr int output_size = Out;
    /// "Dense<784,128,float>": kind, widths and scalar type (its serialization name).
    static std::string name() {
        return detail::concat("Dense<", In, ",", Out, ",", detail::scalar_name<Scalar>(), ">");
    }
    /// Number of trainable values: Out·In weights and Out biases.
    static constexpr std::size_t parameter_count = std::size_t(In) * Out + Out;

    /// All parameters zero; call initialize (Sequential does) before training.
    Dense() : w_(Matrix<Scalar>::Zero(Out, In)), b_(Vector<Scalar>::Zero(Out)) {
        dw_.setZero(Out, In);
        db_.setZero(Out);
    }

    /// Draws W from `init` with the generator; b = 0.
    void initialize(Rng& rng, Init init = Init::he) {
        const double limit = init == Init::he ? std::sqrt(6.0 / In) : std::sqrt(6.0 / (In + Out));
        for (Eigen::Index j = 0; j < In; ++j)
            for (Eigen::Index i = 0; i < Out; ++i) w_(i, j) = Scalar(rng.uniform(-limit, limit));
        b_.setZero();
    }

    /// y = W·x + b·1ᵀ (the bias is written first and the product added to it: one pass over y).
    /// Requires x In × B and y Out × B; B = 0 is an empty batch (nothing is written). y must not
    ///   share storage with x (y = x of a Dense<N, N>, or overlapping blocks of one matrix): y is
    ///   written before x is read.
    /// Throws: ShapeError naming chrysalis::Dense<In, Out>::forward, x and y otherwise;
    ///   ValueError naming it and y when y overlaps x (one comparison of their address ranges).
    void forward(ConstMatrixRef<Scalar> x, MatrixRef<Scalar> y, Mode = Mode::inference) {
        check_shapes(x, y, "forward");
        if (overlap(x, y)) {
            throw ValueError(detail::concat(
                "chrysalis::Dense<", In, ", ", Out,
                ">::forward: y overlaps x in memory (it would be written before x is read); "
                "expected an output that shares no storage with the input"));
        }
        forward_gemm_.run(y, w_, detail::Op::none, x, detail::Op::none, false, b_.data());
    }

    /// dW = dy·xᵀ, db = row sums of dy, dx = Wᵀ·dy (dx may be empty to skip it: the first layer
    /// of a network needs no input gradient unless asked).
    /// Requires x In × B, dy Out × B, dx In × B or empty; y is not read (the layer keeps no state
    ///   from its forward, so it may be called before any). B = 0 gives dW = 0 and db = 0, the
    ///   sums over no samples.
    /// Throws: ShapeError naming chrysalis::Dense<In, Out>::backward and the parameter (x, dy or
    ///   dx) otherwise — checked before anything is written, so W's and b's gradients keep
    ///   their shapes.
    void backward(ConstMatrixRef<Scalar> x, ConstMatrixRef<Scalar> /*y*/, ConstMatrixRef<Scalar> dy,
                  MatrixRef<Scalar> dx) {
        check_backward_shapes(x, dy, dx, true, "backward");
        weight_gemm_.run(dw_, dy, detail::Op::none, x, detail::Op::transpose);
        // An empty batch's dy may have no storage at all: Eigen's row sums would offset its
        // null pointer (undefined behaviour), so the sum over no samples is written directly.
        if (dy.cols() == 0)
            db_.setZero();
        else
            db_.noalias() = dy.rowwise().sum();
        if (dx.size() != 0) input_gemm_.run(dx, w_, detail::Op::transpose, dy, detail::Op::none);
    }

    /// dx = Wᵀ·dy only: W's and b's gradients are left as they were (see the Layer contract).
    /// Requires x In × B, dy Out × B and dx In × B (never empty: the input gradient is the
    ///   point); y is not read. Throws: ShapeError naming chrysalis::Dense<In, Out>::
    ///   backward_input and the parameter otherwise.
    void backward_input(ConstMatrixRef<Scalar> x, ConstMatrixRef<Scalar> /*y*/,
                        ConstMatrixRef<Scalar> dy, MatrixRef<Scalar> dx) {
        check_backward_shapes(x, dy, dx, false, "backward_input");
        input_gemm_.run(dx, w_, detail::Op::transpose, dy, detail::Op::none);
    }

    /// Calls f(parameter, gradient) for W, then b.
    template <class F>
    void visit_parameters(F&& f) {
        f(w_, dw_);
        f(b_, db_);
    }

    /// ONNX export (chrysalis/onnx.hpp, OnnxLayer). ONNX holds one sample per row, so
    /// y = W·x + b becomes Gemm(x, W, b, transB = 1) = x·Wᵀ + b with W an [Out, In] initializer
    /// (PyTorch's nn.Linear layout) and b an [Out] one.
    template <class Graph>
    std::string to_onnx(Graph& graph, const std::string& x) const {
        const std::string w = graph.matrix("weight", w_);
        const std::string b = graph.vector("bias", b_);
        return graph.node("Gemm", {x, w, b}, {Graph::int_attribute("transB", 1)});
    }

    /// W (Out × In), b (Out), and their gradients from the last backward (zero before any), in
    /// place: W and b may be read and written (a NaN or ∞ written there makes fit stop with
    /// TrainingDiverged).
    Matrix<Scalar>& weights() noexcept { return w_; }
    const Matrix<Scalar>& weights() const noexcept { return w_; }
    Vector<Scalar>& bias() noexcept { return b_; }
    const Vector<Scalar>& bias() const noexcept { return b_; }
    const Matrix<Scalar>& weight_gradient() const noexcept { return dw_; }
    const Vector<Scalar>& bias_gradient() const noexcept { return db_; }

  private:
    /// Whether the storage of x and y overlaps (neither is empty, and their address ranges,
    /// first to last element with the outer stride, intersect).
    static bool overlap(const ConstMatrixRef<Scalar>& x, const MatrixRef<Scalar>& y) noexcept {
        if (x.size() == 0 || y.size() == 0) return false;
        const auto end = [](const auto& m) {
            return m.data() + (m.cols() - 1) * m.outerStride() + m.rows();
        };
        const std::less<const Scalar*> before;  // a total order, also across unrelated arrays
        return before(x.data(), end(y)) && before(y.data(), end(x));
    }

    static void check_shapes(const ConstMatrixRef<Scalar>& x, const MatrixRef<Scalar>& y,
                             const char* what) {
        if (x.rows() != In || y.rows() != Out || x.cols() != y.cols()) {
            throw ShapeError(detail::concat("chrysalis::Dense<", In, ", ", Out, ">::", what,
                                            ": expected input ", In, " x B and output ", Out,
                                            " x B, got ", x.rows(), " x ", x.cols(), " and ",
                                            y.rows(), " x ", y.cols()));
        }
    }

    /// backward's and backward_input's arguments: x In × B, dy Out × B with the same B, dx
    /// In × B (or, where `dx_optional`, 0 columns). O(1): the products below would otherwise
    /// read and write out of bounds (and db_, a resizable vector, take dy's row count).
    static void check_backward_shapes(const ConstMatrixRef<Scalar>& x,
                                      const ConstMatrixRef<Scalar>& dy, const MatrixRef<Scalar>& dx,
                                      bool dx_optional, const char* what) {
        const auto fail = [&](const char* param, Eigen::Index rows, Eigen::Index cols,
                              const char* expected) {
            throw ShapeError(detail::concat(
                "chrysalis::Dense<", In, ", ", Out, ">::", what, ": ", param, " is ", rows, " x ",
                cols, "; expected ", expected, " (x ", In, " x B, dy ", Out, " x B, dx ", In,
                " x B", dx_optional ? " or empty" : "", ", B the columns of x)"));
        };
        if (x.rows() != In) fail("x", x.rows(), x.cols(), "the layer's input width in rows");
        if (dy.rows() != Out || dy.cols() != x.cols())
            fail("dy", dy.rows(), dy.cols(), "the layer's output width x the batch of x");
        const bool skip = dx_optional && dx.cols() == 0;
        if (!skip && (dx.rows() != In || dx.cols() != x.cols()))
            fail("dx", dx.rows(), dx.cols(), "the layer's input width x the batch of x");
    }

    Matrix<Scalar> w_;
    Vector<Scalar> b_;
    Matrix<Scalar> dw_;
    Vector<Scalar> db_;
    detail::Gemm<Scalar> forward_gemm_, weight_gemm_, input_gemm_;
};

}  // namespace chrysalis::inline CHRYSALIS_ISA_NAMESPACE
