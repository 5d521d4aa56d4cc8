#pragma once
// Shared by test_hostile_names.cpp and test_silent_answers.cpp: `thrown<E>(f)` (the message of
// the exception f throws, failing the test unless its dynamic type is exactly E), a small network
// and data set, and a way to poison one parameter.

#include <catch2/catch.hpp>

#include <chrysalis/attacks.hpp>
#include <chrysalis/boundary_samples.hpp>
#include <chrysalis/chrysalis.hpp>
#include <chrysalis/cross_modal.hpp>

#include <cstddef>
#include <limits>
#include <string>
#include <typeinfo>

namespace chrysalis::test {

constexpr float nan_f = std::numeric_limits<float>::quiet_NaN();
constexpr float inf_f = std::numeric_limits<float>::infinity();

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

using SmallNet = Sequential<Dense<4, 8>, ReLU, Dense<8, 3>>;

/// n samples of 4 features in [0.5, 1.5), labels i % 3, classes 3.
inline Dataset<float> small_set(Eigen::Index n = 12) {
    Rng rng(Seed{3});
    Dataset<float> d;
    d.classes = 3;
    d.features.resize(4, n);
    for (Eigen::Index i = 0; i < d.features.size(); ++i)
        d.features.data()[i] = float(rng.uniform(0.5, 1.5));
    for (Eigen::Index j = 0; j < n; ++j) d.labels.push_back(int(j % 3));
    return d;
}

/// Sets entry (row, col) of parameter block `which` (visit_parameters order) to v.
template <class Net>
void poison(Net& net, std::size_t which, Eigen::Index row, Eigen::Index col, float v) {
    std::size_t block = 0;
    net.visit_parameters([&](auto& p, auto&) {
        if (block++ == which) p(row, col) = v;
    });
}

}  // namespace chrysalis::test
