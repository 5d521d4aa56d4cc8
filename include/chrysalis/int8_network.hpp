#pragma once
// chrysalis/int8_network.hpp — Int8Network, the int8 inference form of a trained float
// Sequential that chrysalis::quantize (quantize.hpp) makes: int8 weights per output row, int8
// activations quantized per sample or with calibrated scales, int32 products
// (detail/int8_kernel.hpp) and a float epilogue, from float inputs to float outputs. It is also
// what load_int8 (int8_file.hpp) returns and export_onnx (onnx.hpp) writes.
//
// The scheme (docs/quantization.md has it with the measurements):
//
//   weights      per output row o:  s_w[o] = max_k |W[o,k]| / 127  (where that is 0: s_w = 1),
//                q_w[o,k] = rne(W[o,k] / s_w[o]) ∈ [−127, 127]  (never −128);
//   activations  per input column j of each Dense layer:
//                  dynamic:  s_x[j] = max_k |x[k,j]| / 63 (where that is 0: 1),
//                  static:   s_x = max over the calibration set of |x| at that layer's input
//                            / 63 (no activity there: 1), values beyond ±63·s_x clamped;
//                q_x[k,j] = rne(clamp(x[k,j] / s_x, −63, 63))  (7 bits: the kernels add two
//                            steps' int16 sums before widening them, detail/int8_kernel.hpp;
//                            PyTorch's quantize_dynamic uses a 7-bit range on x86 as well);
//   product      acc[o,j] = Σ_k q_w[o,k]·q_x[k,j] in int32 (exact: detail/int8_kernel.hpp);
//   epilogue     y[o,j] = float(acc)·(s_w[o]·s_x[j]) + b[o], in float, then the activations
//                that follow the Dense layer, by the fp32 layers' own code; the next Dense
//                layer quantizes y again.
//
// rne is round to nearest, ties to even (std::nearbyint under the default rounding mode). Where
// rounding happens: the two quantizations (|error| ≤ s/2 per value, the deliberate part), the
// division x / s before them (float), and in the epilogue float(acc) (exact while |acc| ≤ 2²⁴),
// the product of the two scales, the product with acc and the sum with b — four float roundings,
// so y is within 4·2⁻²⁴·(|acc·s_w·s_x| + |y|) of the exact value of its formula (the tests' bound).

#include "chrysalis/isa.hpp"  // first: see its note on GCC bug 105593

#if defined(__AVX512F__)
#include <immintrin.h>
#endif

#include <Eigen/Core>
#include <xsimd/xsimd.hpp>

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <limits>
#include <optional>
#include <span>
#include <tuple>
#include <type_traits>
#include <utility>
#include <variant>
#include <vector>

#include "chrysalis/config.hpp"
#include "chrysalis/detail/int8_kernel.hpp"
#include "chrysalis/errors.hpp"
#include "chrysalis/layers/activations.hpp"
#include "chrysalis/parallel.hpp"
#include "chrysalis/tensor.hpp"

