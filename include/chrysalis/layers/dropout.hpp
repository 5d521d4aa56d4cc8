#pragma once
// chrysalis/layers/dropout.hpp — inverted dropout.

#include "chrysalis/isa.hpp"  // first: see its note on GCC bug 105593

#include <Eigen/Core>

#include <cstdint>
#include <span>
#include <stdexcept>
#include <string>
#include <vector>

#include "chrysalis/config.hpp"
#include "chrysalis/detail/layer_shapes.hpp"
#include "chrysalis/errors.hpp"
#include "chrysalis/random.hpp"
#include "chrysalis/tensor.hpp"

namespace chrysalis::inline CHRYSALIS_ISA_NAMESPACE {

/// Dropout<Percent>: in Mode::training each value is kept with probability q and scaled by 1/q
/// (inverted dropout, so that E[y] = x, inference is the identity and needs no rescaling):
///   y = x ⊙ m / q,   m_ij ~ Bernoulli(q);   dx = dy ⊙ m / q.
/// In Mode::inference y = x and dx = dy. The rate starts at Percent/100 and can be changed with
/// set_rate. The mask comes from the layer's own seeded generator (Sequential seeds it), drawn
/// 16 bits at a time, so q is 1 − rate rounded to a multiple of 2^-16 (keep_probability()), and
/// the scale is that q's: 1/(1 − rate) would make E[y] = x·q/(1 − rate), 2x at max_rate.
/// freeze_mask(true) makes training-mode forwards reuse the last mask, for gradient checks.
template <int Percent = 50>
class Dropout {
    static_assert(Percent >= 0 && Percent < 100,
                  "chrysalis::Dropout<Percent>: Percent is the drop rate in percent, 0 to 99");

  public:
    static constexpr int input_size = same_width;
    static constexpr int output_size = same_width;

    Dropout() = default;
    /// A dropout layer with the given rate; see set_rate.
    explicit Dropout(double rate) { set_rate(rate); }

    /// "Dropout<50>" (the type; its default rate is 50/100). The current rate is a
    /// hyperparameter, saved and restored.
    static std::string name() { return detail::concat("Dropout<", Percent, ">"); }
    /// {rate}.
    [[nodiscard]] std::vector<double> hyperparameters() const { return {rate_}; }
    /// Sets the rate from {rate}. Throws ValueError, leaving the layer unchanged, unless values
    /// holds exactly one value in [0, max_rate] (see set_rate).
    void set_hyperparameters(std::span<const double> values) {
        if (values.size() != 1)
            throw ValueError(detail::concat(
                "chrysalis::Dropout::set_hyperparameters: expected 1 value (rate), got ",
                values.size()));
        set_rate(values[0]);
    }

    /// The largest rate whose mask keeps anything: the keep probability is rounded to a multiple
    /// of 2^-16, and above 1 − 2^-17 it rounds to 0 (every value dropped, the rest scaled by 1/q).
    static constexpr double max_rate = 1.0 - 1.0 / 131072.0;

    /// Throws ValueError unless 0 ≤ rate ≤ max_rate (1 − 2^-17, just below 1).
    void set_rate(double rate) {
        if (!(rate >= 0.0 && rate < 1.0))
            throw ValueError(
                detail::concat("chrysalis::Dropout: rate must be in [0, 1), got ", rate));
        if (rate > max_rate) {
            throw ValueError(detail::concat(
                "chrysalis::Dropout: rate must be at most ", max_rate,
                " (the mask keeps values with a probability in steps of 2^-16; a higher rate "
                "keeps none), got ",
                rate));
        }
        rate_ = rate;
    }
    [[nodiscard]] double rate() const noexcept { return rate_; }
    /// q, the probability with which a training-mode forward keeps a value: 1 − rate rounded to
    /// a multiple of 2^-16 (never 0: rate ≤ max_rate).
    [[nodiscard]] double keep_probability() const noexcept {
        return double(keep_below()) / 65536.0;
    }

    /// ONNX export (chrysalis/onnx.hpp, OnnxLayer): the identity at inference, so nothing is
    /// added; the output is x.
    template <class Graph>
    std::string to_onnx(Graph& /*graph*/, const std::string& x) const {
        return x;
    }

    /// Seeds the mask generator from `rng`.
    void initialize(Rng& rng) { rng_ = Rng(Seed{rng.next()}); }
    /// Seeds the mask generator from `s` directly (the same masks for the same seed).
    void seed(Seed s) { rng_ = Rng(s); }
    /// The mask generator's state: save_checkpoint stores it so that a resumed training run
    /// draws the masks an uninterrupted run would have drawn.
    [[nodiscard]] Rng::State rng_state() const noexcept { return rng_.state(); }
    /// Restores a state from rng_state (load_checkpoint).
    void set_rng_state(const Rng::State& state) noexcept { rng_.set_state(state); }

