#pragma once
// chrysalis/concepts.hpp — every concept the library's templates check, one header each under
// chrysalis/concepts/.

#include "chrysalis/isa.hpp"  // first: see its note on GCC bug 105593

#include "chrysalis/concepts/layer.hpp"
#include "chrysalis/concepts/loss.hpp"
#include "chrysalis/concepts/observer.hpp"
#include "chrysalis/concepts/optimizer.hpp"
