// expect-error: boundary_similarity: a boundary needs at least two classes
// Boundary similarity of networks with one output must not compile: every base's only other
// class would be none (class −1), read and written out of bounds.
#include <chrysalis/boundary_similarity.hpp>

#include <chrysalis/network.hpp>

int main() {
#ifdef CHRYSALIS_COMPILE_FAIL
    using Net = chrysalis::Sequential<chrysalis::Dense<4, 1>>;
#else
    using Net = chrysalis::Sequential<chrysalis::Dense<4, 2>>;
#endif
    Net teacher, student;
    chrysalis::Dataset<float> data;
    if (data.size() > 0) (void)chrysalis::boundary_similarity(teacher, student, data);
    return 0;
}
