#pragma once
// chrysalis/config.hpp — the library version (the one source of it: CMakeLists.txt reads these
// three lines), the default scalar type, and the small helpers every header uses to report bad
// arguments.

#include <cmath>
#include <sstream>
#include <stdexcept>
#include <string>
#include <string_view>
#include <type_traits>

#include "chrysalis/errors.hpp"

#define CHRYSALIS_VERSION_MAJOR 0
#define CHRYSALIS_VERSION_MINOR 1
#define CHRYSALIS_VERSION_PATCH 0

#define CHRYSALIS_DETAIL_STR2(x) #x
#define CHRYSALIS_DETAIL_STR(x) CHRYSALIS_DETAIL_STR2(x)
/// The version as "major.minor.patch", e.g. "0.1.0".
#define CHRYSALIS_VERSION_STRING                                                \
    CHRYSALIS_DETAIL_STR(CHRYSALIS_VERSION_MAJOR)                               \
    "." CHRYSALIS_DETAIL_STR(CHRYSALIS_VERSION_MINOR) "." CHRYSALIS_DETAIL_STR( \
        CHRYSALIS_VERSION_PATCH)

namespace chrysalis {

/// The library version, as three numbers and as a string.
struct Version {
    int major;
    int minor;
    int patch;
};
inline constexpr Version version{CHRYSALIS_VERSION_MAJOR, CHRYSALIS_VERSION_MINOR,
                                 CHRYSALIS_VERSION_PATCH};
inline constexpr std::string_view version_string = CHRYSALIS_VERSION_STRING;

/// The scalar type used when a template is not given one. float is what training runs in;
/// double is for gradient checks and references.
using DefaultScalar = float;

/// True for the scalar types the numerical kernels are written for.
template <class T>
inline constexpr bool is_supported_scalar_v =
    std::is_same_v<std::remove_cv_t<T>, float> || std::is_same_v<std::remove_cv_t<T>, double>;

namespace detail {

/// Formats any streamable values into one string: detail::concat("T = ", t, " is invalid").
template <class... Parts>
[[nodiscard]] std::string concat(const Parts&... parts) {
    std::ostringstream out;
    out.precision(17);
    (out << ... << parts);
    return out.str();
}

/// Throws ValueError unless `value` is a finite number > 0.
/// `what` names the function, `name` the parameter, so the message reads
/// "chrysalis::softmax: temperature T must be a finite number > 0, got -1".
inline void require_positive_finite(double value, std::string_view what, std::string_view name) {
    if (!(value > 0.0) || !std::isfinite(value)) {
        throw ValueError(concat(what, ": ", name, " must be a finite number > 0, got ", value));
    }
}

}  // namespace detail
}  // namespace chrysalis
