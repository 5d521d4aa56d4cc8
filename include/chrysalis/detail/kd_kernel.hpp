#pragma once
// chrysalis/detail/kd_kernel.hpp — the distillation loss and its gradient in one pass over the
// logits: for each sample, the student's softmax at T and at 1, the teacher's softmax at T (or
// its given probabilities), the KL and cross-entropy terms and the gradient, without writing any
// intermediate matrix.
//
//   L = α·T²·(1/B)·Σ_b KL(p_t ‖ p_s^T) + (1 − α)·(1/B)·Σ_b CE(y_b, p_s^1)
//   ∂L/∂z_s = α·T·(p_s^T − p_t)/B + (1 − α)·(p_s^1 − onehot(y))/B
//   KL = Σ_i p_t,i·(log p_t,i − log p_s,i);  with teacher logits,
//        log p_t,i − log p_s,i = ((z_t,i − m_t) − (z_s,i − m_s))/T + log(S_s/S_t)
//   (0·log 0 = 0: terms with p_t,i = 0 contribute nothing).
//
// Everything is computed in double, whatever the logits' type: at T = 100 the KL of two float
// distributions is of the order of their rounding, and T² = 10⁴ magnifies it (see the reference
// tolerances). Samples are processed W at a time across SIMD lanes (lane = sample) when a column
// has at most 32 classes — the usual distillation case — and one by one otherwise.

#include "chrysalis/isa.hpp"  // first: see its note on GCC bug 105593

#include <Eigen/Core>

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <span>
#include <tuple>
#include <utility>

#include "chrysalis/detail/softmax_kernels.hpp"