namespace chrysalis::inline CHRYSALIS_ISA_NAMESPACE {

/// The activation layers an Int8Network applies after a Dense layer, in float, by their own
/// forward: exactly what the fp32 network computes for the same input.
using Int8Activation = std::variant<Identity, ReLU, LeakyReLU, Tanh, Sigmoid, GELU>;

namespace detail {

/// The scale of a symmetric range of integers [−q_max, q_max] that holds ±max_abs (q_max:
/// int8_weight_max for weights, int8_activation_max for activations): max_abs / q_max, or 1
/// where that is 0 — max_abs 0, or a subnormal below q_max × the smallest float, whose quotient
/// underflows (nothing to represent: any scale gives zeros, and 1 keeps the division and the
/// epilogue finite) — and for NaN.
inline float int8_scale(float max_abs, int q_max) noexcept {
    const float s = max_abs / float(q_max);
    return s > 0 ? s : 1.0f;
}

/// rne(clamp(v / scale, −q_max, q_max)): round to nearest, ties to even, under the default
/// rounding mode. The clamp comes first (the bounds are integers, so the result is the same) so
/// that values far outside the range cannot overflow the conversion; a NaN — which only an
/// overflow in a hidden layer can make, e.g. GELU(−∞) — gives 0 rather than an undefined
/// conversion. q_max ≤ 127.
inline std::int8_t int8_quantize(float v, float scale, int q_max) noexcept {
    const float t = std::clamp(v / scale, -float(q_max), float(q_max));
    return static_cast<std::int8_t>(t == t ? std::nearbyint(t) : 0.0f);
}

/// Quantizes the activations x[0, rows) of a column with `scale` into q (ld bytes: the padding is
/// zeroed). Each value is int8_quantize(x[k], scale, int8_activation_max), bit for bit: with
/// AVX-512, sixteen at a time by the same operations — the division, the clamp, rounding under the
/// current mode (as nearbyint; the default is to nearest, ties to even) and NaN to 0.
inline void int8_quantize_column(const float* x, long rows, float scale, std::int8_t* q,
                                 long ld) noexcept {
    long k = 0;
#if defined(__AVX512F__)
    constexpr float q_max = float(int8_activation_max);
    const __m512 s = _mm512_set1_ps(scale), lo = _mm512_set1_ps(-q_max), hi = _mm512_set1_ps(q_max);
    for (; k + 16 <= rows; k += 16) {
        const __m512 t = _mm512_div_ps(_mm512_loadu_ps(x + k), s);
        const __mmask16 number = _mm512_cmp_ps_mask(t, t, _CMP_ORD_Q);
        // min and max return their second operand for a NaN: 63, then −63 — masked to 0 below
        const __m512 c = _mm512_max_ps(_mm512_min_ps(t, hi), lo);
        const __m512i r = _mm512_maskz_cvtps_epi32(number, c);  // current rounding mode
        _mm_storeu_si128(reinterpret_cast<__m128i*>(q + k), _mm512_cvtepi32_epi8(r));
    }
#endif
    for (; k < rows; ++k) q[k] = int8_quantize(x[k], scale, int8_activation_max);
    std::fill(q + rows, q + ld, std::int8_t(0));
}

/// max |x[k]| over a column, or NaN if a value is not finite. On the bits: for a float's
/// magnitude (the sign bit cleared) the integer order is the numeric order, and NaN and ±∞ are
/// the magnitudes from 0x7f800000 up — an integer maximum, taken a register at a time (g++ 12
/// vectorises the scalar loop by itself at -O3 only).
inline float max_abs_or_nan(const float* x, long rows) noexcept {
    using F = xsimd::batch<float>;
    using I = xsimd::batch<std::int32_t>;
    constexpr long lanes = long(F::size);
    std::int32_t m = 0;  // a magnitude's bits, < 2^31: the signed order is the unsigned one
    long k = 0;
    if (rows >= lanes) {
        I mv(0);
        const I magnitude(0x7fffffff);
        for (; k + lanes <= rows; k += lanes)
            mv = xsimd::max(mv, xsimd::bitwise_cast<I>(F::load_unaligned(x + k)) & magnitude);
        alignas(64) std::int32_t lane[lanes];
        mv.store_aligned(lane);
        for (long l = 0; l < lanes; ++l) m = std::max(m, lane[l]);
    }
    for (; k < rows; ++k) {
        std::uint32_t bits;
        std::memcpy(&bits, x + k, sizeof bits);
        m = std::max(m, std::int32_t(bits & 0x7fffffffu));
    }
    if (m >= 0x7f800000) return std::numeric_limits<float>::quiet_NaN();
    float r;
    std::memcpy(&r, &m, sizeof r);
    return r;
}

/// The epilogue's float(acc)·scale + bias as two float operations, each rounded: the formula at
/// the top of this file, and what ONNX's Mul and Add compute (export_onnx). Written as one
/// expression, a compiler may fuse them into a fused multiply-add, which rounds once — GCC does
/// wherever the target has FMA (-march=native), even across statements, and clang within an
/// expression — and an int8 network's outputs would then depend on the flags of the program
/// that includes this header. The empty asm makes the rounded product opaque, so nothing is
/// fused; it costs no instruction.
inline float int8_epilogue(std::int32_t acc, float scale, float bias) noexcept {
    float product = float(acc) * scale;
#if defined(__GNUC__) && defined(__x86_64__)
    asm("" : "+x"(product));
#elif defined(__GNUC__) && defined(__aarch64__)
    asm("" : "+w"(product));
#else
    volatile float rounded = product;  // elsewhere a store: slower, but not fused
    product = rounded;
#endif
    return product + bias;
}

/// The epilogue of `count` consecutive outputs of one column (at most `Group`, the kernel's
/// group of outputs, known at compile time so that the vector code is not even compiled for
/// smaller groups): y[i] = int8_epilogue(acc[i], sw[i]·sx, bias[i]), bit for bit. With AVX-512,
/// a full group of sixteen in one vector, the products by _mm512_mul_round_ps in the current
/// rounding mode: a builtin that compilers do not fuse with the add, where _mm512_mul_ps is
/// written as `*` and would be.
template <long Group>
inline void int8_epilogue_lanes(const std::int32_t* acc, long count, const float* sw, float sx,
                                const float* bias, float* y) noexcept {
#if defined(__AVX512F__)
    if (Group == 16 && count == 16) {
        const __m512 scale =
            _mm512_mul_round_ps(_mm512_loadu_ps(sw), _mm512_set1_ps(sx), _MM_FROUND_CUR_DIRECTION);
        const __m512 product = _mm512_mul_round_ps(_mm512_cvtepi32_ps(_mm512_loadu_si512(acc)),
                                                   scale, _MM_FROUND_CUR_DIRECTION);
        _mm512_storeu_ps(y, _mm512_add_ps(product, _mm512_loadu_ps(bias)));
        return;
    }
#endif
    for (long i = 0; i < count; ++i) y[i] = int8_epilogue(acc[i], sw[i] * sx, bias[i]);
}

/// Identity, ReLU and LeakyReLU: one exact operation per element (a maximum, a select, a
/// product), the same bits computed in a vector or not.
template <class L>
constexpr bool is_exact_activation =
    std::is_same_v<L, Identity> || std::is_same_v<L, ReLU> || std::is_same_v<L, LeakyReLU>;

template <class L>
constexpr bool is_int8_activation = is_exact_activation<L> || std::is_same_v<L, Tanh> ||
                                    std::is_same_v<L, Sigmoid> || std::is_same_v<L, GELU>;

}  // namespace detail

/// One Dense layer in int8 and the activations after it (see the top of this file).
struct Int8Dense {
    long input_size = 0, output_size = 0;
    /// output_size rows of detail::int8_padded(input_size) bytes, row o = output o, the padding 0.
    std::vector<std::int8_t, Eigen::aligned_allocator<std::int8_t>> weights;
    std::vector<float> weight_scales;  ///< s_w[o]
    Vector<float> bias;
    std::optional<float> input_scale;  ///< static: the calibrated s_x; dynamic: none
    std::vector<Int8Activation> activations;
};

/// A Sequential's int8 inference form, made by chrysalis::quantize. forward runs float inputs
/// (input_size × B, one column per sample) to float outputs (output_size × B), like the fp32
/// network's forward in Mode::inference. Threads: a batch's columns are shared, in blocks of 16,
/// among up to chrysalis::threads() threads (parallel.hpp: a batch of at most 16, or a product
/// too small to pay for a split, stays on the calling thread); every column is computed the same
/// way whichever thread runs it, so the outputs do not depend on the thread count. Buffers grow
/// with the largest batch seen and are reused after. Besides the layers, the network keeps their
/// weights packed for its kernel (a second copy, about the size of the int8 weights). Not to be
/// used from two threads at once (forward writes its buffers).
class Int8Network {
  public:
    /// Made by quantize (or from stored layers, e.g. by a model loader).
    /// Requires: at least one layer; each with 1 ≤ input_size ≤ 133144 and output_size ≥ 1,
    ///   output_size × int8_padded(input_size) weights in [−127, 127] with zero padding,
    ///   output_size weight scales and biases, every scale finite and > 0, every bias finite;
    ///   each layer's input_size the previous one's output_size; an input scale on every layer
    ///   or on none; every LeakyReLU slope finite with |slope| ≤ float's largest value.
    /// Throws: ShapeError or ValueError naming chrysalis::Int8Network, the layer and what is
    ///   wrong, otherwise.
    explicit Int8Network(std::vector<Int8Dense> layers) : layers_(std::move(layers)) {
        validate();
        buffers_.resize(layers_.size());
        pack();
    }

