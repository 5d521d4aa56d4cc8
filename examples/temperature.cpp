// What temperature does to a teacher's output: the same logits softened at T = 1, 4 and 20.
// At T = 1 the teacher is nearly certain; higher T exposes how it ranks the wrong classes — the
// "dark knowledge" a student learns from (Hinton, Vinyals & Dean 2015).
#include <chrysalis/chrysalis.hpp>

#include <cstdio>

int main() {
    const char* classes[] = {"T-shirt", "Trouser", "Pullover", "Dress", "Coat",
                             "Sandal",  "Shirt",   "Sneaker",  "Bag",   "Boot"};
    // One sample's logits (a column): a confident "Shirt" that finds T-shirt and Pullover alike.
    Eigen::VectorXf logits(10);
    logits << 6.1f, -2.0f, 5.2f, 1.0f, 4.4f, -6.0f, 11.0f, -5.5f, 0.3f, -4.8f;

    std::printf("chrysalis %s: softmax(logits / T) of one sample\n\n%-9s",
                chrysalis::version_string.data(), "class");
    const double temperatures[] = {1.0, 4.0, 20.0};
    Eigen::MatrixXf p(10, 3);
    for (int k = 0; k < 3; ++k) {
        p.col(k) = chrysalis::softmax(logits, temperatures[k]);
        std::printf("   T = %-4g", temperatures[k]);
    }
    std::printf("\n");
    for (int i = 0; i < 10; ++i) {
        std::printf("%-9s", classes[i]);
        for (int k = 0; k < 3; ++k) std::printf("  %9.5f", double(p(i, k)));
        std::printf("\n");
    }
    // log_softmax stays exact where a probability underflows: the log-odds of "Sandal" at T = 1.
    const Eigen::VectorXf log_p = chrysalis::log_softmax(logits, 1.0);
    std::printf("\nlog p(Sandal) at T = 1: %.4f (p = %.3g)\n", double(log_p(5)), double(p(5, 0)));
    return 0;
}
