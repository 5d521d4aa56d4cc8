#pragma once
// chrysalis/chrysalis.hpp — the umbrella header: everything the library offers.

#include "chrysalis/concepts.hpp"
#include "chrysalis/config.hpp"
#include "chrysalis/gradcheck.hpp"
#include "chrysalis/layers/activations.hpp"
#include "chrysalis/layers/dense.hpp"
#include "chrysalis/layers/dropout.hpp"
#include "chrysalis/losses.hpp"
#include "chrysalis/network.hpp"
#include "chrysalis/optim.hpp"
#include "chrysalis/random.hpp"
#include "chrysalis/softmax.hpp"
#include "chrysalis/tensor.hpp"
