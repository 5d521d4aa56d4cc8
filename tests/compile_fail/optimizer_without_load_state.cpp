// expect-error: Optimizer concept not satisfied: the optimizer has no load_state
// An optimizer that can save its state but not restore it cannot be checkpointed: the error
// names the Optimizer concept and the missing member.
#include <chrysalis/checkpoint.hpp>

#include <string>
#include <vector>

/// Plain gradient descent with a step count as its state.
struct Plain {
    void begin_step() noexcept { ++steps; }
    template <class P, class G>
    void update(P& p, const G& g, std::size_t, int) {
        p -= 0.01f * g;
    }
    static std::string name() { return "Plain"; }
    void save_state(chrysalis::StateWriter<float>& out) const { out.integer("steps", steps); }
#ifndef CHRYSALIS_COMPILE_FAIL
    void load_state(chrysalis::StateReader<float>& in) {
        steps = in.integer("steps");
    }
#endif
    long steps = 0;
};

int main() {
    chrysalis::Sequential<chrysalis::Dense<4, 2>> net;
    chrysalis::save_checkpoint(net, Plain{}, chrysalis::Checkpoint{}, "never-written.ckpt");
    return 0;
}
