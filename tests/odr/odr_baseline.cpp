// The one-definition test's baseline unit: compiled for plain x86-64 (no -march=native; see
// tests/CMakeLists.txt), it must run chrysalis's baseline kernels, never the native unit's.
#define ODR_UNIT_FUNCTION run_baseline_unit
#include "odr_unit.hpp"
