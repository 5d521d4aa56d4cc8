#pragma once
// chrysalis/boundary_similarity.hpp — how alike two networks' decision boundaries are, by the two
// measures of Heo, Lee, Yun & Choi (AAAI 2019, arXiv 1805.05532): MagSim and AngSim, from each
// network's own boundary-supporting samples (boundary_samples.hpp) of the same bases toward the
// same targets. docs/boundary-samples.md has the math. No file I/O.

#include "chrysalis/isa.hpp"  // first: see its note on GCC bug 105593

#include <Eigen/Core>

#include <algorithm>
#include <cstddef>
#include <limits>
#include <type_traits>
#include <vector>

#include "chrysalis/boundary_samples.hpp"
#include "chrysalis/config.hpp"
#include "chrysalis/dataset.hpp"
#include "chrysalis/detail/data_checks.hpp"
#include "chrysalis/errors.hpp"
#include "chrysalis/random.hpp"
#include "chrysalis/tensor.hpp"

namespace chrysalis::inline CHRYSALIS_ISA_NAMESPACE {

/// How alike two networks' decision boundaries are, by the paper's two measures, on base samples
/// that both classify correctly: from each base x (class b) toward the same target k, each
/// network's own boundary-supporting sample, x_t (first network) and x_s (second), and their
/// perturbations v_t = x_t − x, v_s = x_s − x. Over the pairs where both reached the boundary:
///   magsim = mean of min(‖v_t‖, ‖v_s‖)/max(‖v_t‖, ‖v_s‖)   (1: equally far; 0: very unequal)
///   angsim = mean of cos ∠(v_t, v_s)                      (1: same direction; −1: opposite)
struct BoundarySimilarity {
    double magsim = std::numeric_limits<double>::quiet_NaN();
    double angsim = std::numeric_limits<double>::quiet_NaN();
    Eigen::Index pairs = 0;  ///< pairs in the means (NaN means when 0)
    Eigen::Index bases = 0;  ///< base samples both networks classify correctly
};

/// boundary_similarity(teacher, student, data, options, max_bases): MagSim and AngSim (see
/// BoundarySimilarity) between two networks of the same input and output widths, on the first
/// max_bases samples of `data` both classify correctly, the targets chosen from the first
/// network's logits as options.target says.
/// Requires: networks as for boundary_samples.
/// Ensures: a network with itself gives magsim = angsim = 1 (to rounding) on every pair.
/// Throws: ValueError for max_bases < 1 or a bad option, ShapeError/ValueError for data that
///   does not fit the networks (as accuracy), ValueError for a NaN or infinite parameter or
///   logit of either network (a NaN logit has no class, so no base could be chosen honestly),
///   each naming chrysalis::boundary_similarity.
template <class Teacher, class Student>
BoundarySimilarity boundary_similarity(Teacher& teacher, Student& student,
                                       const Dataset<typename Teacher::scalar_type>& data,
                                       const BssOptions& options = {},
                                       Eigen::Index max_bases = 1000) {
    static_assert(
        Teacher::input_size == Student::input_size && Teacher::output_size == Student::output_size,
        "chrysalis::boundary_similarity: the networks differ in input or output width");
    static_assert(std::is_same_v<typename Teacher::scalar_type, typename Student::scalar_type>,
                  "chrysalis::boundary_similarity: the networks differ in scalar type");
    static_assert(Teacher::output_size >= 2,
                  "chrysalis::boundary_similarity: a boundary needs at least two classes");
    using S = typename Teacher::scalar_type;
    constexpr const char* what = "chrysalis::boundary_similarity";
    detail::check_bss_generation(options, what);
    if (max_bases < 1)
        throw ValueError(detail::concat(what, ": max_bases must be >= 1, got ", max_bases));
    detail::check_data<Teacher>(data, what);
    detail::check_labels<Teacher>(data, what);
    detail::require_finite_parameters(teacher, what, "the first network (teacher)");
    detail::require_finite_parameters(student, what, "the second network (student)");
    const Matrix<S> zt = teacher.forward(data.features, Mode::inference);
    const Matrix<S> zs = student.forward(data.features, Mode::inference);
    // A NaN logit would make maxCoeff's class, hence the bases chosen, arbitrary.
    detail::require_finite(zt, what, "the first network's (teacher's) logits", "logit");
    detail::require_finite(zs, what, "the second network's (student's) logits", "logit");
    std::vector<Eigen::Index> chosen;
    for (Eigen::Index j = 0; j < data.size() && Eigen::Index(chosen.size()) < max_bases; ++j) {
        Eigen::Index at = 0, as = 0;
        zt.col(j).maxCoeff(&at);
        zs.col(j).maxCoeff(&as);
        if (at == data.labels[std::size_t(j)] && as == at) chosen.push_back(j);
    }
    BoundarySimilarity out;
    out.bases = Eigen::Index(chosen.size());
    if (chosen.empty()) return out;
    Matrix<S> x(Teacher::input_size, out.bases), z(Teacher::output_size, out.bases);
    std::vector<int> base(chosen.size());
    for (std::size_t i = 0; i < chosen.size(); ++i) {
        x.col(Eigen::Index(i)) = data.features.col(chosen[i]);
        z.col(Eigen::Index(i)) = zt.col(chosen[i]);
        base[i] = data.labels[std::size_t(chosen[i])];
    }
    Rng rng(options.seed);
    const std::vector<int> target = detail::choose_targets(z, base, options.target, rng);
    const auto t = detail::generate_boundary_samples(teacher, x, base, target, options);
    const auto s = detail::generate_boundary_samples(student, x, base, target, options);
    double mag = 0, ang = 0;
    for (Eigen::Index j = 0; j < out.bases; ++j) {
        if (!t.reached[std::size_t(j)] || !s.reached[std::size_t(j)]) continue;
        const Vector<double> vt = (t.samples.col(j) - x.col(j)).template cast<double>();
        const Vector<double> vs = (s.samples.col(j) - x.col(j)).template cast<double>();
        const double nt = vt.norm(), ns = vs.norm();
        if (!(nt > 0) || !(ns > 0)) continue;  // a base already on the boundary has no direction
        mag += std::min(nt, ns) / std::max(nt, ns);
        ang += vt.dot(vs) / (nt * ns);
        ++out.pairs;
    }
    if (out.pairs > 0) {
        out.magsim = mag / double(out.pairs);
        out.angsim = ang / double(out.pairs);
    }
    return out;
}

}  // namespace chrysalis::inline CHRYSALIS_ISA_NAMESPACE
