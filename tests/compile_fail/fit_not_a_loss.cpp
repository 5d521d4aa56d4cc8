// expect-error: (satisfaction of|because) [^A-Za-z]*Loss<[^>]*>[^A-Za-z]* (evaluated|\[with)
// fit with a "loss" that has no call operator on (logits, labels, gradient) must not compile, and
// the message must name the concept it misses.
#include <chrysalis/fit.hpp>

#include <chrysalis/network.hpp>
#include <chrysalis/optim.hpp>

#include <span>

struct MeanLogit {  // a loss with the gradient argument forgotten
    float operator()(chrysalis::ConstMatrixRef<float> logits, std::span<const int>) const {
        return logits.mean();
    }
#ifndef CHRYSALIS_COMPILE_FAIL
    float operator()(chrysalis::ConstMatrixRef<float> logits, std::span<const int>,
                     chrysalis::MatrixRef<float> gradient) const {
        gradient.setConstant(1.0f / float(logits.size()));
        return logits.mean();
    }
#endif
};

int main() {
    chrysalis::Sequential<chrysalis::Dense<4, 3>> net;
    chrysalis::Dataset<float> data;
    chrysalis::Sgd sgd{.lr = 0.1};
    if (data.size() > 0) chrysalis::fit(net, data, MeanLogit{}, sgd);
    return 0;
}
