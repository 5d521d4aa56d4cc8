#pragma once
// chrysalis/chrysalis.hpp — the umbrella header: everything the library offers.

#include "chrysalis/config.hpp"
#include "chrysalis/softmax.hpp"
