// expect-error: onnx_export_needs_to_onnx<Square, float>
// A network with a layer that does not map itself to ONNX (no to_onnx member, the OnnxLayer
// concept) cannot be exported: the error names the layer and the missing member.
#include <chrysalis/onnx.hpp>

#include <string>

/// y = x², element-wise (the custom layer of docs/networks.md).
struct Square {
    static constexpr int input_size = chrysalis::same_width;
    static constexpr int output_size = chrysalis::same_width;
    static std::string name() { return "Square"; }
#ifndef CHRYSALIS_COMPILE_FAIL
    template <class Graph>
    std::string to_onnx(Graph& graph, const std::string& x) const {
        return graph.node("Mul", {x, x});
    }
#endif
    template <class X, class Y>
    void forward(const Eigen::MatrixBase<X>& x, Y&& y, chrysalis::Mode = {}) const {
        y = x.cwiseProduct(x);
    }
    template <class X, class Yv, class DY, class DX>
    void backward(const Eigen::MatrixBase<X>& x, const Eigen::MatrixBase<Yv>&,
                  const Eigen::MatrixBase<DY>& dy, DX&& dx) const {
        if (dx.size() == 0) return;
        dx = (2 * x.array() * dy.array()).matrix();
    }
};

int main(int argc, char** argv) {
    chrysalis::Sequential<chrysalis::Dense<4, 4>, Square, chrysalis::Dense<4, 2>> net;
    if (argc > 1) chrysalis::export_onnx(net, argv[1]);
    return 0;
}
