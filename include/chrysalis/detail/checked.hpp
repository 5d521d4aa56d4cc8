#pragma once
// chrysalis/detail/checked.hpp — hyperparameters that check themselves when constructed, so an
// aggregate such as `Sgd{.lr = 0.05, .momentum = 0.9}` throws chrysalis::ValueError at
// construction for a bad value, and the message names the parameter and its owner.

#include "chrysalis/isa.hpp"  // first: see its note on GCC bug 105593

#include <algorithm>
#include <cmath>
#include <cstddef>
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
    positive,        ///< finite and > 0
    non_negative,    ///< finite and ≥ 0
    unit_closed,     ///< in [0, 1]
    unit_half_open,  ///< in [0, 1)
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
                                                  : (v >= 0 && v < 1);
        if (!ok) {
            const char* expected = R == Rule::positive       ? "a finite number > 0"
                                   : R == Rule::non_negative ? "a finite number >= 0"
                                   : R == Rule::unit_closed  ? "in [0, 1]"
                                                             : "in [0, 1)";
            throw ValueError(concat(Name.view(), " must be ", expected, ", got ", v));
        }
    }
    double value_;
};

}  // namespace chrysalis::inline CHRYSALIS_ISA_NAMESPACE::detail
