// The version has one source, and the argument helpers say what was wrong.
#include <catch2/catch.hpp>

#include <chrysalis/config.hpp>

#include <limits>
#include <string>

TEST_CASE("the version string is made of the version numbers", "[config]") {
    const std::string expected = std::to_string(chrysalis::version.major) + "." +
                                 std::to_string(chrysalis::version.minor) + "." +
                                 std::to_string(chrysalis::version.patch);
    CHECK(chrysalis::version_string == expected);
}

TEST_CASE("require_positive_finite accepts positive numbers and names what it rejects",
          "[config]") {
    using chrysalis::detail::require_positive_finite;
    CHECK_NOTHROW(require_positive_finite(1e-300, "f", "x"));
    CHECK_NOTHROW(require_positive_finite(std::numeric_limits<double>::max(), "f", "x"));
    CHECK_THROWS_WITH(require_positive_finite(-2.5, "chrysalis::f", "rate r"),
                      "chrysalis::f: rate r must be a finite number > 0, got -2.5");
    CHECK_THROWS_AS(require_positive_finite(std::numeric_limits<double>::quiet_NaN(), "f", "x"),
                    chrysalis::ValueError);
    CHECK_THROWS_AS(require_positive_finite(std::numeric_limits<double>::infinity(), "f", "x"),
                    chrysalis::ValueError);
}