    [[nodiscard]] long input_size() const noexcept { return layers_.front().input_size; }
    [[nodiscard]] long output_size() const noexcept { return layers_.back().output_size; }
    /// The number of Dense layers (activations and dropout are not counted).
    [[nodiscard]] std::size_t dense_count() const noexcept { return layers_.size(); }
    /// Whether the activation scales were calibrated (quantize(net, calibration_inputs)) rather
    /// than computed per sample.
    [[nodiscard]] bool calibrated() const noexcept {
        return layers_.front().input_scale.has_value();
    }

    /// Dense layer i (0 ≤ i < dense_count()): its int8 weights, scales, bias and activations.
    /// Throws ValueError for i out of range.
    [[nodiscard]] const Int8Dense& layer(std::size_t i) const {
        check_index(i, "layer");
        return layers_[i];
    }
    /// The weight scales s_w of Dense layer i, one per output. Throws ValueError for a bad i.
    [[nodiscard]] std::span<const float> weight_scales(std::size_t i) const {
        return layer(i).weight_scales;
    }
    /// The calibrated input scale s_x of Dense layer i; none for a dynamic network. Throws
    /// ValueError for a bad i.
    [[nodiscard]] std::optional<float> input_scale(std::size_t i) const {
        return layer(i).input_scale;
    }
    /// The input scales Dense layer i used for the columns of the last forward (one per column;
    /// all equal to input_scale(i) when calibrated; empty before any forward). Throws
    /// ValueError for a bad i.
    [[nodiscard]] std::span<const float> last_input_scales(std::size_t i) const {
        check_index(i, "last_input_scales");
        return std::span<const float>(buffers_[i].x_scales.data(),
                                      std::min(std::size_t(batch_), buffers_[i].x_scales.size()));
    }
    /// The int8 weights of Dense layer i as an output_size × input_size matrix (a copy, without
    /// the padding). Throws ValueError for a bad i.
    [[nodiscard]] Matrix<std::int8_t> int8_weights(std::size_t i) const {
        const Int8Dense& l = layer(i);
        const long ld = detail::int8_padded(l.input_size);
        Matrix<std::int8_t> w(l.output_size, l.input_size);
        for (long o = 0; o < l.output_size; ++o)
            for (long k = 0; k < l.input_size; ++k) w(o, k) = l.weights[std::size_t(o * ld + k)];
        return w;
    }

