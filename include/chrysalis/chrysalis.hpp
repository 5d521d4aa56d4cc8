#pragma once
// chrysalis/chrysalis.hpp — the umbrella header: everything the library offers.

#include "chrysalis/isa.hpp"  // first: see its note on GCC bug 105593

#include "chrysalis/checkpoint.hpp"
#include "chrysalis/concepts.hpp"
#include "chrysalis/concepts/loss.hpp"
#include "chrysalis/config.hpp"
#include "chrysalis/data.hpp"
#include "chrysalis/errors.hpp"
#include "chrysalis/gradcheck.hpp"
#include "chrysalis/labels.hpp"
#include "chrysalis/layer_traits.hpp"
#include "chrysalis/layers/activations.hpp"
#include "chrysalis/layers/dense.hpp"
#include "chrysalis/layers/dropout.hpp"
#include "chrysalis/losses.hpp"
#include "chrysalis/metrics.hpp"
#include "chrysalis/network.hpp"
#include "chrysalis/optim.hpp"
#include "chrysalis/output.hpp"
#include "chrysalis/random.hpp"
#include "chrysalis/serialize.hpp"
#include "chrysalis/softmax.hpp"
#include "chrysalis/tensor.hpp"
#include "chrysalis/train.hpp"
