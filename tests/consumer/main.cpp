// The consumer program: includes the umbrella header, checks the version it was promised and runs
// the kernel once. Exit code 0 means the package works from this kind of build.
#include <chrysalis/chrysalis.hpp>

#include <cmath>
#include <iostream>

int main() {
    if (chrysalis::version_string != CHRYSALIS_EXPECTED_VERSION) {
        std::cerr << "consumer: header version " << chrysalis::version_string
                  << " but the build promised " << CHRYSALIS_EXPECTED_VERSION << "\n";
        return 1;
    }
    Eigen::MatrixXf logits(3, 2);
    logits << 1, 0, 2, 0, 3, 0;
    const Eigen::MatrixXf p = chrysalis::softmax(logits, 1.0);
    // Column 1 is all ties: exactly uniform. Column 0: e^{-2}, e^{-1}, 1 over their sum.
    const float s = std::exp(-2.0f) + std::exp(-1.0f) + 1.0f;
    const bool ok = std::abs(p(2, 0) - 1.0f / s) < 1e-6f && std::abs(p(0, 1) - 1.0f / 3) < 1e-6f;
    std::cout << "chrysalis " << chrysalis::version_string << (ok ? " works\n" : " is wrong\n");
    return ok ? 0 : 1;
}