    /// The bytes the parameters take as stored for inference, padding not counted: one per
    /// weight, four per weight scale and per bias, four per calibrated input scale. (The fp32
    /// network's: four per weight and per bias.)
    [[nodiscard]] std::size_t parameter_bytes() const noexcept {
        std::size_t bytes = 0;
        for (const Int8Dense& l : layers_) {
            bytes += std::size_t(l.output_size) * std::size_t(l.input_size) +
                     8 * std::size_t(l.output_size) + (l.input_scale ? 4 : 0);
        }
        return bytes;
    }

    /// The kernel forward uses: the widest this translation unit is compiled for (AVX-512 VNNI,
    /// AVX-512BW, AVX2, else the scalar reference).
    [[nodiscard]] Int8Kernel kernel() const noexcept { return kernel_; }
    /// Chooses the kernel (the tests run the scalar reference this way). Every kernel gives the
    /// same outputs, bit for bit. Throws ValueError for a kernel not compiled here, or a value
    /// that is none of the four (a cast from an integer), naming it.
    void set_kernel(Int8Kernel k) {
        if (int8_kernel_name(k) == "?")
            throw ValueError(detail::concat("chrysalis::Int8Network::set_kernel: Int8Kernel(",
                                            int(k),
                                            ") is not a kernel; expected scalar, avx2, "
                                            "avx512bw or avx512vnni"));
        if (!int8_kernel_compiled(k))
            throw ValueError(detail::concat("chrysalis::Int8Network::set_kernel: the ",
                                            int8_kernel_name(k),
                                            " kernel is not compiled into this build"));
        kernel_ = k;
        pack();
    }

