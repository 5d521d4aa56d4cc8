// The one-definition test's native unit: compiled with the suite's flags (-march=native).
#define ODR_UNIT_FUNCTION run_native_unit
#include "odr_unit.hpp"