    /// Reuse the current mask in training-mode forwards (for finite-difference checks).
    void freeze_mask(bool frozen) noexcept { frozen_ = frozen; }

    /// y = x ⊙ m / q in Mode::training (a fresh mask, or the frozen one), y = x in inference.
    /// Requires y of x's shape (a resizable Matrix is resized); B = 0 is an empty batch.
    /// Throws: ShapeError naming chrysalis::Dropout::forward and y otherwise.
    template <class X, class Y>
    void forward(const Eigen::MatrixBase<X>& x, Y&& y, Mode mode = Mode::inference) {
        using S = typename X::Scalar;
        detail::prepare_elementwise_output(x, y, "chrysalis::Dropout::forward");
        training_ = mode == Mode::training && rate_ > 0;
        if (!training_) {
            y = x;
            return;
        }
        const Eigen::Index rows = x.rows(), cols = x.cols();
        if (!frozen_ || mask_rows_ != rows || mask_cols_ != cols) draw_mask(rows, cols);
        const S scale = S(65536.0 / double(keep_below()));  // 1/q
        y = (x.array() * mask().template cast<S>() * scale).matrix();
    }

    /// dx = dy ⊙ m / q after a Mode::training forward, dx = dy after an inference one (or
    /// before any forward: the layer is then the identity, as in inference).
    /// Requires x, y, dy and dx (unless empty) of one shape; after a training forward, that
    ///   forward's shape (its mask's): a gradient of another batch would be masked by a mask
    ///   that was never applied to it.
    /// Throws: ShapeError naming chrysalis::Dropout::backward and the parameter otherwise.
    template <class X, class Yv, class DY, class DX>
    void backward(const Eigen::MatrixBase<X>& x, const Eigen::MatrixBase<Yv>& y,
                  const Eigen::MatrixBase<DY>& dy, DX&& dx) const {
        constexpr const char* what = "chrysalis::Dropout::backward";
        if (training_ && (dy.rows() != mask_rows_ || dy.cols() != mask_cols_)) {
            throw ShapeError(detail::concat(what, ": dy is ", dy.rows(), " x ", dy.cols(),
                                            " but the last training-mode forward was ", mask_rows_,
                                            " x ", mask_cols_,
                                            "; expected the gradient of that forward's output"));
        }
        if (!detail::check_elementwise_backward(x, y, dy, dx, what))
            return;  // input gradient not wanted
        using S = typename DY::Scalar;
        if (!training_) {
            dx = dy;
            return;
        }
        const S scale = S(65536.0 / double(keep_below()));  // 1/q
        dx = (dy.array() * mask().template cast<S>() * scale).matrix();
    }

    /// The mask of the last training-mode forward (1 = kept), rows × batch.
    [[nodiscard]] auto mask() const { return mask_storage_.topLeftCorner(mask_rows_, mask_cols_); }

  private:
    /// 65536·q: a 16-bit draw below it keeps the value.
    [[nodiscard]] std::uint32_t keep_below() const noexcept {
        return static_cast<std::uint32_t>((1.0 - rate_) * 65536.0 + 0.5);
    }

    void draw_mask(Eigen::Index rows, Eigen::Index cols) {
        // Storage only grows: a smaller batch (the last of an epoch) reuses it, so after the
        // largest batch has been seen no step allocates.
        if (mask_storage_.rows() < rows || mask_storage_.cols() < cols) {
            mask_storage_.resize(std::max(rows, Eigen::Index(mask_storage_.rows())),
                                 std::max(cols, Eigen::Index(mask_storage_.cols())));
        }
        mask_rows_ = rows;
        mask_cols_ = cols;
        const std::uint32_t below = keep_below();
        std::uint64_t bits = 0;
        int left = 0;
        for (Eigen::Index j = 0; j < cols; ++j) {
            for (Eigen::Index i = 0; i < rows; ++i) {
                if (left == 0) {
                    bits = rng_.next();
                    left = 4;
                }
                mask_storage_(i, j) = (bits & 0xFFFF) < below ? 1 : 0;
                bits >>= 16;
                --left;
            }
        }
    }

    double rate_ = Percent / 100.0;
    Rng rng_{};
    bool frozen_ = false;
    bool training_ = false;
    Eigen::Array<std::uint8_t, Eigen::Dynamic, Eigen::Dynamic, Eigen::ColMajor> mask_storage_;
    Eigen::Index mask_rows_ = 0, mask_cols_ = 0;
};

}  // namespace chrysalis::inline CHRYSALIS_ISA_NAMESPACE