    /// Runs the network on x (input_size × B, any float Eigen expression; B = 0 allowed) and
    /// returns a view of the output, output_size × B, valid until the next forward. A Matrix, a
    /// Map or a block of whole columns is read in place; any other x is copied once. A column's
    /// output does not depend on the other columns of the batch (each has its own dynamic
    /// scale), so one sample at a time gives the same numbers as a batch, bit for bit.
    /// Throws ShapeError naming chrysalis::Int8Network::forward if x has the wrong number of
    /// rows, ValueError naming the sample and feature for a NaN or infinite input.
    template <class Derived>
    ConstMatrixRef<float> forward(const Eigen::MatrixBase<Derived>& x) {
        static_assert(std::is_same_v<typename Derived::Scalar, float>,
                      "chrysalis::Int8Network::forward: the input must be float");
        if (x.rows() != input_size()) {
            throw ShapeError(
                detail::concat("chrysalis::Int8Network::forward: the input has ", x.rows(),
                               " rows (features) but the network's input width is ", input_size()));
        }
        input_data_ = contiguous_data(x);
        if (input_data_ == nullptr) {
            input_ = x;  // x is an expression, or its columns are not one after the other
            input_data_ = input_.data();
        }
        input_scales(x.cols());  // checks x; sets batch_ only then
        for (std::size_t i = 0; i < layers_.size(); ++i) run_layer(i);
        input_data_ = nullptr;
        return buffers_.back().y.leftCols(batch_);
    }

    /// forward into y (output_size × B, sized by the caller). Throws ShapeError naming
    /// chrysalis::Int8Network::forward and y if it has another shape; otherwise as forward.
    template <class Derived>
    void forward(const Eigen::MatrixBase<Derived>& x, MatrixRef<float> y) {
        if (y.rows() != output_size() || y.cols() != x.cols()) {
            throw ShapeError(detail::concat("chrysalis::Int8Network::forward: y is ", y.rows(),
                                            " x ", y.cols(), "; expected ", output_size(), " x ",
                                            x.cols(), " (output_size x the batch of x)"));
        }
        y = forward(x);
    }

    /// The logits for x, output_size × B, as a matrix of their own; throws as forward.
    template <class Derived>
    Matrix<float> predict_logits(const Eigen::MatrixBase<Derived>& x) {
        return Matrix<float>(forward(x));
    }

  private:
    struct Buffers {
        detail::Int8Block x;          // this layer's quantized input
        std::vector<float> x_scales;  // s_x per column
        Matrix<float> y;              // this layer's float output
    };

