// expect-error: softmax and log_softmax need float or double logits
// softmax of integer logits must not compile, and the message must say what to do instead.
#include <chrysalis/softmax.hpp>

int main() {
#ifdef CHRYSALIS_COMPILE_FAIL
    Eigen::MatrixXi logits = Eigen::MatrixXi::Ones(10, 4);
#else
    Eigen::MatrixXf logits = Eigen::MatrixXf::Ones(10, 4);
#endif
    const auto p = chrysalis::softmax(logits, 2.0);
    return p.rows() == 10 ? 0 : 1;
}
