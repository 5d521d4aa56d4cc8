#pragma once
// chrysalis/random.hpp — a seeded, portable random number generator: the same seed gives the same
// numbers on every machine, compiler and standard library (std::mt19937 is portable but the
// std:: distributions are not, so the distributions here are written out).

#include "chrysalis/isa.hpp"  // first: see its note on GCC bug 105593

#include <cassert>
#include <cmath>
#include <cstdint>

namespace chrysalis::inline CHRYSALIS_ISA_NAMESPACE {

/// A seed, spelled out at call sites: `Teacher teacher{chrysalis::Seed{1}};`.
struct Seed {
    std::uint64_t value = 0;
};

/// xoshiro256** (Blackman & Vigna 2018), seeded through splitmix64. 64-bit outputs, period
/// 2^256 − 1; fully specified by integer arithmetic, hence portable.
class Rng {
  public:
    /// The generator for `seed`: the same seed gives the same outputs on every machine.
    explicit Rng(Seed seed = {}) noexcept {
        std::uint64_t x = seed.value;
        for (auto& word : s_) {  // splitmix64
            x += 0x9E3779B97F4A7C15ull;
            std::uint64_t z = x;
            z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
            z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
            word = z ^ (z >> 31);
        }
    }

    /// The next 64 random bits.
    std::uint64_t next() noexcept {
        const std::uint64_t result = rotl(s_[1] * 5, 7) * 9;
        const std::uint64_t t = s_[1] << 17;
        s_[2] ^= s_[0];
        s_[3] ^= s_[1];
        s_[1] ^= s_[2];
        s_[0] ^= s_[3];
        s_[2] ^= t;
        s_[3] = rotl(s_[3], 45);
        return result;
    }

    /// Uniform in [0, 1) with 53 random bits (exact in double).
    double uniform() noexcept { return double(next() >> 11) * 0x1.0p-53; }

    /// Uniform in [lo, hi): lo + (hi − lo)·uniform(), which may round up to hi.
    /// Requires: lo ≤ hi with hi − lo finite (so both are finite; lo = hi gives lo). The range
    ///   is not checked in a release build (a debug build asserts): a NaN, infinite or inverted
    ///   range gives NaN, ±∞ or values outside it. For a range wider than DBL_MAX, such as
    ///   [−c, c] with c > DBL_MAX/2, draw c·uniform(−1, 1).
    double uniform(double lo, double hi) noexcept {
        assert(lo <= hi && std::isfinite(hi - lo) &&
               "chrysalis::Rng::uniform: lo <= hi, hi - lo finite");
        return lo + (hi - lo) * uniform();
    }

    /// Uniform integer in [0, n), n > 0, exactly: Lemire's multiply-shift with its rejection
    /// step (D. Lemire, "Fast random integer generation in an interval", ACM TOMACS 29(1), 2019),
    /// which draws again with probability (2^64 mod n)/2^64 < n/2^64 — never in practice for
    /// the counts chrysalis asks for, so the stream is the multiply-shift's; without the step,
    /// n = 3·2^62 gave half its values twice the probability of the others. Not checked, like
    /// uniform(lo, hi)'s range: n = 0 gives 0.
    std::uint64_t below(std::uint64_t n) noexcept {
        __extension__ using U128 = unsigned __int128;  // __extension__: no -Wpedantic warning
        U128 m = static_cast<U128>(next()) * n;
        auto low = static_cast<std::uint64_t>(m);
        if (low < n) {
            const std::uint64_t threshold = (0 - n) % n;  // 2^64 mod n
            while (low < threshold) {
                m = static_cast<U128>(next()) * n;
                low = static_cast<std::uint64_t>(m);
            }
        }
        return static_cast<std::uint64_t>(m >> 64);
    }

    /// The generator's whole state, for checkpoints.
    struct State {
        std::uint64_t words[4];
    };
    /// The current state; set_state(state()) changes nothing.
    [[nodiscard]] State state() const noexcept { return {{s_[0], s_[1], s_[2], s_[3]}}; }
    /// Continues from a state() taken earlier: the same outputs follow.
    void set_state(const State& s) noexcept {
        for (int i = 0; i < 4; ++i) s_[i] = s.words[i];
    }

  private:
    static std::uint64_t rotl(std::uint64_t x, int k) noexcept {
        return (x << k) | (x >> (64 - k));
    }
    std::uint64_t s_[4];
};

/// A seed derived from another and an index (for the layers of a network, the epochs of a run):
/// distinct indices give unrelated streams.
[[nodiscard]] inline Seed derive_seed(Seed base, std::uint64_t index) noexcept {
    Rng rng(Seed{base.value ^ (0xD1B54A32D192ED03ull * (index + 1))});
    return Seed{rng.next()};
}

}  // namespace chrysalis::inline CHRYSALIS_ISA_NAMESPACE