    void validate() const {
        constexpr const char* who = "chrysalis::Int8Network: ";
        if (layers_.empty())
            throw ValueError(detail::concat(who, "no layers; expected at least one"));
        for (std::size_t i = 0; i < layers_.size(); ++i) {
            const Int8Dense& l = layers_[i];
            const auto shape = [&](auto... what) {
                throw ShapeError(detail::concat(who, "layer ", i, ": ", what...));
            };
            if (l.input_size < 1 || l.input_size > detail::int8_max_depth || l.output_size < 1)
                shape("input_size ", l.input_size, " and output_size ", l.output_size,
                      "; expected 1 to ", detail::int8_max_depth, " inputs and >= 1 outputs");
            if (i > 0 && l.input_size != layers_[i - 1].output_size)
                shape("input_size ", l.input_size, " but the layer before outputs ",
                      layers_[i - 1].output_size);
            const long ld = detail::int8_padded(l.input_size);
            if (long(l.weights.size()) != ld * l.output_size ||
                long(l.weight_scales.size()) != l.output_size || l.bias.size() != l.output_size)
                shape(l.weights.size(), " weights, ", l.weight_scales.size(), " scales and ",
                      l.bias.size(), " biases; expected ", ld * l.output_size, ", ", l.output_size,
                      " and ", l.output_size);
            const auto value = [&](auto... what) {
                throw ValueError(detail::concat(who, "layer ", i, ": ", what...));
            };
            for (long o = 0; o < l.output_size; ++o) {
                const float sw = l.weight_scales[std::size_t(o)];
                if (!(std::isfinite(sw) && sw > 0))
                    value("weight scale ", o, " is ", sw, "; expected a finite number > 0");
                if (!std::isfinite(l.bias(o)))
                    value("bias ", o, " is ", l.bias(o), "; expected a finite number");
                for (long k = 0; k < ld; ++k) {
                    const int q = l.weights[std::size_t(o * ld + k)];
                    if (q == -128 || (k >= l.input_size && q != 0))
                        value("weight (", o, ", ", k, ") is ", q,
                              "; expected -127 to 127, and 0 in the padding");
                }
            }
            if (l.input_scale && !(std::isfinite(*l.input_scale) && *l.input_scale > 0))
                value("input scale is ", *l.input_scale, "; expected a finite number > 0");
            if (l.input_scale.has_value() != layers_[0].input_scale.has_value())
                value("has ", l.input_scale ? "an" : "no",
                      " input scale but layer 0 does not; expected static scales on every layer "
                      "or on none");
            for (std::size_t k = 0; k < l.activations.size(); ++k) {
                const auto* leaky = std::get_if<LeakyReLU>(&l.activations[k]);
                if (leaky && !LeakyReLU::valid_slope(leaky->slope))
                    value("activation ", k, " (LeakyReLU) has slope ", leaky->slope,
                          "; expected a finite slope within float's range (as LeakyReLU's own)");
            }
        }
    }

    /// The weights of every layer in kernel_'s layout.
    void pack() {
        packed_.clear();
        for (const Int8Dense& l : layers_)
            packed_.push_back(detail::int8_pack(kernel_, l.weights.data(), l.output_size,
                                                detail::int8_padded(l.input_size), l.input_size));
    }

    void check_index(std::size_t i, const char* what) const {
        if (i >= layers_.size())
            throw ValueError(detail::concat(
                "chrysalis::Int8Network::", what, ": index ", i,
                " is out of range; expected 0 to dense_count() - 1 = ", layers_.size() - 1));
    }

    /// x's own float storage if its columns lie one after the other (a Matrix, a Map of one,
    /// a block of whole columns), so that forward reads it in place; nullptr otherwise.
    template <class Derived>
    static const float* contiguous_data(const Eigen::MatrixBase<Derived>& x) {
        if constexpr ((int(Derived::Flags) & Eigen::DirectAccessBit) &&
                      !(int(Derived::Flags) & Eigen::RowMajorBit)) {
            if (x.innerStride() == 1 && (x.cols() <= 1 || x.outerStride() == x.rows()))
                return x.derived().data();
        }
        return nullptr;
    }

