#pragma once
// Shared by the hostile-input tests: thrown.hpp's `thrown<E>(f)`, a small network and data set,
// and a way to poison one parameter.

#include <catch2/catch.hpp>

#include "thrown.hpp"

#include <chrysalis/attacks.hpp>
#include <chrysalis/boundary_distill.hpp>
#include <chrysalis/boundary_samples.hpp>
#include <chrysalis/boundary_similarity.hpp>
#include <chrysalis/chrysalis.hpp>
#include <chrysalis/cross_modal.hpp>

#include <cstddef>
#include <string>

namespace chrysalis::test {

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
