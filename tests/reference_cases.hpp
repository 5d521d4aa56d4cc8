#pragma once
// Reads tests/data/kd_cases.txt: reference values computed by PyTorch in float64
// (see tests/data/README.md for the format and the tolerances).

#include <Eigen/Core>

#include <fstream>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

namespace chrysalis::test {

struct ReferenceCase {
    std::string name;
    int classes = 0;
    int batch = 0;
    double temperature = 0;
    double alpha = 0;
    Eigen::MatrixXd student, teacher;  // classes x batch, one column per sample
    std::vector<int> labels;
    Eigen::MatrixXd softmax_student_t;      // softmax(student / T)
    Eigen::MatrixXd log_softmax_student_t;  // log_softmax(student / T)
    double kd_loss = 0;
    Eigen::MatrixXd kd_grad;
    double ce_loss = 0;
};

inline Eigen::MatrixXd read_matrix(std::istringstream& line, int rows, int cols,
                                   const std::string& what) {
    Eigen::MatrixXd m(rows, cols);
    for (int j = 0; j < cols; ++j)
        for (int i = 0; i < rows; ++i)
            if (!(line >> m(i, j))) throw std::runtime_error("kd_cases.txt: short line " + what);
    return m;
}

/// All cases of the file, in order. Throws std::runtime_error if it is missing or malformed.
inline std::vector<ReferenceCase> load_reference_cases() {
    const std::string path =
        CHRYSALIS_TEST_DATA_DIR "/kd_cases.txt";  // no operator+: GCC 12 -O2 warns falsely
    std::ifstream in(path);
    if (!in) throw std::runtime_error("cannot open " + path);
    std::vector<ReferenceCase> cases;
    std::string text;
    while (std::getline(in, text)) {
        std::istringstream line(text);
        std::string key;
        if (!(line >> key) || key[0] == '#') continue;
        if (key == "case") {
            ReferenceCase c;
            line >> c.name >> c.classes >> c.batch >> c.temperature >> c.alpha;
            cases.push_back(std::move(c));
            continue;
        }
        if (cases.empty()) throw std::runtime_error(path + ": data before the first case");
        ReferenceCase& c = cases.back();
        const int n = c.classes, b = c.batch;
        if (key == "student")
            c.student = read_matrix(line, n, b, key);
        else if (key == "teacher")
            c.teacher = read_matrix(line, n, b, key);
        else if (key == "softmax_student_T")
            c.softmax_student_t = read_matrix(line, n, b, key);
        else if (key == "log_softmax_student_T")
            c.log_softmax_student_t = read_matrix(line, n, b, key);
        else if (key == "kd_grad")
            c.kd_grad = read_matrix(line, n, b, key);
        else if (key == "kd_loss")
            line >> c.kd_loss;
        else if (key == "ce_loss")
            line >> c.ce_loss;
        else if (key == "labels") {
            c.labels.resize(static_cast<std::size_t>(b));
            for (int& label : c.labels) line >> label;
        } else {
            throw std::runtime_error(path + ": unknown key " + key);
        }
        if (line.fail()) throw std::runtime_error(path + ": bad value in " + key + " of " + c.name);
    }
    return cases;
}

}  // namespace chrysalis::test