    /// Quantizes `rows` × batch_ float values (column stride ld_src) into layer i's input.
    // A template only so that it is compiled where forward is used (see "Lazy on purpose" in
    // docs/performance.md): the body of a plain inline member makes every file that includes
    // this header instantiate the kernels it calls.
    template <class = void>
    void quantize_into(std::size_t i, const float* src, long ld_src, long j0, long n) {
        const Int8Dense& l = layers_[i];
        Buffers& b = buffers_[i];
        for (long j = j0; j < j0 + n; ++j) {
            const float* col = src + j * ld_src;
            float scale;
            if (l.input_scale) {
                scale = *l.input_scale;
            } else {
                scale = detail::int8_scale(detail::max_abs_or_nan(col, l.input_size),
                                           detail::int8_activation_max);
            }
            b.x_scales[std::size_t(j)] = scale;
            detail::int8_quantize_column(col, l.input_size, scale, b.x.column(j), b.x.ld);
        }
    }

    /// The first layer's input scales, one pass over the input on this thread, which is also
    /// the check that every input is finite (before any thread starts); run_layer(0)'s blocks
    /// quantize their own columns with them.
    /// The scales go to a scratch vector first, so that a non-finite input throws before the
    /// batch, the buffers or last_input_scales change: a refused forward leaves the network as
    /// the last good one left it.
    template <class = void>  // compiled only where used, as quantize_into
    void input_scales(long n) {
        const long rows = input_size();
        const std::optional<float> fixed = layers_.front().input_scale;
        if (scratch_scales_.size() < std::size_t(n)) scratch_scales_.resize(std::size_t(n));
        for (long j = 0; j < n; ++j) {
            const float* col = input_data_ + j * rows;
            const float max_abs = detail::max_abs_or_nan(col, rows);
            if (!std::isfinite(max_abs)) {
                long k = 0;
                while (std::isfinite(col[k])) ++k;
                throw ValueError(detail::concat(
                    "chrysalis::Int8Network::forward: x has a non-finite value (", col[k],
                    ") at sample ", j, ", feature ", k, "; expected finite inputs"));
            }
            scratch_scales_[std::size_t(j)] =
                fixed ? *fixed : detail::int8_scale(max_abs, detail::int8_activation_max);
        }
        batch_ = n;
        reserve(0);
        std::swap(buffers_[0].x_scales, scratch_scales_);
    }

    void reserve(std::size_t i) {
        Buffers& b = buffers_[i];
        b.x.resize(layers_[i].input_size, batch_);
        if (b.x_scales.size() < std::size_t(batch_)) b.x_scales.resize(std::size_t(batch_));
        if (b.y.rows() != layers_[i].output_size || b.y.cols() < batch_)
            b.y.resize(layers_[i].output_size, batch_);
    }

