// expect-error: must model chrysalis::TrainingObserver \(a member on_epoch_end\(ctx, report\)\)
// An observer that has neither on_epoch_end(ctx, report) nor a call on an EpochReport must not
// compile, and the message must name the observer concept.
#include <chrysalis/fit.hpp>

#include <chrysalis/losses.hpp>
#include <chrysalis/network.hpp>
#include <chrysalis/optim.hpp>

struct EpochCounter {
    int epochs = 0;
    template <class Ctx>
    void on_train_begin(Ctx&) {
        epochs = 0;
    }
#ifdef CHRYSALIS_COMPILE_FAIL
    template <class Ctx>
    void on_epoch_ended(Ctx&, const chrysalis::EpochReport&) {  // misspelt
        ++epochs;
    }
#else
    template <class Ctx>
    void on_epoch_end(Ctx&, const chrysalis::EpochReport&) {
        ++epochs;
    }
#endif
};

int main() {
    chrysalis::Sequential<chrysalis::Dense<4, 3>> net;
    chrysalis::Dataset<float> data;
    chrysalis::Sgd sgd{.lr = 0.1};
    EpochCounter counter;
    if (data.size() > 0) chrysalis::fit(net, data, chrysalis::CrossEntropy{}, sgd, {}, counter);
    return 0;
}
