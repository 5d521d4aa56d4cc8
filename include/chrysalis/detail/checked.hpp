#pragma once
// chrysalis/detail/checked.hpp — hyperparameters that check themselves when constructed, so an
// aggregate such as `Sgd{.lr = 0.05, .momentum = 0.9}` throws chrysalis::ValueError at
// construction for a bad value, and the message names the parameter and its owner.

#include "chrysalis/isa.hpp"  // first: see its note on GCC bug 105593

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <limits>
#include <stdexcept>
#include <string_view>

#include "chrysalis/config.hpp"
#include "chrysalis/errors.hpp"

namespace chrysalis::inline CHRYSALIS_ISA_NAMESPACE::detail {

/// A string usable as a template argument: Checked<"chrysalis::Sgd: learning rate lr", …>.
template <std::size_t N>
struct FixedString {
    char text[N]{};
    constexpr FixedString() = default;
    constexpr FixedString(const char (&s)[N]) { std::copy_n(s, N, text); }  // NOLINT: implicit
    [[nodiscard]] constexpr std::string_view view() const { return {text, N - 1}; }
};

/// The concatenation: FixedString("chrysalis::") + Name + FixedString(": beta1").
template <std::size_t A, std::size_t B>
constexpr FixedString<A + B - 1> operator+(const FixedString<A>& a, const FixedString<B>& b) {
    FixedString<A + B - 1> joined;
    std::copy_n(a.text, A - 1, joined.text);
    std::copy_n(b.text, B, joined.text + (A - 1));
    return joined;
}

/// The rules a Checked value may follow.
enum class Rule {
    positive,        ///< in [FLT_MIN, FLT_MAX]: finite, > 0 and a normal float
    non_negative,    ///< finite, ≥ 0 and ≤ FLT_MAX
    unit_closed,     ///< in [0, 1]
    unit_half_open,  ///< in [0, 1)
    temperature,     ///< in [min_temperature, max_temperature] (see config.hpp)
};

/// A double that satisfies `R` from the moment it exists; converts to double.
template <FixedString Name, Rule R>
class Checked {
  public:
    constexpr Checked(double v) : value_(v) { check(v); }  // NOLINT: implicit, for aggregates
    constexpr operator double() const noexcept { return value_; }  // NOLINT
    [[nodiscard]] constexpr double value() const noexcept { return value_; }

  private:
    static void check(double v) {
        const bool ok = R == Rule::positive       ? (std::isfinite(v) && v > 0)
                        : R == Rule::non_negative ? (std::isfinite(v) && v >= 0)
                        : R == Rule::unit_closed  ? (v >= 0 && v <= 1)
                        : R == Rule::temperature  ? (std::isfinite(v) && v > 0)
                                                  : (v >= 0 && v < 1);
        if (!ok) {
            const char* expected = R == Rule::positive       ? "a finite number > 0"
                                   : R == Rule::non_negative ? "a finite number >= 0"
                                   : R == Rule::unit_closed  ? "in [0, 1]"
                                   : R == Rule::temperature  ? "a finite number > 0"
                                                             : "in [0, 1)";
            throw ValueError(concat(Name.view(), " must be ", expected, ", got ", v));
        }
        if (R == Rule::temperature && !(v >= min_temperature && v <= max_temperature))
            throw ValueError(concat(Name.view(), " must be ", temperature_range_text, ", got ", v));
        // A positive value must stay a positive finite number in a float network too: above
        // float's largest it is ∞ there (an lr of 1e300), below its smallest normal it is 0 or
        // loses its precision.
        constexpr double hi = double(std::numeric_limits<float>::max());
        constexpr double lo = double(std::numeric_limits<float>::min());
        if ((R == Rule::positive || R == Rule::non_negative) && v > hi) {
            throw ValueError(
                concat(Name.view(), " must be at most ", hi, " (float's largest value), got ", v));
        }
        if (R == Rule::positive && v < lo) {
            throw ValueError(concat(Name.view(), " must be at least ", lo,
                                    " (float's smallest normal value), got ", v));
        }
        // A value below 1 must stay below 1 in a float network too: above 1 − 2^-25 it rounds
        // to 1.0f there (a beta1 of 0.99999999 would freeze Adam's first moment at 0).
        if (R == Rule::unit_half_open && !(static_cast<float>(v) < 1.0f)) {
            constexpr double below_one = 1.0 - double(std::numeric_limits<float>::epsilon()) / 2;
            throw ValueError(concat(Name.view(), " must round to a float below 1, got ", v,
                                    ", which rounds to 1 in a float network; expected at most ",
                                    below_one, " (float's largest value below 1)"));
        }
    }
    double value_;
};

}  // namespace chrysalis::inline CHRYSALIS_ISA_NAMESPACE::detail
