// fuzz_npy — chrysalis::load_npy<float> and load_npy<double> on the input as a .npy file.
//
// On success the two must agree (shape, and values up to the float conversion), and the matrix
// must survive a round trip through the encoder that save_npy uses, bit for bit. Only one
// disagreement is allowed: load_npy<float> refuses '<f8' data holding a finite value that float
// cannot hold (it would become ±∞), which load_npy<double> reads.

#include <chrysalis/serialize.hpp>

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

#include "fuzz_common.hpp"

namespace {

template <class S>
void check_round_trip(const chrysalis::Matrix<S>& m) {
    const std::string bytes = chrysalis::detail::encode_npy(m.data(), std::size_t(m.rows()),
                                                            std::size_t(m.cols()), false);
    const auto back = chrysalis::detail::decode_npy<S>(bytes, "fuzz_npy", "round trip");
    if (back.rows() != m.rows() || back.cols() != m.cols() ||
        (m.size() != 0 && std::memcmp(back.data(), m.data(), std::size_t(m.size()) * sizeof(S))))
        chrysalis_fuzz::finding("load_npy: the matrix does not survive encode_npy");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    static const chrysalis_fuzz::TempFile file("npy");
    const std::string& path =
        file.write(std::string_view(reinterpret_cast<const char*>(data), size));
    chrysalis::Matrix<float> f;
    chrysalis::Matrix<double> d;
    const bool float_ok =
        chrysalis_fuzz::expect_clean([&] { f = chrysalis::load_npy<float>(path); });
    const bool double_ok =
        chrysalis_fuzz::expect_clean([&] { d = chrysalis::load_npy<double>(path); });
    if (double_ok && !float_ok) {
        bool beyond_float = false;
        for (Eigen::Index i = 0; i < d.size(); ++i)
            beyond_float =
                beyond_float || (std::isfinite(d.data()[i]) && std::isinf(float(d.data()[i])));
        if (!beyond_float)
            chrysalis_fuzz::finding("load_npy<float> refused what load_npy<double> read");
        check_round_trip(d);
        return 0;
    }
    if (float_ok != double_ok) chrysalis_fuzz::finding("load_npy: float and double disagree");
    if (!float_ok) return 0;
    if (f.rows() != d.rows() || f.cols() != d.cols())
        chrysalis_fuzz::finding("load_npy: float and double shapes differ");
    for (Eigen::Index i = 0; i < f.size(); ++i) {
        const float a = f.data()[i], b = float(d.data()[i]);
        if (std::isfinite(d.data()[i]) && std::isinf(b))
            chrysalis_fuzz::finding("load_npy<float> read a value beyond float's range as inf");
        if (!(a == b || (std::isnan(a) && std::isnan(b))))
            chrysalis_fuzz::finding("load_npy: float and double values differ");
    }
    check_round_trip(f);
    check_round_trip(d);
    return 0;
}
