// expect-error: write into a matrix of the logits' own scalar type
// Writing float logits' softmax into a double matrix must not compile (it would hide a copy).
#include <chrysalis/softmax.hpp>

int main() {
    Eigen::MatrixXf logits = Eigen::MatrixXf::Ones(10, 4);
#ifdef CHRYSALIS_COMPILE_FAIL
    Eigen::MatrixXd out(10, 4);
#else
    Eigen::MatrixXf out(10, 4);
#endif
    chrysalis::log_softmax(logits, 2.0, out);
    return out.rows() == 10 ? 0 : 1;
}
