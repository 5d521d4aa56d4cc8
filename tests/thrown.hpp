#pragma once
// tests/thrown.hpp — `thrown<E>(f)`, the one way the error tests look at an exception: the
// message of the exception f throws, after checking that its dynamic type is exactly E (not
// merely derived from it); the test fails if f throws nothing or something else. And the float
// NaN and infinity the hostile-input tests feed.

#include <catch2/catch.hpp>

#include <exception>
#include <limits>
#include <string>
#include <typeinfo>

namespace chrysalis::test {

inline constexpr float nan_f = std::numeric_limits<float>::quiet_NaN();
inline constexpr float inf_f = std::numeric_limits<float>::infinity();

template <class E, class F>
std::string thrown(F&& f) {
    try {
        f();
    } catch (const E& e) {
        INFO("message: " << e.what());
        CHECK(typeid(e) == typeid(E));
        return e.what();
    } catch (const std::exception& e) {
        FAIL("expected " << typeid(E).name() << ", got " << typeid(e).name() << ": " << e.what());
    }
    FAIL("expected " << typeid(E).name() << ", nothing was thrown");
    return "";
}

}  // namespace chrysalis::test
