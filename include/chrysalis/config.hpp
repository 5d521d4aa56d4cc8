#pragma once
// chrysalis/config.hpp — the library version (the one source of it: CMakeLists.txt reads these
// three lines), the default scalar type, and the small helpers every header uses to report bad
// arguments.

#include "chrysalis/isa.hpp"  // first: see its note on GCC bug 105593

#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstdio>
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

namespace chrysalis::inline CHRYSALIS_ISA_NAMESPACE {

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

/// The temperatures the distillation losses (Distillation, SoftTargetCrossEntropy, ReverseKL),
/// ensemble_probabilities and BssOptions accept: T in [1e-3, 1e3]. Inside it 1/T and T² are
/// finite, and the KL of logits that differ by O(1), O(1/T²) ≥ ~1e-6, stays far above the ~1e-16
/// rounding of its terms. Outside it, T = 1e-310 made 1/T infinite (a NaN gradient), T = 1e200
/// made T² infinite, and at T = 1e10 the KL (~1e-20) sank below the rounding of log Σ exp and came
/// out negative. Defensive distillation's T = 100 is inside.
inline constexpr double min_temperature = 1e-3;
inline constexpr double max_temperature = 1e3;

/// The byte limit every loader applies by default (IdxOptions::max_bytes, CsvOptions::max_bytes,
/// and the max_bytes argument of load, load_npy, import_npy and load_checkpoint): 4 GiB of file
/// data, counted after gzip decompression. A file with more is refused with FormatError before
/// the rest is read or allocated, so a gzip bomb or a runaway file stops here rather than at the
/// machine's memory. It is generous on purpose: MNIST's 60,000 training images are 47 MB of IDX
/// bytes (188 MB as floats), and 4 GiB of IDX bytes already become 16 GiB of floats, 4 GiB of
/// CSV text up to 8 GiB; it is also the most a gzip trailer's 32-bit length field can state.
/// Pass a smaller limit for files from untrusted sources, a larger one for larger data.
inline constexpr std::uint64_t default_max_bytes = std::uint64_t(4) << 30;

namespace detail {

/// "float" or "double": the scalar type's name in file formats and layer names.
template <class S>
constexpr std::string_view scalar_name() {
    static_assert(is_supported_scalar_v<S>, "chrysalis: the scalar type must be float or double");
    if constexpr (std::is_same_v<S, float>) return "float";
    return "double";
}

// concat's pieces: one non-template function per kind of value, so that each concat call is a
// row of plain calls rather than an std::ostringstream instantiated per list of argument types.
[[gnu::noinline]] inline void append_text(std::string& out, std::string_view text) {
    out += text;
}
[[gnu::noinline]] inline void append_signed(std::string& out, long long value) {
    char buffer[24];
    out.append(buffer, std::to_chars(buffer, buffer + sizeof buffer, value).ptr);
}
[[gnu::noinline]] inline void append_unsigned(std::string& out, unsigned long long value) {
    char buffer[24];
    out.append(buffer, std::to_chars(buffer, buffer + sizeof buffer, value).ptr);
}
[[gnu::noinline]] inline void append_floating(std::string& out, double value) {
    char buffer[32];
    const int n = std::snprintf(buffer, sizeof buffer, "%.17g", value);
    out.append(buffer, std::size_t(n > 0 ? n : 0));
}

/// Appends one value as an std::ostream with precision 17 writes it: text as it is, a character
/// as itself, integers (and bool, as 0 or 1) in decimal, float and double as "%.17g".
template <class T>
void append_part(std::string& out, const T& value) {
    if constexpr (std::is_convertible_v<const T&, std::string_view>) {
        append_text(out, value);
    } else if constexpr (std::is_same_v<T, const char*> || std::is_same_v<T, char*>) {
        append_text(out, value != nullptr ? std::string_view(value) : std::string_view());
    } else if constexpr (std::is_same_v<T, char> || std::is_same_v<T, signed char> ||
                         std::is_same_v<T, unsigned char>) {
        out += char(value);
    } else if constexpr (std::is_integral_v<T> && std::is_signed_v<T>) {
        append_signed(out, value);
    } else if constexpr (std::is_integral_v<T>) {
        append_unsigned(out, value);
    } else {
        static_assert(std::is_floating_point_v<T>, "chrysalis::detail::concat: unsupported type");
        append_floating(out, double(value));
    }
}

/// Formats values into one string: detail::concat("T = ", t, " is invalid"), as an std::ostream
/// with precision 17 would (see append_part). Cold: it builds error messages.
template <class... Parts>
[[nodiscard, gnu::cold]] std::string concat(const Parts&... parts) {
    std::string out;
    (append_part(out, parts), ...);
    return out;
}

/// "0x1234abcd": a 32-bit value as eight hexadecimal digits, for messages about magic numbers
/// and checksums.
[[nodiscard]] inline std::string hex32(std::uint32_t value) {
    char text[11];
    std::snprintf(text, sizeof text, "0x%08x", unsigned{value});
    return text;
}

/// Throws ValueError unless `value` is a finite number > 0.
/// `what` names the function, `name` the parameter, so the message reads
/// "chrysalis::softmax: temperature T must be a finite number > 0, got -1".
inline void require_positive_finite(double value, std::string_view what, std::string_view name) {
    if (!(value > 0.0) || !std::isfinite(value)) {
        throw ValueError(concat(what, ": ", name, " must be a finite number > 0, got ", value));
    }
}

inline constexpr const char* temperature_range_text = "in [0.001, 1000]";

/// Throws ValueError unless `value` is a temperature in [min_temperature, max_temperature]:
/// "chrysalis::Distillation: temperature must be in [0.001, 1000], got 1e+200".
inline void require_temperature(double value, std::string_view what, std::string_view name) {
    require_positive_finite(value, what, name);  // the message of every positive parameter
    if (!(value >= min_temperature && value <= max_temperature)) {
        throw ValueError(
            concat(what, ": ", name, " must be ", temperature_range_text, ", got ", value));
    }
}

}  // namespace detail
}  // namespace chrysalis::inline CHRYSALIS_ISA_NAMESPACE