namespace chrysalis::inline CHRYSALIS_ISA_NAMESPACE::detail {

/// One column's maximum and log Σ exp((z − m)·t), in double.
/// Requires: z has at least one entry (the public losses refuse 0 classes at their door).
template <class Col>
std::pair<double, double> softmax_stats(const Col& z, double t) {
    const double m = double(z.maxCoeff());
    double s = 0;
    for (Eigen::Index i = 0; i < z.size(); ++i) s += std::exp((double(z(i)) - m) * t);
    return {m, std::log(s)};
}

/// Column z's cross-entropy −log softmax(z)[y] divided by n, from the halved gap:
/// (m/2 − z_y/2)·(2/n) + log Σ exp(z − m)/n. Finite wherever the quotient is, a gap m − z_y
/// beyond DBL_MAX (double logits ±1e308) included: the mean of such terms is what CrossEntropy
/// and evaluate return where their plain sum overflows. Requires z non-empty, y a row of it.
template <class Col>
double neg_log_p_over(const Col& z, Eigen::Index y, double n) {
    const auto [m, log_s] = softmax_stats(z, 1.0);
    return (0.5 * m - 0.5 * double(z(y))) * (2 / n) + log_s / n;
}

/// The settings of one distillation pass.
struct KdSettings {
    double temperature;
    double alpha;
    bool soft;         ///< zt holds probabilities at T rather than logits
    double inv_batch;  ///< 1/B
};

/// The teacher's probability of class i in sample b and its log: given (`soft`), or from its
/// logits at 1/T = t with the column's maximum mt and log Σ exp, log_st (softmax_stats). A given
/// probability of 0 has log 0 (its term is skipped); != 0 rather than > 0, so that a NaN (or
/// negative) probability makes the KL NaN, not a plausible number with that entry skipped.
template <class ZT>
std::pair<double, double> teacher_p_log_p(const ZT& zt, Eigen::Index i, Eigen::Index b, bool soft,
                                          double t, double mt, double log_st) {
    if (soft) {
        const double pt = double(zt(i, b));
        return {pt, pt != 0 ? std::log(pt) : 0};
    }
    const double log_pt = (double(zt(i, b)) - mt) * t - log_st;
    return {std::exp(log_pt), log_pt};
}

/// Sample b, one at a time: writes its gradient column and returns {KL, CE} (CE is 0 if α = 1).
template <class ZS, class ZT, class G>
std::pair<double, double> distillation_column(const ZS& zs, const ZT& zt,
                                              std::span<const int> labels, Eigen::Index b,
                                              const KdSettings& k, G& grad) {
    using S = typename G::Scalar;
    const double t = 1.0 / k.temperature;
    const bool hard = k.alpha < 1;
    const auto z = zs.col(b);
    const auto [ms, log_ss] = softmax_stats(z, t);
    double mt = 0, log_st = 0;
    if (!k.soft) std::tie(mt, log_st) = softmax_stats(zt.col(b), t);
    double log_s1 = 0;
    if (hard) log_s1 = softmax_stats(z, 1.0).second;
    double kl = 0;
    for (Eigen::Index i = 0; i < zs.rows(); ++i) {
        const double log_ps = (double(z(i)) - ms) * t - log_ss;
        const auto [pt, log_pt] = teacher_p_log_p(zt, i, b, k.soft, t, mt, log_st);
        if (pt != 0) kl += pt * (log_pt - log_ps);
        double g = k.alpha * k.temperature * (std::exp(log_ps) - pt);
        if (hard) g += (1 - k.alpha) * std::exp((double(z(i)) - ms) - log_s1);
        grad(i, b) = S(g * k.inv_batch);
    }
    double ce = 0;
    if (hard) {
        const int y = labels[std::size_t(b)];
        grad(y, b) -= S((1 - k.alpha) * k.inv_batch);
        ce = -((double(z(y)) - ms) - log_s1);
    }
    return {kl, ce};
}

#if !defined(CHRYSALIS_DISABLE_SIMD)

inline constexpr Eigen::Index kd_across_samples_max_rows = 32;

/// W consecutive samples starting at column c0, one per lane of a double register: the same
/// formulas as distillation_column. Adds each lane's KL and CE to kl_acc and ce_acc.
template <class ZS, class ZT, class G>
void distillation_block(const ZS& zs, const ZT& zt, std::span<const int> labels, Eigen::Index c0,
                        const KdSettings& k, G& grad, SimdBatch<double>& kl_acc,
                        SimdBatch<double>& ce_acc) {
    using B = SimdBatch<double>;
    using S = typename G::Scalar;
    constexpr Eigen::Index W = B::size;
    constexpr Eigen::Index R_max = kd_across_samples_max_rows;
    constexpr double log2e = 1.44269504088896340736;
    const Eigen::Index rows = zs.rows();
    const bool hard = k.alpha < 1;
    alignas(B::arch_type::alignment()) double tile[R_max * W];

    // Transpose the block into registers: vs[i] lane l = z_s(i, c0 + l).
    B vs[R_max], vt[R_max];
    auto load = [&](const auto& src, B* dst) {
        for (Eigen::Index l = 0; l < W; ++l)
            for (Eigen::Index i = 0; i < rows; ++i) tile[i * W + l] = double(src(i, c0 + l));
        for (Eigen::Index i = 0; i < rows; ++i) dst[i] = B::load_aligned(tile + i * W);
    };
    load(zs, vs);
    load(zt, vt);

    const B t(1.0 / k.temperature), t2(log2e / k.temperature), one2(log2e);
    B ms(-std::numeric_limits<double>::infinity()), mt = ms;
    for (Eigen::Index i = 0; i < rows; ++i) {
        ms = xsimd::max(ms, vs[i]);
        if (!k.soft) mt = xsimd::max(mt, vt[i]);
    }
    // es = exp((z_s − m_s)/T), e1 = exp(z_s − m_s), pt = exp((z_t − m_t)/T) (unnormalised).
    B es[R_max], e1[R_max], pt[R_max];
    B ss(0.0), s1(0.0), st(0.0);
    for (Eigen::Index i = 0; i < rows; ++i) {
        es[i] = exp2_nonpositive<double>((vs[i] - ms) * t2);
        ss += es[i];
        if (hard) {
            e1[i] = exp2_nonpositive<double>((vs[i] - ms) * one2);
            s1 += e1[i];
        }
        pt[i] = k.soft ? vt[i] : exp2_nonpositive<double>((vt[i] - mt) * t2);
        st += pt[i];
    }
    const B rs = B(1.0) / ss, r1 = B(1.0) / s1, rt = k.soft ? B(1.0) : B(1.0) / st;
    const B log_ss = xsimd::log(ss), log_s1 = xsimd::log(s1);
    const B log_ratio = xsimd::log(ss * rt);  // log(S_s/S_t) for teacher logits
    alignas(B::arch_type::alignment()) double y_lanes[W];
    for (Eigen::Index l = 0; l < W; ++l)
        y_lanes[l] = hard ? double(labels[std::size_t(c0 + l)]) : -1.0;
    const B y = B::load_aligned(y_lanes);

    const B a_t(k.alpha * k.temperature), a_h(1 - k.alpha), inv_b(k.inv_batch);
    B kl(0.0), z_y(0.0);
    for (Eigen::Index i = 0; i < rows; ++i) {
        const B p = pt[i] * rt;
        B log_diff;  // log p_t − log p_s
        if (k.soft) {
            log_diff = xsimd::log(p) - ((vs[i] - ms) * t - log_ss);
        } else {
            log_diff = ((vt[i] - mt) - (vs[i] - ms)) * t + log_ratio;
        }
        // p == 0 contributes nothing; a NaN p (== is false for it, while xsimd's != is an
        // ordered comparison, false too) makes the KL NaN, as in the scalar path.
        kl += xsimd::select(p == B(0.0), B(0.0), p * log_diff);
        B g = a_t * (es[i] * rs - p);
        if (hard) {
            const auto is_label = y == B(double(i));
            g += a_h * (e1[i] * r1 - xsimd::select(is_label, B(1.0), B(0.0)));
            z_y = xsimd::select(is_label, vs[i], z_y);
        }
        (g * inv_b).store_aligned(tile + i * W);
    }
    for (Eigen::Index l = 0; l < W; ++l)
        for (Eigen::Index i = 0; i < rows; ++i) grad(i, c0 + l) = S(tile[i * W + l]);
    // Each lane's KL is ≥ 0 exactly; clamp the rounding, keeping a NaN (max_pd would drop it).
    kl_acc += xsimd::select(kl < B(0.0), B(0.0), kl);
    if (hard) ce_acc += log_s1 - (z_y - ms);  // −log p_s^1[y]
}

#endif

/// Sample b's soft-target term from halved gaps, over 2T: T·(E + P·log S_s)/2 + Σ p_t·(m_s/2 −
/// z_i/2), with P = Σ p_t, S_s the student's Σ exp((z − m_s)·t) (its maximum m_s and log S_s
/// given), and E = Σ p_t·log p_t for the KL (`kl`) or 0 for the cross-entropy −Σ p_t·log p_s
/// (SoftTargetCrossEntropy's fallback). Entries of p_t = 0 are left out.
template <class Z, class ZT>
double soft_term_from_halves(const Z& z, const ZT& zt, Eigen::Index b, const KdSettings& k,
                             double ms, double log_ss, bool kl) {
    const double t = 1.0 / k.temperature;
    double mt = 0, log_st = 0;
    if (!k.soft) std::tie(mt, log_st) = softmax_stats(zt.col(b), t);
    double p_log_p = 0, mass = 0, gaps = 0;
    for (Eigen::Index i = 0; i < z.size(); ++i) {
        const auto [pt, log_pt] = teacher_p_log_p(zt, i, b, k.soft, t, mt, log_st);
        if (pt == 0) continue;
        if (kl) p_log_p += pt * log_pt;
        mass += pt;
        gaps += pt * (0.5 * ms - 0.5 * double(z(i)));
    }
    return k.temperature * (p_log_p + mass * log_ss) * 0.5 + gaps;
}

/// L again, for finite logits whose batch sum overflowed (distillation_loss calls it when L is
/// not finite): a student gap z_max − z_i beyond DBL_MAX makes a log-ratio −∞, although α·T²/B
/// (or (1 − α)/B) times the term can be representable. Each sample's two terms are taken from
/// halved gaps and scaled by their weight before they are summed:
///   α·T²/B·KL = 2·α·T/B·(T·(Σ p_t·log p_t + P·log S_s)/2 + Σ p_t·(m_s/2 − z_s/2)),
///   (1 − α)/B·CE = 2·(1 − α)/B·(log S_1/2 + m_s/2 − z_y/2),
/// with P = Σ p_t (1 for teacher logits) and S_s, S_1 the student's Σ exp((z − m_s)·t) at T and
/// at 1. Every term is ≥ 0 (the KL clamped as in the fast path), so a sum beyond double's range
/// means the exact L is too. A weight of 0 leaves its term out (0·∞ would be NaN).
template <class ZS, class ZT>
double distillation_loss_from_halves(const ZS& zs, const ZT& zt, std::span<const int> labels,
                                     const KdSettings& k) {
    const double t = 1.0 / k.temperature;
    double loss = 0;
    for (Eigen::Index b = 0; b < zs.cols(); ++b) {
        const auto z = zs.col(b);
        const auto [ms, log_ss] = softmax_stats(z, t);
        if (k.alpha > 0) {
            const double half = soft_term_from_halves(z, zt, b, k, ms, log_ss, true);
            loss += 2 * k.alpha * k.temperature * k.inv_batch * std::max(half, 0.0);
        }
        if (k.alpha < 1) {
            const double log_s1 = softmax_stats(z, 1.0).second;
            const double z_y = double(z(labels[std::size_t(b)]));
            loss += 2 * (1 - k.alpha) * k.inv_batch * (0.5 * log_s1 + (0.5 * ms - 0.5 * z_y));
        }
    }
    return loss;
}

/// The whole batch: writes ∂L/∂z_s into grad and returns L.
/// Requires: zs and zt classes × B with classes ≥ 1 and B ≥ 1, one label per column when
///   α < 1 (Distillation checks all of it before calling).
template <class ZS, class ZT, class G>
double distillation_loss(const ZS& zs, const ZT& zt, std::span<const int> labels,
                         double temperature, double alpha, bool soft, G& grad) {
    note_kernel_isa();
    const Eigen::Index batch = zs.cols();
    const KdSettings k{temperature, alpha, soft, 1.0 / double(batch)};
    double kl_sum = 0, ce_sum = 0;
    Eigen::Index b = 0;
#if !defined(CHRYSALIS_DISABLE_SIMD)
    constexpr Eigen::Index W = SimdBatch<double>::size;
    if (zs.rows() <= kd_across_samples_max_rows) {
        SimdBatch<double> kl_acc(0.0), ce_acc(0.0);
        for (; b + W <= batch; b += W)
            distillation_block(zs, zt, labels, b, k, grad, kl_acc, ce_acc);
        kl_sum = xsimd::hadd(kl_acc);
        ce_sum = xsimd::hadd(ce_acc);
    }
#endif
    for (; b < batch; ++b) {
        const auto [kl, ce] = distillation_column(zs, zt, labels, b, k, grad);
        kl_sum += std::max(kl, 0.0);  // ≥ 0 exactly; only rounding can make it negative
        ce_sum += ce;
    }
    const double loss = alpha * temperature * temperature * kl_sum * k.inv_batch +
                        (1 - alpha) * ce_sum * k.inv_batch;
    // Not finite from finite logits: a gap or a sum beyond double's range (the gradient, a
    // difference of probabilities, is unaffected). NaN or infinite inputs keep their answer, and
    // a negative probability keeps its NaN whatever α. (The inputs are read again only then.)
    if (std::isfinite(loss) || !zs.allFinite() || !zt.allFinite()) return loss;
    if (soft && !(zt.array() >= 0).all()) return loss;
    return distillation_loss_from_halves(zs, zt, labels, k);
}

}  // namespace chrysalis::inline CHRYSALIS_ISA_NAMESPACE::detail