    /// Layer i on its quantized input, in blocks of columns shared among threads: for each
    /// block, the int8 product with the epilogue fused into it, the activations on the block
    /// (still in cache) and the next layer's quantization of it. A block's columns are its own
    /// (outputs, next-layer inputs and scales), so the threads write disjoint memory; every
    /// allocation happens here, before the threads start.
    template <class = void>  // compiled only where used, as quantize_into
    void run_layer(std::size_t i) {
        const Int8Dense& l = layers_[i];
        Buffers& b = buffers_[i];
        if (i + 1 < layers_.size()) reserve(i + 1);
        const long rows = l.output_size;
        float* y = b.y.data();
        const float* sw = l.weight_scales.data();
        const float* sx = b.x_scales.data();
        const float* bias = l.bias.data();
        constexpr long block = 16;
        // Multiply-adds per thread below which a split does not pay (waking a helper costs a
        // few microseconds; the int8 kernels run some 40–60 multiply-adds per nanosecond).
        constexpr double min_work_per_thread = 1 << 19;
        const long blocks = (batch_ + block - 1) / block;
        const int workers = int(std::min<long>(
            blocks, detail::threads_for(double(rows) * double(l.input_size) * double(batch_),
                                        min_work_per_thread)));
        // Exact activations (detail::is_exact_activation) run on a block in place; the others
        // through activate.
        const bool in_place =
            std::all_of(l.activations.begin(), l.activations.end(), [](const Int8Activation& a) {
                return std::visit(
                    [](const auto& act) {
                        return detail::is_exact_activation<std::decay_t<decltype(act)>>;
                    },
                    a);
            });
        if (!in_place) {
            if (columns_.size() < std::size_t(workers)) columns_.resize(std::size_t(workers));
            for (int w = 0; w < workers; ++w)
                if (columns_[std::size_t(w)].size() != rows) columns_[std::size_t(w)].resize(rows);
        }
        const auto run_block = [&](long chunk, int worker) {
            const long j0 = chunk * block, n = std::min(block, batch_ - j0);
            if (i == 0) {
                for (long j = j0; j < j0 + n; ++j)
                    detail::int8_quantize_column(input_data_ + j * l.input_size, l.input_size,
                                                 sx[j], b.x.column(j), b.x.ld);
            }
            detail::int8_product(
                packed_[i], b.x, j0, n,
                [&](long o, long j, const std::int32_t* acc, long count, auto group) {
                    detail::int8_epilogue_lanes<decltype(group)::value>(acc, count, sw + o, sx[j],
                                                                        bias + o, y + o + j * rows);
                });
            if (in_place) {
                auto block_y = b.y.middleCols(j0, n);
                for (const Int8Activation& a : l.activations)
                    std::visit(
                        [&](const auto& act) {
                            using A = std::decay_t<decltype(act)>;
                            if constexpr (detail::is_exact_activation<A>)
                                act.forward(block_y, block_y);
                        },
                        a);
            } else {
                activate(l, j0, n, b.y, columns_[std::size_t(worker)]);
            }
            if (i + 1 < layers_.size()) quantize_into(i + 1, y, rows, j0, n);
        };
        detail::parallel_for(blocks, workers, run_block,
                             double(rows) * double(l.input_size) * double(batch_));
    }

    /// The activations of layer l on columns [j0, j0 + n) of y, one column at a time in an
    /// aligned scratch column (the worker's own): Eigen's vectorised tanh and logistic round
    /// differently from their scalar forms, which it uses for the elements before the first
    /// aligned address and after the last full packet, so a column computed in place would round
    /// according to where it lies in the batch. Always in an aligned column of its own, each
    /// column's output depends on that column alone: a batch of one gives the same bits as a
    /// batch of many, on any thread.
    template <class = void>  // compiled only where used, as quantize_into
    static void activate(const Int8Dense& l, long j0, long n, Matrix<float>& y,
                         Vector<float>& column) {
        for (long j = j0; j < j0 + n; ++j) {
            column = y.col(j);
            for (const Int8Activation& a : l.activations)
                std::visit([&](const auto& act) { act.forward(column, column); }, a);
            y.col(j) = column;
        }
    }

    std::vector<Int8Dense> layers_;
    std::vector<Buffers> buffers_;
    std::vector<detail::Int8Packed> packed_;  // layers_' weights in kernel_'s layout
    std::vector<Vector<float>> columns_;      // activate's scratch column, one per worker
    Matrix<float> input_;                     // forward's copy of an input it cannot read in place
    const float* input_data_ = nullptr;       // the input, during forward
    Eigen::Index batch_ = 0;
    std::vector<float> scratch_scales_;  // input_scales' result until the input is checked
    Int8Kernel kernel_ = int8_best_kernel();
};

}  // namespace chrysalis::inline CHRYSALIS_ISA_NAMESPACE
