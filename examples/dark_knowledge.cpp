// Dark knowledge, shown: for each true class of Fashion-MNIST, the teacher's mean softened
// output distribution over the test images, at T = 1 and at a distillation temperature. Which
// garments the teacher finds alike is in the off-diagonal mass. Writes
//   <out>/dark_knowledge_T<t>.csv   10 x 10: row = true class, column = mean probability
// for scripts/plot_dark_knowledge.py.
//
//   dark_knowledge [--data DIR] [--teacher FILE] [--out DIR] [--temperature T] [--quick]
// With --teacher, loads a saved teacher (examples/distill_fashion_mnist writes
// chrysalis-models/teacher.chrysalis); otherwise trains one.

#include <chrysalis/chrysalis.hpp>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>

namespace cy = chrysalis;

using Teacher =
    cy::Sequential<cy::Dense<784, 1200>, cy::ReLU, cy::Dropout<20>, cy::Dense<1200, 1200>, cy::ReLU,
                   cy::Dropout<20>, cy::Dense<1200, 10>>;

int main(int argc, char** argv) try {
    std::string data = "/usr/share/datasets/fashion-mnist", out = ".", teacher_file;
    double temperature = 8;
    bool quick = false;
    for (int i = 1; i < argc; ++i) {
        const std::string a = argv[i];
        if (a == "--data" && i + 1 < argc)
            data = argv[++i];
        else if (a == "--out" && i + 1 < argc)
            out = argv[++i];
        else if (a == "--teacher" && i + 1 < argc)
            teacher_file = argv[++i];
        else if (a == "--temperature" && i + 1 < argc)
            temperature = std::stod(argv[++i]);
        else if (a == "--quick")
            quick = true;
    }
    std::filesystem::create_directories(out);
    const auto test = cy::load_idx<float>(data + "/t10k-images-idx3-ubyte.gz",
                                          data + "/t10k-labels-idx1-ubyte.gz");
    Teacher teacher{cy::Seed{1}};
    if (!teacher_file.empty()) {
        cy::load(teacher, teacher_file);
    } else {
        auto train = cy::load_idx<float>(data + "/train-images-idx3-ubyte.gz",
                                         data + "/train-labels-idx1-ubyte.gz");
        if (quick) train = cy::split(train, 0.1, cy::Seed{1}).second;
        cy::Adam opt{.lr = 1e-3};
        cy::fit(teacher, train, cy::CrossEntropy{}, opt, {.epochs = quick ? 1 : 5});
    }
    const cy::Matrix<float> logits = cy::predict_logits(teacher, test);
    for (double t : {1.0, temperature}) {
        const cy::Matrix<float> p = cy::softmax(logits, t);
        Eigen::MatrixXd mean = Eigen::MatrixXd::Zero(10, 10);
        Eigen::VectorXd count = Eigen::VectorXd::Zero(10);
        for (Eigen::Index b = 0; b < p.cols(); ++b) {
            const int y = test.labels[std::size_t(b)];
            mean.row(y) += p.col(b).cast<double>().transpose();
            count(y) += 1;
        }
        for (int y = 0; y < 10; ++y) mean.row(y) /= count(y);
        const std::string path = out + "/dark_knowledge_T" + std::to_string(int(t)) + ".csv";
        std::ofstream f(path);
        for (int y = 0; y < 10; ++y)
            for (int c = 0; c < 10; ++c) f << mean(y, c) << (c < 9 ? ',' : '\n');
        std::printf("T = %g: mean probability of the true class %.3f; wrote %s\n", t,
                    mean.trace() / 10, path.c_str());
    }
} catch (const std::exception& e) {
    std::fprintf(stderr, "dark_knowledge: %s\n", e.what());
    return 1;
}
