// The training core: what core_dependencies.cmake checks includes no file I/O.
#include <chrysalis/concepts.hpp>
#include <chrysalis/gradcheck.hpp>
#include <chrysalis/layers/activations.hpp>
#include <chrysalis/layers/dense.hpp>
#include <chrysalis/layers/dropout.hpp>
#include <chrysalis/losses.hpp>
#include <chrysalis/network.hpp>
#include <chrysalis/optim.hpp>
#include <chrysalis/train.hpp>
