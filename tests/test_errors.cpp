// Bad input, one case per test: each feeds one malformed file, wrong shape or bad value and
// checks both the exception's exact type and its message (the function, the file or parameter,
// what was found and what was expected). Also the numerical guards: NaN and infinite inputs are
// refused, and a diverging training stops naming the epoch and the batch. Files are written
// under a fresh directory in the system's temporary directory, removed at the end of each test.
// docs/errors.md describes the policy these tests hold the library to.

#include <catch2/catch.hpp>

#include <chrysalis/chrysalis.hpp>

#include "temp_dir.hpp"
#include "thrown.hpp"

#include <zlib.h>

#include <unistd.h>

#include <atomic>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <limits>
#include <random>
#include <string>
#include <type_traits>
#include <typeinfo>
#include <vector>
#include "test_file_namespace.hpp"

namespace CHRYSALIS_TEST_FILE {

using namespace chrysalis;
using Catch::Matchers::Contains;
namespace fs = std::filesystem;

namespace {

// Every error a caller can trigger is a chrysalis::Error.
static_assert(std::is_base_of_v<Error, FormatError> && std::is_base_of_v<Error, IoError> &&
              std::is_base_of_v<Error, ValueError> && std::is_base_of_v<Error, ShapeError> &&
              std::is_base_of_v<Error, TrainingDiverged> &&
              std::is_base_of_v<std::runtime_error, Error>);

using chrysalis::test::inf_f;
using chrysalis::test::nan_f;
using chrysalis::test::thrown;

using chrysalis::test::TempDir;

using Bytes = std::string;

void write_bytes(const std::string& path, const Bytes& bytes) {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out.write(bytes.data(), std::streamsize(bytes.size()));
    REQUIRE(out.good());
}

Bytes read_bytes(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

/// `bytes` as a gzip file (zlib's gzwrite, as gzip(1) would write it).
void write_gzip(const std::string& path, const Bytes& bytes) {
    gzFile f = gzopen(path.c_str(), "wb");
    REQUIRE(f != nullptr);
    REQUIRE(gzwrite(f, bytes.data(), unsigned(bytes.size())) == int(bytes.size()));
    REQUIRE(gzclose(f) == Z_OK);
}

void put_be32(Bytes& b, std::uint32_t v) {
    for (int shift = 24; shift >= 0; shift -= 8) b += char((v >> shift) & 0xFF);
}

/// An IDX image file: magic, n, rows, cols (big-endian), then the pixels as given.
Bytes idx_images(std::uint32_t n, std::uint32_t rows, std::uint32_t cols, const Bytes& pixels,
                 std::uint32_t magic = 0x803) {
    Bytes b;
    put_be32(b, magic);
    put_be32(b, n);
    put_be32(b, rows);
    put_be32(b, cols);
    return b + pixels;
}

/// An IDX label file: magic, n, then the labels as given.
Bytes idx_labels(std::uint32_t n, const Bytes& labels, std::uint32_t magic = 0x801) {
    Bytes b;
    put_be32(b, magic);
    put_be32(b, n);
    return b + labels;
}

/// A hand-made .npy file (format 1.0): the header dict padded so the data starts at 64 bytes.
Bytes npy_file(const std::string& dict, const Bytes& data) {
    std::string header = dict;
    while ((10 + header.size() + 1) % 64 != 0) header += ' ';
    header += '\n';
    Bytes b("\x93NUMPY\x01\x00", 8);
    b += char(header.size() & 0xFF);
    b += char(header.size() >> 8);
    return b + header + data;
}

/// n little-endian float32 values 0, 1, 2, …
Bytes f4_data(std::size_t n) {
    Bytes b;
    for (std::size_t i = 0; i < n; ++i) {
        const float v = float(i);
        b.append(reinterpret_cast<const char*>(&v),
                 sizeof v);  // the test machines are little-endian
    }
    return b;
}

using Net = Sequential<Dense<4, 8>, ReLU, Dense<8, 3>>;
using Teacher = Sequential<Dense<4, 16>, ReLU, Dense<16, 3>>;

/// n samples of 4 features in [0.5, 1.5) (all positive), labels i % 3, classes 3.
Dataset<float> small_data(Eigen::Index n = 12) {
    Rng rng(Seed{3});
    Dataset<float> d;
    d.classes = 3;
    d.features.resize(4, n);
    for (Eigen::Index i = 0; i < d.features.size(); ++i)
        d.features.data()[i] = float(rng.uniform(0.5, 1.5));
    for (Eigen::Index j = 0; j < n; ++j) d.labels.push_back(int(j % 3));
    return d;
}

/// One epoch in batches of 4, without the progress line.
const TrainOptions<float> quiet{.epochs = 1, .batch_size = 4, .progress = false};

}  // namespace

// ---------------------------------------------------------------------------------------------
// Missing and unreadable files

TEST_CASE("errors: load_idx of a missing file is an IoError naming it", "[errors][io]") {
    TempDir dir;
    const std::string images = dir.file("no-such-images.idx");
    write_bytes(dir.file("l.idx"), idx_labels(1, Bytes(1, 0)));
    CHECK_THAT(thrown<IoError>([&] { (void)load_idx<float>(images, dir.file("l.idx")); }),
               Contains("chrysalis::load_idx") && Contains(images) && Contains("no such file"));
}

TEST_CASE("errors: load_idx of a directory given as a file is an IoError", "[errors][io]") {
    TempDir dir;
    const std::string folder = dir.file("a-directory");
    fs::create_directories(folder);
    write_bytes(dir.file("l.idx"), idx_labels(1, Bytes(1, 0)));
    CHECK_THAT(thrown<IoError>([&] { (void)load_idx<float>(folder, dir.file("l.idx")); }),
               Contains(folder) && Contains("it is a directory, not a file"));
}

TEST_CASE("errors: load of a directory given as a model file is an IoError", "[errors][io]") {
    TempDir dir;
    const std::string folder = dir.file("model-dir");
    fs::create_directories(folder);
    Net net;
    CHECK_THAT(thrown<IoError>([&] { load(net, folder); }),
               Contains("chrysalis::load") && Contains(folder) && Contains("cannot read"));
}

TEST_CASE("errors: load_csv of a missing file is an IoError naming it", "[errors][io]") {
    TempDir dir;
    const std::string path = dir.file("missing.csv");
    CHECK_THAT(thrown<IoError>([&] { (void)load_csv<float>(path); }),
               Contains("chrysalis::load_csv") && Contains(path) && Contains("no such file"));
}

TEST_CASE("errors: load_npy of a missing file is an IoError naming it", "[errors][io][npy]") {
    TempDir dir;
    const std::string path = dir.file("missing.npy");
    CHECK_THAT(thrown<IoError>([&] { (void)load_npy<float>(path); }),
               Contains("chrysalis::load_npy") && Contains(path));
}

// ---------------------------------------------------------------------------------------------
// IDX

TEST_CASE("errors: IDX with a wrong magic number", "[errors][idx]") {
    TempDir dir;
    const std::string images = dir.file("i.idx");
    write_bytes(images, idx_images(1, 2, 2, Bytes(4, 1), 0x00000903));
    write_bytes(dir.file("l.idx"), idx_labels(1, Bytes(1, 0)));
    CHECK_THAT(thrown<FormatError>([&] { (void)load_idx<float>(images, dir.file("l.idx")); }),
               Contains(images) && Contains("wrong magic number 0x00000903") &&
                   Contains("expected the IDX magic 0x00000803"));
}

TEST_CASE("errors: IDX with a wrong dimension count", "[errors][idx]") {
    TempDir dir;
    const std::string images = dir.file("i.idx");
    write_bytes(images, idx_images(1, 2, 2, Bytes(4, 1), 0x00000804));
    write_bytes(dir.file("l.idx"), idx_labels(1, Bytes(1, 0)));
    CHECK_THAT(thrown<FormatError>([&] { (void)load_idx<float>(images, dir.file("l.idx")); }),
               Contains(images) && Contains("wrong dimension count") &&
                   Contains("says 4 dimensions") && Contains("3 dimensions"));
}

TEST_CASE("errors: IDX sizes whose product overflows", "[errors][idx]") {
    // Each size fits in 32 bits and rows·cols = 2^32 fits in 64, but n·rows·cols ≈ 1.8e19
    // pixels exceeds what a 64-bit machine can address: refused before any allocation.
    TempDir dir;
    const std::string images = dir.file("i.idx");
    write_bytes(images, idx_images(0xFFFFFFFF, 0x10000, 0x10000, {}));
    write_bytes(dir.file("l.idx"), idx_labels(0xFFFFFFFF, {}));
    CHECK_THAT(thrown<FormatError>([&] { (void)load_idx<float>(images, dir.file("l.idx")); }),
               Contains(images) && Contains("the sizes 4294967295 × 65536 × 65536 overflow") &&
                   Contains("expected sizes whose product fits in memory"));
}

TEST_CASE("errors: IDX with truncated pixel data", "[errors][idx]") {
    TempDir dir;
    const std::string images = dir.file("i.idx");
    write_bytes(images, idx_images(5, 2, 2, Bytes(10, 1)));  // 20 pixels announced, 10 present
    write_bytes(dir.file("l.idx"), idx_labels(5, Bytes(5, 0)));
    CHECK_THAT(thrown<FormatError>([&] { (void)load_idx<float>(images, dir.file("l.idx")); }),
               Contains(images) && Contains("truncated") && Contains("5 images of 2×2 pixels") &&
                   Contains("expected a file of 36 bytes"));
}

TEST_CASE("errors: IDX image and label files of different lengths", "[errors][idx]") {
    TempDir dir;
    const std::string images = dir.file("i.idx"), labels = dir.file("l.idx");
    write_bytes(images, idx_images(3, 2, 2, Bytes(12, 1)));
    write_bytes(labels, idx_labels(4, Bytes(4, 0)));
    CHECK_THAT(thrown<FormatError>([&] { (void)load_idx<float>(images, labels); }),
               Contains(images) && Contains("holds 3 images") && Contains(labels) &&
                   Contains("holds 4 labels") && Contains("expected one label per image"));
}

TEST_CASE("errors: IDX label at or above the class count", "[errors][idx]") {
    TempDir dir;
    const std::string images = dir.file("i.idx"), labels = dir.file("l.idx");
    write_bytes(images, idx_images(3, 2, 2, Bytes(12, 1)));
    write_bytes(labels, idx_labels(3, Bytes{0, 5, 1}));
    CHECK_THAT(thrown<FormatError>([&] { (void)load_idx<float>(images, labels, {.classes = 5}); }),
               Contains(labels) && Contains("label 5 of sample 1 is outside [0, 5)") &&
                   Contains("IdxOptions::classes = 5"));
}

TEST_CASE("errors: IdxOptions::classes below 1 is a ValueError", "[errors][idx]") {
    TempDir dir;
    write_bytes(dir.file("i.idx"), idx_images(1, 2, 2, Bytes(4, 1)));
    write_bytes(dir.file("l.idx"), idx_labels(1, Bytes(1, 0)));
    CHECK_THAT(
        thrown<ValueError>(
            [&] { (void)load_idx<float>(dir.file("i.idx"), dir.file("l.idx"), {.classes = 0}); }),
        Contains("chrysalis::load_idx") && Contains("IdxOptions::classes must be >= 1, got 0"));
}

// ---------------------------------------------------------------------------------------------
// gzip

TEST_CASE("errors: corrupt .gz data (a wrong CRC-32 in the trailer)", "[errors][gz]") {
    TempDir dir;
    const std::string images = dir.file("i.idx.gz");
    write_gzip(images, idx_images(3, 2, 2, Bytes(12, 7)));
    Bytes gz = read_bytes(images);
    REQUIRE(gz.size() > 8);
    gz[gz.size() - 8] = char(gz[gz.size() - 8] ^ 0xFF);  // the trailer: CRC-32, then the size
    write_bytes(images, gz);
    write_bytes(dir.file("l.idx"), idx_labels(3, Bytes(3, 0)));
    CHECK_THAT(thrown<FormatError>([&] { (void)load_idx<float>(images, dir.file("l.idx")); }),
               Contains(images) && Contains("corrupt gzip data") &&
                   Contains("expected a valid gzip stream"));
}

TEST_CASE("errors: truncated .gz stream", "[errors][gz]") {
    TempDir dir;
    const std::string path = dir.file("d.csv.gz");
    std::string text;
    for (int i = 0; i < 200; ++i)
        text += std::to_string(i) + ",0.5," + std::to_string(i % 3) + "\n";
    write_gzip(path, text);
    Bytes gz = read_bytes(path);
    REQUIRE(gz.size() > 40);
    gz.erase(gz.size() / 2);  // cut in the middle of the deflate data
    write_bytes(path, gz);
    CHECK_THAT(thrown<FormatError>([&] { (void)load_csv<float>(path); }),
               Contains("chrysalis::load_csv") && Contains(path) &&
                   Contains("truncated gzip stream") && Contains("expected a complete gzip file"));
}

// ---------------------------------------------------------------------------------------------
// CSV

TEST_CASE("errors: CSV with a ragged row", "[errors][csv]") {
    TempDir dir;
    const std::string path = dir.file("ragged.csv");
    write_bytes(path, "1,2,0\n3,4,1\n5,1\n");
    CHECK_THAT(thrown<FormatError>([&] { (void)load_csv<float>(path); }),
               Contains(path) && Contains("line 3 has 2 columns; expected 3 like line 1"));
}

TEST_CASE("errors: CSV with a field that is not a number", "[errors][csv]") {
    TempDir dir;
    const std::string path = dir.file("words.csv");
    write_bytes(path, "1,2,0\n3,four,1\n");
    CHECK_THAT(thrown<FormatError>([&] { (void)load_csv<float>(path); }),
               Contains(path) && Contains("line 2, column 2") &&
                   Contains("'four' is not a number") && Contains("expected a finite decimal"));
}

TEST_CASE("errors: an empty CSV file", "[errors][csv]") {
    TempDir dir;
    const std::string path = dir.file("empty.csv");
    write_bytes(path, "");
    CHECK_THAT(
        thrown<FormatError>([&] { (void)load_csv<float>(path); }),
        Contains(path) && Contains("no data rows") && Contains("expected one sample per line"));
}

TEST_CASE("errors: CSV with a negative label", "[errors][csv]") {
    TempDir dir;
    const std::string path = dir.file("negative.csv");
    write_bytes(path, "1,2,0\n3,4,-2\n");
    CHECK_THAT(thrown<FormatError>([&] { (void)load_csv<float>(path); }),
               Contains(path) && Contains("line 2, column 3") && Contains("label -2 is negative") &&
                   Contains("expected a class label >= 0"));
}

TEST_CASE("errors: CSV with a label at or above CsvOptions::classes", "[errors][csv]") {
    TempDir dir;
    const std::string path = dir.file("classes.csv");
    write_bytes(path, "1,2,0\n3,4,3\n");
    CHECK_THAT(thrown<FormatError>([&] { (void)load_csv<float>(path, {.classes = 3}); }),
               Contains(path) && Contains("label 3 is outside [0, 3)") &&
                   Contains("CsvOptions::classes = 3"));
}

TEST_CASE("errors: CSV with NaN or Inf is refused unless allow_non_finite", "[errors][csv]") {
    TempDir dir;
    const std::string path = dir.file("nan.csv");
    write_bytes(path, "1,2,0\n3,nan,1\n-inf,4,2\n");
    CHECK_THAT(thrown<FormatError>([&] { (void)load_csv<float>(path); }),
               Contains(path) && Contains("line 2, column 2: 'nan' is not finite") &&
                   Contains("CsvOptions::allow_non_finite"));
    // The opt-in loads the values as they are, for imputation before training.
    const auto data = load_csv<float>(path, {.allow_non_finite = true});
    REQUIRE(data.size() == 3);
    CHECK(std::isnan(data.features(1, 1)));
    CHECK(data.features(0, 2) == -inf_f);
    CHECK(data.labels == std::vector<int>{0, 1, 2});
}

TEST_CASE("errors: CsvOptions::delimiter that can be part of a number", "[errors][csv]") {
    TempDir dir;
    const std::string path = dir.file("d.csv");
    write_bytes(path, "1,2,0\n");
    CHECK_THAT(thrown<ValueError>([&] { (void)load_csv<float>(path, {.delimiter = '-'}); }),
               Contains("chrysalis::load_csv") && Contains("CsvOptions::delimiter") &&
                   Contains("expected a separator"));
}

// ---------------------------------------------------------------------------------------------
// NaN and Inf in inputs

TEST_CASE("errors: fit refuses a NaN feature, naming the sample", "[errors][finite]") {
    Dataset<float> d = small_data();
    d.features(2, 7) = nan_f;
    Net net(Seed{1});
    Sgd sgd{.lr = 0.1};
    CHECK_THAT(thrown<ValueError>([&] { fit(net, d, CrossEntropy{}, sgd, quiet); }),
               Contains("chrysalis::fit: feature 2 of sample 7 of the data is nan") &&
                   Contains("expected a finite number"));
}

TEST_CASE("errors: fit refuses a NaN feature in the validation set", "[errors][finite]") {
    const Dataset<float> d = small_data();
    Dataset<float> validation = small_data(5);
    validation.features(0, 4) = -inf_f;
    Net net(Seed{1});
    Sgd sgd{.lr = 0.1};
    TrainOptions<float> o = quiet;
    o.validation = &validation;
    CHECK_THAT(thrown<ValueError>([&] { fit(net, d, CrossEntropy{}, sgd, o); }),
               Contains("chrysalis::fit") &&
                   Contains("feature 0 of sample 4 of the validation data") && Contains("is -inf"));
}

TEST_CASE("errors: distill refuses an infinite feature, naming the sample", "[errors][finite]") {
    Dataset<float> d = small_data();
    Teacher teacher(Seed{2});
    const Matrix<float> logits = predict_logits(teacher, d);
    d.features(3, 10) = inf_f;
    Net student(Seed{1});
    Adam adam;
    CHECK_THAT(
        thrown<ValueError>([&] { distill(student, d, logits, Distillation{}, adam, quiet); }),
        Contains("chrysalis::distill: feature 3 of sample 10 of the data is inf"));
}

TEST_CASE("errors: distill refuses a NaN teacher logit, naming the sample", "[errors][finite]") {
    const Dataset<float> d = small_data();
    Teacher teacher(Seed{2});
    Matrix<float> logits = predict_logits(teacher, d);
    logits(1, 9) = nan_f;
    Net student(Seed{1});
    Adam adam;
    CHECK_THAT(
        thrown<ValueError>([&] { distill(student, d, logits, Distillation{}, adam, quiet); }),
        Contains("chrysalis::distill: logit 1 of sample 9 of the teacher logits is nan"));
}

TEST_CASE("errors: predict_logits on a NaN input does not return a class", "[errors][finite]") {
    // A ReLU network maps NaN through max(x, 0) unpredictably; the sample is refused instead.
    Dataset<float> d = small_data();
    d.features(0, 5) = nan_f;
    Net net(Seed{1});
    CHECK_THAT(thrown<ValueError>([&] { (void)predict_logits(net, d); }),
               Contains("chrysalis::predict_logits: feature 0 of sample 5 of the data is nan"));
}

TEST_CASE("errors: accuracy on a NaN input throws instead of counting a class",
          "[errors][finite]") {
    Dataset<float> d = small_data();
    d.features(3, 11) = nan_f;
    Net net(Seed{1});
    CHECK_THAT(thrown<ValueError>([&] { (void)accuracy(net, d); }),
               Contains("feature 3 of sample 11 of the data is nan"));
}

TEST_CASE("errors: evaluate on an infinite input throws, naming the sample", "[errors][finite]") {
    Dataset<float> d = small_data();
    d.features(1, 0) = inf_f;
    Net net(Seed{1});
    CHECK_THAT(thrown<ValueError>([&] { (void)evaluate(net, d); }),
               Contains("feature 1 of sample 0 of the data is inf"));
}

TEST_CASE("errors: Dataset::validate refuses a NaN feature unless allowed", "[errors][finite]") {
    Dataset<float> d = small_data();
    d.features(2, 3) = nan_f;
    CHECK_THAT(thrown<ValueError>([&] { d.validate(); }),
               Contains("chrysalis::Dataset::validate: feature 2 of sample 3 is nan") &&
                   Contains("validate(true) accepts NaN and Inf"));
    CHECK_NOTHROW(d.validate(/*allow_non_finite=*/true));
}

// ---------------------------------------------------------------------------------------------
// Shapes

TEST_CASE("errors: fit on data with another feature count than the network's input",
          "[errors][shape]") {
    Dataset<float> d = small_data();
    d.features.conservativeResize(5, d.size());
    d.features.row(4).setZero();
    Net net;
    Sgd sgd;
    CHECK_THAT(thrown<ShapeError>([&] { fit(net, d, CrossEntropy{}, sgd, quiet); }),
               Contains("chrysalis::fit: the data has 5 features per sample but the network's "
                        "input width is 4"));
}

TEST_CASE("errors: predict_logits on data with another feature count", "[errors][shape]") {
    Dataset<float> d = small_data();
    d.features.conservativeResize(3, d.size());
    Net net;
    CHECK_THAT(thrown<ShapeError>([&] { (void)predict_logits(net, d); }),
               Contains("chrysalis::predict_logits: the data has 3 features per sample") &&
                   Contains("input width is 4"));
}

TEST_CASE("errors: teacher logits with the wrong number of rows", "[errors][shape]") {
    const Dataset<float> d = small_data();
    const Matrix<float> logits = Matrix<float>::Zero(4, d.size());  // 4 classes, the student 3
    Net student;
    Adam adam;
    CHECK_THAT(
        thrown<ShapeError>([&] { distill(student, d, logits, Distillation{}, adam, quiet); }),
        Contains("chrysalis::distill: the teacher logits are 4x12 but the student has 3 "
                 "outputs") &&
            Contains("expected classes x samples = 3x12"));
}

TEST_CASE("errors: teacher logits with the wrong number of samples", "[errors][shape]") {
    const Dataset<float> d = small_data();
    const Matrix<float> logits = Matrix<float>::Zero(3, d.size() - 1);
    Net student;
    Adam adam;
    CHECK_THAT(
        thrown<ShapeError>([&] { distill(student, d, logits, Distillation{}, adam, quiet); }),
        Contains("the teacher logits are 3x11") && Contains("the data 12 samples") &&
            Contains("expected classes x samples = 3x12"));
}

TEST_CASE("errors: a data set with fewer labels than samples", "[errors][shape]") {
    Dataset<float> d = small_data();
    d.labels.pop_back();
    Net net;
    Sgd sgd;
    CHECK_THAT(thrown<ShapeError>([&] { fit(net, d, CrossEntropy{}, sgd, quiet); }),
               Contains("chrysalis::fit: the data has 11 labels for 12 samples") &&
                   Contains("expected one label per sample"));
}

TEST_CASE("errors: accuracy with a label outside the network's classes", "[errors][shape]") {
    Dataset<float> d = small_data();
    d.labels[6] = 3;  // the network has 3 outputs: classes 0..2
    Net net;
    CHECK_THAT(thrown<ValueError>([&] { (void)accuracy(net, d); }),
               Contains("chrysalis::accuracy: label 3 of sample 6 of the data is outside [0, 3)"));
}

TEST_CASE("errors: a distillation batch whose teacher logits have another shape",
          "[errors][shape]") {
    const Matrix<float> student = Matrix<float>::Zero(3, 5);
    const Matrix<float> teacher = Matrix<float>::Zero(3, 4);
    const std::vector<int> labels{0, 1, 2, 0, 1};
    CHECK_THAT(thrown<ShapeError>([&] { (void)Distillation{}(student, teacher, labels); }),
               Contains("chrysalis::Distillation: the student logits are 3x5 but the teacher "
                        "logits are 3x4"));
}

TEST_CASE("errors: a cross-entropy batch with a label count other than its size",
          "[errors][shape]") {
    const Matrix<float> logits = Matrix<float>::Zero(3, 5);
    const std::vector<int> labels{0, 1, 2};
    CHECK_THAT(thrown<ShapeError>([&] { (void)CrossEntropy{}(logits, labels); }),
               Contains("chrysalis::CrossEntropy: 3 labels for a batch of 5 samples"));
}

TEST_CASE("errors: a loss's gradient matrix of another size than the logits", "[errors][shape]") {
    const Matrix<float> student = Matrix<float>::Zero(3, 5), teacher = student;
    Matrix<float> buffer(3, 8);
    MatrixRef<float> gradient(buffer.leftCols(4));
    CHECK_THAT(thrown<ShapeError>([&] { (void)ReverseKL{}(student, teacher, gradient); }),
               Contains("chrysalis::ReverseKL: the gradient is 3x4 but the logits are 3x5"));
}

TEST_CASE("errors: a label that does not fit in an int", "[errors][values]") {
    const Matrix<float> logits = Matrix<float>::Zero(3, 2);
    const std::vector<long long> labels{0, 1LL << 33};
    CHECK_THAT(thrown<ValueError>([&] { (void)CrossEntropy{}(logits, labels); }),
               Contains("chrysalis::CrossEntropy: label 8589934592 of sample 1 does not fit in "
                        "an int"));
}

TEST_CASE("errors: argmax and accuracy of logits with a NaN", "[errors][values]") {
    Matrix<float> logits = Matrix<float>::Zero(3, 2);
    logits(2, 1) = std::numeric_limits<float>::quiet_NaN();
    CHECK_THAT(thrown<ValueError>([&] { (void)argmax(logits); }),
               Contains("chrysalis::argmax: logit 2 of sample 1 is NaN"));
    CHECK_THAT(thrown<ValueError>([&] {
                   (void)accuracy(logits, std::vector<int>{0, 1});
               }),
               Contains("chrysalis::accuracy: logit 2 of sample 1 is NaN"));
}

TEST_CASE("errors: accuracy of logits with a label count other than the columns",
          "[errors][shape]") {
    const Matrix<float> logits = Matrix<float>::Zero(3, 2);
    CHECK_THAT(thrown<ShapeError>([&] { (void)accuracy(logits, std::vector<int>{0}); }),
               Contains("chrysalis::accuracy: 1 labels for a batch of 2 samples"));
    CHECK_THAT(thrown<ValueError>([&] {
                   (void)accuracy(logits, std::vector<int>{0, 3});
               }),
               Contains("chrysalis::accuracy: label 3 of sample 1 is outside [0, 3)"));
}

// ---------------------------------------------------------------------------------------------
// Model files

namespace {
/// The bytes of a saved Net, for damaging.
Bytes saved_model(const TempDir& dir) {
    Net net(Seed{5});
    save(net, dir.file("good.chrysalis"));
    return read_bytes(dir.file("good.chrysalis"));
}
}  // namespace

TEST_CASE("errors: a truncated model file", "[errors][model]") {
    TempDir dir;
    Bytes bytes = saved_model(dir);
    bytes.erase(bytes.size() - 10);
    const std::string path = dir.file("cut.chrysalis");
    write_bytes(path, bytes);
    Net net;
    CHECK_THAT(thrown<FormatError>([&] { load(net, path); }),
               Contains("chrysalis::load") && Contains(path) &&
                   Contains("is truncated: it has " + std::to_string(bytes.size()) +
                            " bytes, its header says " + std::to_string(bytes.size() + 10)));
}

TEST_CASE("errors: a model file with a bad checksum", "[errors][model]") {
    TempDir dir;
    Bytes bytes = saved_model(dir);
    bytes[bytes.size() - 20] = char(bytes[bytes.size() - 20] ^ 0x01);  // one bit of a parameter
    const std::string path = dir.file("flipped.chrysalis");
    write_bytes(path, bytes);
    Net net;
    CHECK_THAT(thrown<FormatError>([&] { load(net, path); }),
               Contains(path) && Contains("is corrupt: its CRC-32 checksum is") &&
                   Contains("but its contents give"));
}

TEST_CASE("errors: a model file of another format version", "[errors][model]") {
    TempDir dir;
    Bytes bytes = saved_model(dir);
    bytes[8] = char(model_format_version + 1);  // the little-endian version after the magic
    const std::string path = dir.file("future.chrysalis");
    write_bytes(path, bytes);
    Net net;
    CHECK_THAT(
        thrown<FormatError>([&] { load(net, path); }),
        Contains(path) &&
            Contains(detail::concat("has model format version ", model_format_version + 1)) &&
            Contains(detail::concat("reads format version ", model_format_version)));
}

TEST_CASE("errors: a model file of another architecture", "[errors][model]") {
    TempDir dir;
    const std::string path = dir.file("wide.chrysalis");
    save(Sequential<Dense<4, 9>, ReLU, Dense<9, 3>>(Seed{1}), path);
    Net net;
    CHECK_THAT(thrown<FormatError>([&] { load(net, path); }),
               Contains(path) &&
                   Contains("holds Sequential<Dense<4,9,float>,ReLU,Dense<9,3,float>> but the "
                            "network is Sequential<Dense<4,8,float>,ReLU,Dense<8,3,float>>"));
}

TEST_CASE("errors: a model file of another scalar type", "[errors][model]") {
    TempDir dir;
    const std::string path = dir.file("double.chrysalis");
    save(Sequential<Dense<4, 8, double>, ReLU, Dense<8, 3, double>>(Seed{1}), path);
    Net net;
    CHECK_THAT(thrown<FormatError>([&] { load(net, path); }),
               Contains(path) &&
                   Contains("holds double parameters but the network's scalar type is float"));
}

TEST_CASE("errors: a file that is not a model file", "[errors][model]") {
    TempDir dir;
    const std::string path = dir.file("text.chrysalis");
    write_bytes(path, "this is not a model\n");
    Net net;
    CHECK_THAT(thrown<FormatError>([&] { load(net, path); }),
               Contains(path) && Contains("is not a chrysalis model file"));
}

// ---------------------------------------------------------------------------------------------
// .npy

TEST_CASE("errors: .npy of a dtype other than float32 and float64", "[errors][npy]") {
    TempDir dir;
    const std::string path = dir.file("ints.npy");
    write_bytes(path, npy_file("{'descr': '<i8', 'fortran_order': False, 'shape': (2,), }",
                               Bytes(16, '\0')));
    CHECK_THAT(thrown<FormatError>([&] { (void)load_npy<float>(path); }),
               Contains("chrysalis::load_npy") && Contains(path) && Contains("dtype '<i8'") &&
                   Contains("only '<f4' (float32) and '<f8' (float64)"));
}

TEST_CASE("errors: .npy of big-endian floats", "[errors][npy]") {
    TempDir dir;
    const std::string path = dir.file("big.npy");
    write_bytes(
        path, npy_file("{'descr': '>f4', 'fortran_order': False, 'shape': (2, 2), }", f4_data(4)));
    CHECK_THAT(
        thrown<FormatError>([&] { (void)load_npy<float>(path); }),
        Contains(path) && Contains("big-endian data ('>f4')") && Contains("only little-endian"));
}

TEST_CASE("errors: .npy of three dimensions", "[errors][npy]") {
    TempDir dir;
    const std::string path = dir.file("cube.npy");
    write_bytes(path, npy_file("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 2, 2), }",
                               f4_data(8)));
    CHECK_THAT(thrown<FormatError>([&] { (void)load_npy<float>(path); }),
               Contains(path) && Contains("3-D array of shape (2, 2, 2)") &&
                   Contains("only 1-D and 2-D arrays"));
}

TEST_CASE("errors: .npy whose data is shorter than its shape", "[errors][npy]") {
    TempDir dir;
    const std::string path = dir.file("short.npy");
    write_bytes(
        path, npy_file("{'descr': '<f4', 'fortran_order': True, 'shape': (3, 4), }", f4_data(11)));
    CHECK_THAT(thrown<FormatError>([&] { (void)load_npy<float>(path); }),
               Contains(path) && Contains("is truncated: it holds 44 bytes of data") &&
                   Contains("shape (3, 4) of '<f4' needs 48"));
}

TEST_CASE("errors: .npy with a header that does not parse", "[errors][npy]") {
    TempDir dir;
    const std::string path = dir.file("header.npy");
    write_bytes(path, npy_file("{'descr': '<f4', 'shape': (2,), }", f4_data(2)));
    CHECK_THAT(thrown<FormatError>([&] { (void)load_npy<float>(path); }),
               Contains(path) && Contains("bad .npy header") &&
                   Contains("'descr', 'fortran_order' and 'shape'"));
}

TEST_CASE("errors: import_npy of a block with the wrong shape", "[errors][npy]") {
    TempDir dir;
    const std::string folder = dir.file("blocks");
    Net net(Seed{1});
    export_npy(net, folder);
    // Layer 0's weight is 8 x 4; put a 4 x 8 array (the transpose, a common mistake) there.
    save_npy(Matrix<float>(Matrix<float>::Zero(4, 8)), (fs::path(folder) / "0_0.npy").string());
    Net other(Seed{2});
    CHECK_THAT(thrown<FormatError>([&] { import_npy(other, folder); }),
               Contains("chrysalis::import_npy") && Contains("0_0.npy") &&
                   Contains("holds a 4 x 8 array but layer 0") && Contains("is 8 x 4"));
}

// ---------------------------------------------------------------------------------------------
// Hyperparameters

TEST_CASE("errors: Sgd learning rate 0", "[errors][hyper]") {
    CHECK_THAT(thrown<ValueError>([] { (void)Sgd{.lr = 0.0}; }),
               Contains("chrysalis::Sgd: learning rate lr must be a finite number > 0, got 0"));
}

TEST_CASE("errors: Sgd learning rate NaN", "[errors][hyper]") {
    CHECK_THAT(thrown<ValueError>([] { (void)Sgd{.lr = std::nan("")}; }),
               Contains("chrysalis::Sgd: learning rate lr must be a finite number > 0, got nan"));
}

TEST_CASE("errors: Sgd momentum 1", "[errors][hyper]") {
    CHECK_THAT(thrown<ValueError>([] { (void)Sgd{.lr = 0.1, .momentum = 1.0}; }),
               Contains("chrysalis::Sgd: momentum must be in [0, 1), got 1"));
}

TEST_CASE("errors: Sgd negative momentum", "[errors][hyper]") {
    CHECK_THAT(thrown<ValueError>([] { (void)Sgd{.lr = 0.1, .momentum = -0.5}; }),
               Contains("chrysalis::Sgd: momentum must be in [0, 1), got -0.5"));
}

TEST_CASE("errors: Adam beta1 of 1", "[errors][hyper]") {
    CHECK_THAT(thrown<ValueError>([] { (void)Adam{.beta1 = 1.0}; }),
               Contains("chrysalis::Adam: beta1 must be in [0, 1), got 1"));
}

TEST_CASE("errors: AdamW negative beta2", "[errors][hyper]") {
    CHECK_THAT(thrown<ValueError>([] { (void)AdamW{.beta2 = -0.1}; }),
               Contains("chrysalis::AdamW: beta2 must be in [0, 1), got -0.1"));
}

TEST_CASE("errors: Adam eps of 0", "[errors][hyper]") {
    CHECK_THAT(thrown<ValueError>([] { (void)Adam{.eps = 0.0}; }),
               Contains("chrysalis::Adam: eps must be a finite number > 0, got 0"));
}

TEST_CASE("errors: distillation temperature 0", "[errors][hyper]") {
    CHECK_THAT(thrown<ValueError>([] { (void)Distillation{.temperature = 0.0}; }),
               Contains("chrysalis::Distillation: temperature must be a finite number > 0, got 0"));
}

TEST_CASE("errors: distillation temperature NaN", "[errors][hyper]") {
    CHECK_THAT(thrown<ValueError>([] { (void)Distillation{.temperature = std::nan("")}; }),
               Contains("chrysalis::Distillation: temperature must be a finite number > 0, "
                        "got nan"));
}

TEST_CASE("errors: softmax temperature below 0", "[errors][hyper]") {
    const Matrix<float> logits = Matrix<float>::Zero(3, 2);
    CHECK_THAT(thrown<ValueError>([&] { (void)softmax(logits, -2.0); }),
               Contains("chrysalis::softmax: temperature T must be a finite number > 0, got -2"));
}

TEST_CASE("errors: distillation alpha above 1", "[errors][hyper]") {
    CHECK_THAT(thrown<ValueError>([] { (void)Distillation{.temperature = 4, .alpha = 1.5}; }),
               Contains("chrysalis::Distillation: alpha must be in [0, 1], got 1.5"));
}

TEST_CASE("errors: dropout rate 1", "[errors][hyper]") {
    Dropout<50> drop;
    CHECK_THAT(thrown<ValueError>([&] { drop.set_rate(1.0); }),
               Contains("chrysalis::Dropout: rate must be in [0, 1), got 1"));
    CHECK(drop.rate() == 0.5);  // unchanged
}

TEST_CASE("errors: fit with batch size 0", "[errors][hyper]") {
    const Dataset<float> d = small_data();
    Net net;
    Sgd sgd;
    CHECK_THAT(thrown<ValueError>(
                   [&] { fit(net, d, CrossEntropy{}, sgd, {.batch_size = 0, .progress = false}); }),
               Contains("chrysalis::fit: batch_size must be >= 1, got 0"));
}

TEST_CASE("errors: distill with 0 epochs", "[errors][hyper]") {
    const Dataset<float> d = small_data();
    Teacher teacher(Seed{2});
    Net student;
    Adam adam;
    CHECK_THAT(thrown<ValueError>([&] {
                   distill(student, d, teacher, Distillation{}, adam,
                           {.epochs = 0, .progress = false});
               }),
               Contains("chrysalis::distill: epochs must be >= 1, got 0"));
}

TEST_CASE("errors: predict_logits with batch size 0", "[errors][hyper]") {
    const Dataset<float> d = small_data();
    Net net;
    CHECK_THAT(thrown<ValueError>([&] { (void)predict_logits(net, d, 0); }),
               Contains("chrysalis::predict_logits: batch_size must be >= 1, got 0"));
}

TEST_CASE("errors: a step schedule with gamma 0", "[errors][hyper][schedule]") {
    CHECK_THAT(thrown<ValueError>([] { (void)schedule::step(10, 0.0); }),
               Contains("chrysalis::schedule::step: gamma must be a finite number > 0, got 0"));
}

TEST_CASE("errors: a cosine schedule with min_factor above 1", "[errors][hyper][schedule]") {
    CHECK_THAT(thrown<ValueError>([] { (void)schedule::cosine(10, 1.5); }),
               Contains("chrysalis::schedule::cosine: min_factor must be in [0, 1], got 1.5"));
}

TEST_CASE("errors: a warm-up of negative length", "[errors][hyper][schedule]") {
    CHECK_THAT(thrown<ValueError>([] { (void)schedule::warmup(-1); }),
               Contains("chrysalis::schedule::warmup: warm-up epochs must be >= 0, got -1"));
}

// ---------------------------------------------------------------------------------------------
// Divergence

TEST_CASE("errors: a huge learning rate stops training at the epoch and batch it diverges",
          "[errors][diverge]") {
    // Batch 1 starts from finite weights, so its loss is finite; its update (rate 1e30 times
    // gradients of order 0.1) leaves weights of order 1e29, and the logits of batch 2, products of
    // two such layers, overflow float: batch 2's loss is not finite.
    const Dataset<float> d = small_data();
    Net net(Seed{1});
    Sgd sgd{.lr = 1e30};
    const TrainOptions<float> o{.epochs = 3, .batch_size = 4, .shuffle = false, .progress = false};
    try {
        fit(net, d, CrossEntropy{}, sgd, o);
        FAIL("fit did not throw");
    } catch (const TrainingDiverged& e) {
        CHECK(e.epoch == 0);
        CHECK(e.batch == 1);
        CHECK_THAT(e.what(), Contains("chrysalis::fit: training diverged at epoch 1, batch 2: "
                                      "the loss is") &&
                                 Contains("lower the learning rate"));
    }
}

TEST_CASE("errors: TrainingDiverged's message counts from 1 whatever the epoch and batch",
          "[errors][diverge]") {
    const TrainingDiverged a(0, 1, "the output of layer 2 is inf", "chrysalis::distill");
    CHECK(std::string(a.what()) ==
          "chrysalis::distill: training diverged at epoch 1, batch 2: the output of layer 2 is "
          "inf (lower the learning rate, or check the inputs)");
    CHECK(a.epoch == 0);
    CHECK(a.batch == 1);
    // The largest values still print as the next integer (no int overflow on the way).
    const TrainingDiverged b(std::numeric_limits<int>::max(), 4'000'000'000'000L,
                             std::numeric_limits<double>::quiet_NaN());
    CHECK(std::string(b.what()) ==
          "chrysalis: training diverged at epoch 2147483648, batch 4000000000001: the loss is "
          "nan (lower the learning rate, or check the inputs)");
}

TEST_CASE("errors: a non-finite bias hidden from the loss by ReLU still stops training",
          "[errors][diverge]") {
    // Bias −∞ on hidden unit 0: its pre-activation is −∞ for every sample and ReLU turns it into
    // 0, so the loss stays finite — the check of each Dense layer's output catches it.
    const Dataset<float> d = small_data();
    Net net(Seed{1});
    std::size_t block = 0;
    net.visit_parameters([&](auto& p, auto&) {
        if (block++ == 1) p(0) = -inf_f;  // block 1: layer 0's bias
    });
    REQUIRE(std::isfinite(CrossEntropy{}(net.forward(d.features), d.labels).loss));
    Sgd sgd{.lr = 0.1};
    CHECK_THAT(thrown<TrainingDiverged>([&] { fit(net, d, CrossEntropy{}, sgd, quiet); }),
               Contains("chrysalis::fit: training diverged at epoch 1, batch 1: the output of "
                        "layer 0 holds a NaN or infinite value though the loss is finite"));
}

TEST_CASE("errors: weights made infinite by the epoch's last update stop training",
          "[errors][diverge]") {
    // Inputs of order 1000 make hidden activations, hence last-layer gradients, far above 1; a
    // rate of 3e38 (finite in float) times such a gradient overflows, so the one update of the
    // one batch makes weights infinite, and no forward follows it within the epoch: the
    // end-of-epoch check of the parameters finds it.
    Dataset<float> d = small_data();
    d.features *= 1000.0f;
    Net net(Seed{1});
    Sgd sgd{.lr = 3e38};
    CHECK_THAT(thrown<TrainingDiverged>([&] {
                   fit(net, d, CrossEntropy{}, sgd,
                       {.epochs = 2, .batch_size = 64, .progress = false});
               }),
               Contains("chrysalis::fit: training diverged at epoch 1, batch 1: parameter block") &&
                   Contains("holds a NaN or infinite value after the update"));
}

TEST_CASE("errors: every error above is a chrysalis::Error", "[errors]") {
    // One handler catches them all: a file error, a value error, a shape error, a divergence.
    int caught = 0;
    const auto count = [&](auto&& f) {
        try {
            f();
        } catch (const Error&) {
            ++caught;
        }
    };
    TempDir dir;
    Net net;
    const Dataset<float> d = small_data();
    Dataset<float> narrow = small_data();
    narrow.features.conservativeResize(2, narrow.size());
    count([&] { load(net, dir.file("missing")); });
    count([] { (void)Sgd{.lr = -1.0}; });
    count([&] { (void)predict_logits(net, narrow); });
    count([&] {
        Sgd sgd{.lr = 1e30};
        fit(net, d, CrossEntropy{}, sgd,
            {.epochs = 3, .batch_size = 4, .shuffle = false, .progress = false});
    });
    CHECK(caught == 4);
}

TEST_CASE("errors: a negative thread count is a ValueError naming it", "[errors][values]") {
    CHECK_THROWS_AS(set_threads(-1), ValueError);
    CHECK_THROWS_WITH(set_threads(-1),
                      "chrysalis::set_threads: the thread count must be >= 0 (0 = all cores), "
                      "got -1");
    CHECK_THROWS_AS(ThreadsScope(-2), ValueError);
    Net net;
    Sgd sgd{.lr = 0.1};
    const auto bad = [&] {
        fit(net, small_data(), CrossEntropy{}, sgd,
            {.epochs = 1, .progress = false, .threads = -1});
    };
    CHECK_THROWS_AS(bad(), ValueError);
    CHECK_THROWS_WITH(bad(),
                      Contains("chrysalis::fit: threads must be >= 0") && Contains("got -1"));
    CHECK(threads() >= 1);  // the failed calls changed nothing
}

}  // namespace CHRYSALIS_TEST_FILE
