// expect-error: cannot be called with a Vector<Scalar> block
// An optimizer whose update takes only matrices: a Dense layer's bias is a vector block, and the
// error must say that, not that update is missing.
#include <chrysalis/fit.hpp>
#include <chrysalis/losses.hpp>

#include <string>
#include <vector>

/// Plain gradient descent, its state a step count.
struct Plain {
    void begin_step() noexcept { ++steps; }
#ifdef CHRYSALIS_COMPILE_FAIL
    void update(chrysalis::Matrix<float>& p, const chrysalis::Matrix<float>& g, std::size_t, int) {
        p -= 0.01f * g;
    }
#else
    template <class P, class G>
    void update(P& p, const G& g, std::size_t, int) {
        p -= 0.01f * g;
    }
#endif
    static std::string name() {
        return "Plain";
    }
    void save_state(chrysalis::StateWriter<float>& out) const {
        out.integer("steps", steps);
    }
    void load_state(chrysalis::StateReader<float>& in) {
        steps = in.integer("steps");
    }
    long steps = 0;
};

int main() {
    chrysalis::Sequential<chrysalis::Dense<4, 2>> net;
    chrysalis::Dataset<float> data{chrysalis::Matrix<float>::Zero(4, 8), std::vector<int>(8), 2};
    Plain plain;
    chrysalis::fit(net, data, chrysalis::CrossEntropy{}, plain, {.epochs = 1});
    return 0;
}
