// expect-error: the observer's on_batch_end cannot be called
// An optional observer hook declared as a member template with other parameters (here a
// non-const BatchReport&, which fit's const report cannot bind) would never be called; the build
// must fail, naming the hook, as it does for a plain member function.
#include <chrysalis/fit.hpp>
#include <chrysalis/losses.hpp>
#include <chrysalis/optim.hpp>

#include <vector>

using Net = chrysalis::Sequential<chrysalis::Dense<4, 2>>;

/// Counts batches and epochs, for any network and optimizer.
struct Counter {
    int batches = 0;
    int epochs = 0;
    template <class Ctx>
    void on_epoch_end(Ctx&, chrysalis::EpochReport&) {
        ++epochs;
    }
#ifdef CHRYSALIS_COMPILE_FAIL
    template <class Ctx>
    void on_batch_end(Ctx&, chrysalis::BatchReport&) {
        ++batches;
    }
#else
    template <class Ctx>
    void on_batch_end(Ctx&, const chrysalis::BatchReport&) {
        ++batches;
    }
#endif
};

int main() {
    Net net;
    chrysalis::Dataset<float> data{chrysalis::Matrix<float>::Zero(4, 8), std::vector<int>(8), 2};
    chrysalis::Sgd sgd;
    Counter counter;
    chrysalis::fit(net, data, chrysalis::CrossEntropy{}, sgd, {.epochs = 1, .batch_size = 4},
                   counter);
    return counter.batches == 2 && counter.epochs == 1 ? 0 : 1;
}
