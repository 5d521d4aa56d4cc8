// chrysalis/train.hpp is training in one include (docs/distillation.md): with it alone a program
// names the losses, the optimizers and their schedules, the options, the observers, and calls
// fit, distill and evaluate. Compiled, not run: a header that stops reaching one of them fails
// the build of this file, naming the name.
#include <chrysalis/train.hpp>

#include <type_traits>

namespace cy = chrysalis;

static_assert(std::is_class_v<cy::Sgd> && std::is_class_v<cy::Adam> && std::is_class_v<cy::AdamW>);
static_assert(std::is_class_v<cy::CrossEntropy> && std::is_class_v<cy::Distillation> &&
              std::is_class_v<cy::SoftTargetCrossEntropy>);
static_assert(std::is_class_v<cy::TrainOptions<float>> && std::is_class_v<cy::EarlyStopping>);

// Any network type with the members fit, distill and evaluate use: the calls below are only
// instantiated if this template is, which nothing does; their names must still be found.
template <class Net>
void trains(Net& net, const cy::Dataset<float>& data, const cy::Matrix<float>& soft) {
    cy::Sgd sgd{.lr = 0.05, .momentum = 0.9};
    cy::fit(net, data, cy::CrossEntropy{}, sgd, {.epochs = 1});
    cy::distill(net, data, soft, cy::Distillation{}, sgd);
    (void)cy::evaluate(net, data);
    (void)cy::accuracy(net, data);
    (void)cy::predict_logits(net, data);
}
