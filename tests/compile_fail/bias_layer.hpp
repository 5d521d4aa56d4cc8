#pragma once
// What two compile-fail programs share: a layer y = x + b (3 features) with everything a layer
// with parameters has but initialize and parameter_count, which each program adds (or not).
#include <chrysalis/network.hpp>

struct BiasBase {
    static constexpr int input_size = 3, output_size = 3;
    chrysalis::Vector<float> b = chrysalis::Vector<float>::Zero(3);
    chrysalis::Vector<float> db = chrysalis::Vector<float>::Zero(3);
    template <class F>
    void visit_parameters(F&& f) {
        f(b, db);
    }
    void forward(chrysalis::ConstMatrixRef<float> x, chrysalis::MatrixRef<float> y,
                 chrysalis::Mode) {
        y = x.colwise() + b;
    }
    void backward(chrysalis::ConstMatrixRef<float>, chrysalis::ConstMatrixRef<float>,
                  chrysalis::ConstMatrixRef<float> dy, chrysalis::MatrixRef<float> dx) {
        db = dy.rowwise().sum();
        if (dx.cols() != 0) dx = dy;
    }
};
