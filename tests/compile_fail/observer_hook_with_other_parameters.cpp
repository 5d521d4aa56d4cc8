// expect-error: the observer's on_train_end cannot be called
// An optional observer hook declared with other parameters (here on_train_end without the
// history) would never be called; the build must fail, naming the hook.
#include <chrysalis/fit.hpp>
#include <chrysalis/losses.hpp>
#include <chrysalis/optim.hpp>

#include <vector>

using Net = chrysalis::Sequential<chrysalis::Dense<4, 2>>;
using Context = chrysalis::TrainingContext<Net, chrysalis::Sgd>;

/// Counts epochs, and reports once the training ends.
struct Counter {
    int epochs = 0;
    void on_epoch_end(Context&, chrysalis::EpochReport&) { ++epochs; }
#ifdef CHRYSALIS_COMPILE_FAIL
    void on_train_end(Context&) {
        epochs = -epochs;
    }
#else
    void on_train_end(Context&, const std::vector<chrysalis::EpochReport>&) {
        epochs = -epochs;
    }
#endif
};

int main() {
    Net net;
    chrysalis::Dataset<float> data{chrysalis::Matrix<float>::Zero(4, 8), std::vector<int>(8), 2};
    chrysalis::Sgd sgd;
    Counter counter;
    chrysalis::fit(net, data, chrysalis::CrossEntropy{}, sgd, {.epochs = 1}, counter);
    return counter.epochs == -1 ? 0 : 1;
}
