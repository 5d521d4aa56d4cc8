#pragma once
// chrysalis/train.hpp — training and evaluation in one include: fit (fit.hpp), distill and
// distill_soft (distill.hpp), the losses (losses.hpp) and optimizers (optim.hpp) they train
// with, ensemble soft targets (ensemble.hpp), predict_logits, accuracy and evaluate
// (evaluate.hpp), the observers (observers.hpp). It reads and writes no files: checkpoints of a
// run are chrysalis/checkpointing.hpp's Checkpointing observer.

#include "chrysalis/isa.hpp"  // first: see its note on GCC bug 105593

#include "chrysalis/distill.hpp"
#include "chrysalis/ensemble.hpp"
#include "chrysalis/evaluate.hpp"
#include "chrysalis/fit.hpp"
#include "chrysalis/losses.hpp"
#include "chrysalis/observers.hpp"
#include "chrysalis/optim.hpp"
#include "chrysalis/train_options.hpp"
