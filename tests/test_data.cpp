// Data sets: IDX and CSV files (round trips, hand-made bytes, every malformed case), scaling,
// splits, subsets, the Batcher and image jitter. Files are written under a fresh directory in the
// system's temporary directory, removed at the end of each test.

#include <catch2/catch.hpp>

#include <chrysalis/data.hpp>
#include <chrysalis/detail/data_checks.hpp>

#include "temp_dir.hpp"

#include <zlib.h>

#include <array>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <limits>
#include <numeric>
#include <random>
#include <set>
#include <string>
#include <utility>
#include <vector>

using namespace chrysalis;
using Catch::Matchers::Contains;
namespace fs = std::filesystem;

// The type, then the message: CHECK_THROWS_WITH alone would accept any exception.
#define CHECK_THROWS_AS_WITH(expr, type, matcher) \
    do {                                          \
        CHECK_THROWS_AS(expr, type);              \
        CHECK_THROWS_WITH(expr, matcher);         \
    } while (false)

namespace {

using Bytes = std::vector<unsigned char>;

using chrysalis::test::TempDir;

void write_file(const std::string& path, const Bytes& bytes) {
    std::ofstream out(path, std::ios::binary);
    out.write(reinterpret_cast<const char*>(bytes.data()), std::streamsize(bytes.size()));
    REQUIRE(out.good());
}

void write_text(const std::string& path, const std::string& text) {
    std::ofstream out(path, std::ios::binary);
    out << text;
    REQUIRE(out.good());
}

void write_gzip(const std::string& path, const Bytes& bytes) {
    gzFile f = gzopen(path.c_str(), "wb");
    REQUIRE(f != nullptr);
    REQUIRE(gzwrite(f, bytes.data(), unsigned(bytes.size())) == int(bytes.size()));
    REQUIRE(gzclose(f) == Z_OK);
}

Bytes read_file(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    return Bytes(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

void put32(Bytes& b, std::uint32_t v) {
    for (int shift = 24; shift >= 0; shift -= 8)
        b.push_back(static_cast<unsigned char>(v >> shift));
}

/// An IDX image file: header, then `pixels` as given.
Bytes idx_images(std::uint32_t n, std::uint32_t rows, std::uint32_t cols, const Bytes& pixels,
                 std::uint32_t magic = 0x803) {
    Bytes b;
    put32(b, magic);
    put32(b, n);
    put32(b, rows);
    put32(b, cols);
    b.insert(b.end(), pixels.begin(), pixels.end());
    return b;
}

Bytes idx_labels(std::uint32_t n, const Bytes& labels, std::uint32_t magic = 0x801) {
    Bytes b;
    put32(b, magic);
    put32(b, n);
    b.insert(b.end(), labels.begin(), labels.end());
    return b;
}

/// A data set of n images of 3 × 4 pixels (multiples of 1/255) and labels below 10.
template <class S>
Dataset<S> random_images(Eigen::Index n, std::uint64_t seed) {
    Rng rng(Seed{seed});
    Dataset<S> d;
    d.classes = 10;
    d.features.resize(12, n);
    for (Eigen::Index i = 0; i < d.features.size(); ++i)
        d.features.data()[i] = S(int(rng.below(256))) / S(255);
    for (Eigen::Index i = 0; i < n; ++i) d.labels.push_back(int(rng.below(10)));
    return d;
}

/// A data set of n samples, feature 0 = the sample's index, the others random, label i % classes.
template <class S>
Dataset<S> indexed(Eigen::Index n, Eigen::Index features = 3, int classes = 4) {
    Rng rng(Seed{7});
    Dataset<S> d;
    d.classes = classes;
    d.features.resize(features, n);
    for (Eigen::Index j = 0; j < n; ++j) {
        d.features(0, j) = S(j);
        for (Eigen::Index i = 1; i < features; ++i) d.features(i, j) = S(rng.uniform(-1, 1));
        d.labels.push_back(int(j % classes));
    }
    return d;
}

}  // namespace

// ---------------------------------------------------------------------------------------- IDX --

TEST_CASE("IDX files round-trip exactly, raw and gzip-compressed", "[data][idx]") {
    TempDir dir;
    const Dataset<float> original = random_images<float>(7, 1);
    for (const std::string suffix : {"", ".gz"}) {
        const std::string images = dir.file("images.idx" + suffix);
        const std::string labels = dir.file("labels.idx" + suffix);
        save_idx(original, 3, 4, images, labels);
        const Bytes head = read_file(images);
        REQUIRE(head.size() >= 4);
        if (suffix.empty()) {
            CHECK(head.size() == 16 + 7 * 12);
            CHECK(Bytes(head.begin(), head.begin() + 4) == Bytes{0, 0, 8, 3});
        } else {
            CHECK((head[0] == 0x1f && head[1] == 0x8b));
        }
        const Dataset<float> back = load_idx<float>(images, labels);
        CHECK(back.features == original.features);
        CHECK(back.labels == original.labels);
        CHECK(back.classes == 10);
    }
}

TEST_CASE("save_idx checks the labels' path before it replaces the images", "[data][idx]") {
    // A labels file in a directory that does not exist was found after the images had been
    // replaced: the old labels beside new images, which load without error.
    TempDir dir;
    const std::string images = dir.file("images.idx");
    save_idx(random_images<float>(7, 1), 3, 4, images, dir.file("labels.idx"));
    const Bytes old = read_file(images);
    const std::string missing = dir.file("missing/labels.idx");
    CHECK_THROWS_AS(save_idx(random_images<float>(7, 2), 3, 4, images, missing), IoError);
    CHECK_THROWS_WITH(save_idx(random_images<float>(7, 2), 3, 4, images, missing),
                      Catch::Contains("chrysalis::save_idx") &&
                          Catch::Contains("missing/labels.idx") && Catch::Contains("directory"));
    CHECK(read_file(images) == old);
}

TEST_CASE("IDX files of unscaled integer pixels round-trip in double", "[data][idx]") {
    TempDir dir;
    Dataset<double> original = random_images<double>(5, 2);
    original.features = (original.features * 255).array().round().matrix();
    save_idx(original, 4, 3, dir.file("i.gz"), dir.file("l"), /*scaled=*/false);
    const auto back = load_idx<double>(dir.file("i.gz"), dir.file("l"), {.scale = false});
    CHECK(back.features == original.features);
    CHECK(back.labels == original.labels);
}

TEST_CASE("load_idx reads a hand-made IDX pair pixel by pixel, row-major", "[data][idx]") {
    TempDir dir;
    // Two images of 2 rows × 3 columns.
    write_file(dir.file("i"), idx_images(2, 2, 3, {0, 10, 20, 30, 40, 50, 255, 1, 2, 3, 4, 5}));
    write_file(dir.file("l"), idx_labels(2, {7, 3}));
    const auto raw = load_idx<double>(dir.file("i"), dir.file("l"), {.scale = false});
    REQUIRE(raw.features.rows() == 6);
    REQUIRE(raw.size() == 2);
    CHECK(raw.features(0, 0) == 0);   // row 0, column 0
    CHECK(raw.features(1, 0) == 10);  // row 0, column 1
    CHECK(raw.features(2, 0) == 20);
    CHECK(raw.features(3, 0) == 30);  // row 1, column 0
    CHECK(raw.features(5, 0) == 50);
    CHECK(raw.features(0, 1) == 255);
    CHECK(raw.features(4, 1) == 4);
    CHECK(raw.labels == std::vector<int>{7, 3});
    const auto scaled = load_idx<float>(dir.file("i"), dir.file("l"));
    CHECK(scaled.features(0, 1) == 1.0f);
    CHECK(scaled.features(1, 0) == 10.0f / 255.0f);
    CHECK(scaled.features(0, 0) == 0.0f);
    CHECK(scaled.classes == 10);
    // The same bytes gzip-compressed read the same.
    write_gzip(dir.file("i.gz"), read_file(dir.file("i")));
    write_gzip(dir.file("l.gz"), read_file(dir.file("l")));
    CHECK(load_idx<float>(dir.file("i.gz"), dir.file("l.gz")).features == scaled.features);
}

TEST_CASE("load_idx rejects each kind of malformed IDX file, naming the file and the expectation",
          "[data][idx]") {
    TempDir dir;
    const std::string images = dir.file("images.idx"), labels = dir.file("labels.idx");
    const Bytes pixels(3 * 2 * 2, 100);
    const Bytes good_labels = idx_labels(3, {0, 1, 2});
    write_file(labels, good_labels);
    const auto load = [&] { return load_idx<float>(images, labels); };

    SECTION("wrong magic") {
        write_file(images, idx_images(3, 2, 2, pixels, 0x03080000));  // little-endian by mistake
        CHECK_THROWS_AS_WITH(load(), FormatError,
                             Contains(images) && Contains("wrong magic number 0x03080000") &&
                                 Contains("expected the IDX magic 0x00000803"));
        CHECK_THROWS_AS(load(), Error);  // the common base of chrysalis's file errors
    }
    SECTION("wrong dimension count") {
        write_file(images, idx_images(3, 2, 2, pixels, 0x802));
        CHECK_THROWS_AS_WITH(load(), FormatError,
                             Contains(images) && Contains("wrong dimension count") &&
                                 Contains("expected the IDX magic 0x00000803"));
        write_file(images, idx_images(3, 2, 2, pixels));
        write_file(labels, idx_labels(3, {0, 1, 2}, 0x803));
        CHECK_THROWS_AS_WITH(load(), FormatError,
                             Contains(labels) && Contains("expected the IDX magic 0x00000801"));
    }
    SECTION("truncated header") {
        write_file(images, {0, 0, 8, 3, 0, 0});
        CHECK_THROWS_AS_WITH(load(), FormatError, Contains(images) && Contains("truncated header"));
    }
    SECTION("truncated images") {
        write_file(images, idx_images(3, 2, 2, Bytes(10, 1)));
        CHECK_THROWS_AS_WITH(
            load(), FormatError,
            Contains(images) && Contains("truncated") && Contains("expected a file of 28 bytes"));
    }
    SECTION("truncated images in a gzip file") {
        write_gzip(images, idx_images(3, 2, 2, Bytes(10, 1)));
        CHECK_THROWS_AS_WITH(load(), FormatError,
                             Contains(images) && Contains("truncated: the data ends in image 2") &&
                                 Contains("3 images of 2×2 pixels"));
    }
    SECTION("truncated labels") {
        write_file(images, idx_images(3, 2, 2, pixels));
        write_file(labels, idx_labels(3, {0, 1}));
        CHECK_THROWS_AS_WITH(
            load(), FormatError,
            Contains(labels) && Contains("truncated") && Contains("expected a file of 11 bytes"));
    }
    SECTION("data after the announced images") {
        Bytes extra = pixels;
        extra.push_back(0);
        write_file(images, idx_images(3, 2, 2, extra));
        CHECK_THROWS_AS_WITH(load(), FormatError,
                             Contains(images) && Contains("expected the file to end there"));
    }
    SECTION("image and label counts differ") {
        write_file(images, idx_images(3, 2, 2, pixels));
        write_file(labels, idx_labels(2, {0, 1}));
        CHECK_THROWS_AS_WITH(load(), FormatError,
                             Contains(images) && Contains(labels) && Contains("holds 3 images") &&
                                 Contains("holds 2 labels") &&
                                 Contains("expected one label per image"));
    }
    SECTION("a label >= classes") {
        write_file(images, idx_images(3, 2, 2, pixels));
        write_file(labels, idx_labels(3, {0, 10, 2}));
        CHECK_THROWS_AS_WITH(load(), FormatError,
                             Contains(labels) && Contains("label 10 of sample 1") &&
                                 Contains("IdxOptions::classes = 10"));
        CHECK(load_idx<float>(images, labels, {.classes = 11}).labels[1] == 10);
        CHECK_THROWS_AS_WITH(load_idx<float>(images, labels, {.classes = 0}), ValueError,
                             Contains("IdxOptions::classes"));
    }
    SECTION("sizes that overflow") {
        write_file(images, idx_images(0xFFFFFFFF, 0xFFFFFFFF, 0xFFFFFFFF, {}));
        write_file(labels, idx_labels(0xFFFFFFFF, {}));
        CHECK_THROWS_AS_WITH(load(), FormatError,
                             Contains(images) && Contains("overflow") &&
                                 Contains("expected sizes whose product fits in memory"));
    }
    SECTION("sizes that exceed what a gzip file can hold") {
        write_gzip(images, idx_images(1000000, 28, 28, Bytes(784, 0)));
        write_gzip(labels, idx_labels(1000000, {}));
        CHECK_THROWS_AS_WITH(load(), FormatError,
                             Contains(images) && Contains("more than a gzip file of"));
    }
    SECTION("images of zero pixels") {
        write_file(images, idx_images(3, 0, 2, {}));
        CHECK_THROWS_AS_WITH(load(), FormatError,
                             Contains(images) && Contains("expected at least 1×1"));
    }
    SECTION("corrupt gzip data") {
        write_gzip(images, idx_images(3, 2, 2, pixels));
        Bytes gz = read_file(images);
        REQUIRE(gz.size() > 20);
        SECTION("an invalid deflate block") {
            gz[10] = 0xFF;  // the first block header after the 10-byte gzip header: reserved type
            write_file(images, gz);
            CHECK_THROWS_AS_WITH(load(), FormatError,
                                 Contains(images) && Contains("corrupt gzip data") &&
                                     Contains("expected a valid gzip stream"));
        }
        SECTION("a wrong checksum") {
            gz[gz.size() - 8] ^= 0xFF;  // the CRC-32 in the trailer
            write_file(images, gz);
            CHECK_THROWS_AS_WITH(load(), FormatError,
                                 Contains(images) && Contains("corrupt gzip data") &&
                                     Contains("incorrect data check"));
        }
        SECTION("a cut-off stream") {
            REQUIRE(gz.size() > 12);
            gz.erase(gz.end() - 12, gz.end());
            write_file(images, gz);
            CHECK_THROWS_AS_WITH(load(), FormatError, Contains(images) && Contains("truncated"));
        }
    }
    SECTION("a missing file") {
        write_file(images, idx_images(3, 2, 2, pixels));
        const std::string missing = dir.file("no-such-labels.idx");
        CHECK_THROWS_AS_WITH(load_idx<float>(images, missing), IoError,
                             Contains(missing) && Contains("no such file"));
    }
    SECTION("a directory instead of a file") {
        CHECK_THROWS_AS_WITH(load_idx<float>(dir.file(""), labels), IoError,
                             Contains("it is a directory, not a file"));
    }
}

TEST_CASE("save_idx refuses data that IDX bytes cannot hold, before writing", "[data][idx]") {
    TempDir dir;
    const std::string images = dir.file("i.idx"), labels = dir.file("l.idx");
    Dataset<float> d = random_images<float>(3, 3);
    CHECK_THROWS_AS_WITH(save_idx(d, 4, 4, images, labels), ShapeError,
                         Contains("12 features per sample but rows × cols = 4 × 4 = 16"));
    d.features(5, 2) = 1.5f;
    CHECK_THROWS_AS_WITH(save_idx(d, 3, 4, images, labels), ValueError,
                         Contains("feature 5 of sample 2 is 1.5") && Contains("[0, 1]"));
    d.features(5, 2) = 0.5f;
    CHECK_THROWS_AS_WITH(save_idx(d, 3, 4, images, labels, /*scaled=*/false), ValueError,
                         Contains("expected an integer in 0..255"));
    d.classes = 300;
    d.labels[1] = 256;
    CHECK_THROWS_AS_WITH(save_idx(d, 3, 4, images, labels), ValueError,
                         Contains("label 256 of sample 1") && Contains("0..255"));
    CHECK_FALSE(fs::exists(images));
    CHECK_THROWS_AS_WITH(save_idx(random_images<float>(2, 4), 3, 4, dir.file("none/i"), labels),
                         IoError, Contains(dir.file("none/i")) && Contains("cannot open"));
}

// ---------------------------------------------------------------------------------------- CSV --

TEMPLATE_TEST_CASE("CSV files round-trip exactly", "[data][csv]", float, double) {
    using S = TestType;
    TempDir dir;
    Rng rng(Seed{11});
    Dataset<S> d;
    d.classes = 5;
    d.features.resize(4, 40);
    for (Eigen::Index i = 0; i < d.features.size(); ++i) {
        const double magnitude = std::pow(10.0, rng.uniform(-30, 30));
        d.features.data()[i] = S(rng.uniform(-1, 1) * magnitude);
    }
    d.features(0, 0) = 0;
    d.features(1, 0) = std::numeric_limits<S>::denorm_min();
    d.features(2, 0) = std::numeric_limits<S>::max();
    d.features(3, 0) = S(0.1);
    for (int j = 0; j < 40; ++j) d.labels.push_back(j % 5);

    const CsvOptions plain;
    const CsvOptions fancy{.label_column = 1, .header = true, .delimiter = ';', .classes = 5};
    const std::vector<std::pair<std::string, CsvOptions>> cases{{"plain.csv", plain},
                                                                {"fancy.csv.gz", fancy}};
    for (const auto& [name, options] : cases) {
        save_csv(d, dir.file(name), options);
        const Dataset<S> back = load_csv<S>(dir.file(name), options);
        CHECK(back.features == d.features);
        CHECK(back.labels == d.labels);
        CHECK(back.classes == 5);
    }
    const Bytes text = read_file(dir.file("plain.csv"));
    CHECK(std::string(text.begin(), text.end()).starts_with("0,"));
}

TEST_CASE("load_csv reads labels from any column, skips blank lines and accepts CRLF",
          "[data][csv]") {
    TempDir dir;
    write_text(dir.file("a.csv"), "x,label,y\r\n1.5, 2 ,-3\r\n\r\n+4,0,5e-1\r\n");
    const auto d = load_csv<double>(dir.file("a.csv"), {.label_column = 1, .header = true});
    REQUIRE(d.size() == 2);
    REQUIRE(d.feature_count() == 2);
    CHECK(d.features(0, 0) == 1.5);
    CHECK(d.features(1, 0) == -3);
    CHECK(d.features(0, 1) == 4);
    CHECK(d.features(1, 1) == 0.5);
    CHECK(d.labels == std::vector<int>{2, 0});
    CHECK(d.classes == 3);  // the largest label + 1
}

TEST_CASE("load_csv names the file, line and column of each error", "[data][csv]") {
    TempDir dir;
    const std::string path = dir.file("bad.csv");
    const auto load = [&](const std::string& text, CsvOptions options = {}) {
        write_text(path, text);
        return load_csv<float>(path, options);
    };
    CHECK_THROWS_AS_WITH(load("1,2,0\n3,4,5,1\n"), FormatError,
                         Contains(path) && Contains("line 2 has 4 columns; expected 3"));
    CHECK_THROWS_AS_WITH(
        load("1,2,0\n3,abc,1\n"), FormatError,
        Contains(path) && Contains("line 2, column 2") && Contains("'abc' is not a number"));
    CHECK_THROWS_AS_WITH(load("1,nan,0\n"), FormatError, Contains("line 1, column 2"));
    CHECK_THROWS_AS_WITH(load("1,+-2,0\n"), FormatError, Contains("'+-2' is not a number"));
    CHECK_THROWS_AS_WITH(load("1,1e999,0\n"), FormatError, Contains("out of the range of float"));
    CHECK_THROWS_AS_WITH(load("1,,0\n"), FormatError, Contains("line 1, column 2: empty field"));
    CHECK_THROWS_AS_WITH(load(""), FormatError, Contains(path) && Contains("no data rows"));
    CHECK_THROWS_AS_WITH(load("a,b,label\n", {.header = true}), FormatError,
                         Contains("no data rows"));
    CHECK_THROWS_AS_WITH(load("1,2,0\n1,2,-1\n"), FormatError,
                         Contains(path) && Contains("line 2, column 3") && Contains("negative"));
    CHECK_THROWS_AS_WITH(load("1,2,1.5\n"), FormatError, Contains("label '1.5' is not an integer"));
    CHECK_THROWS_AS_WITH(load("1,2,7\n", {.classes = 5}), FormatError,
                         Contains("label 7 is outside [0, 5)"));
    CHECK_THROWS_AS_WITH(load("1,2\n", {.label_column = 4}), FormatError,
                         Contains("too few for CsvOptions::label_column = 4"));
    CHECK_THROWS_AS_WITH(load("7\n"), FormatError, Contains("expected at least a feature"));
    CHECK_THROWS_AS_WITH(load("1,2\n", {.delimiter = '.'}), ValueError,
                         Contains("CsvOptions::delimiter"));
    CHECK_THROWS_AS_WITH(load_csv<float>(dir.file("missing.csv")), IoError,
                         Contains("missing.csv") && Contains("no such file"));
}

TEMPLATE_TEST_CASE("load_csv reads quoted fields as RFC 4180 writes them", "[data][csv]", float,
                   double) {
    using S = TestType;
    TempDir dir;
    // A header whose quoted names hold the delimiter, a line break and an escaped quote; quoted
    // numbers with blanks inside and around the quotes, CRLF after a closing quote, a quoted
    // label, and a last quoted field that ends the file without a line end.
    write_text(dir.file("q.csv"),
               "\"x, first\",\"x\nsecond\" , \"label \"\"y\"\"\"\r\n"
               "\"1.5\",  \"-2\" ,\"1\"\r\n"
               "+4,\" 0.25 \",0\n"
               "\"-0.5\",\"1e3\",\"2\"");
    const auto d = load_csv<S>(dir.file("q.csv"), {.header = true});
    REQUIRE(d.size() == 3);
    REQUIRE(d.feature_count() == 2);
    CHECK(d.features(0, 0) == S(1.5));
    CHECK(d.features(1, 0) == S(-2));
    CHECK(d.features(0, 1) == S(4));
    CHECK(d.features(1, 1) == S(0.25));
    CHECK(d.features(0, 2) == S(-0.5));
    CHECK(d.features(1, 2) == S(1000));
    CHECK(d.labels == std::vector<int>{1, 0, 2});

    // The same numbers quoted or not, with another delimiter: the same data set.
    Dataset<S> plain = indexed<S>(6);
    save_csv(plain, dir.file("plain.csv"), {.delimiter = ';'});
    const Bytes text = read_file(dir.file("plain.csv"));
    std::string quoted = "\"";  // every field between quotes
    for (const char c : text) {
        if (c == ';')
            quoted += "\";\"";
        else if (c == '\n')
            quoted += "\"\n\"";
        else
            quoted += c;
    }
    quoted.pop_back();  // the quote opened after the last line end
    write_text(dir.file("quoted.csv"), quoted);
    REQUIRE(quoted.starts_with("\"0\";\""));
    const auto back = load_csv<S>(dir.file("quoted.csv"), {.delimiter = ';'});
    CHECK(back.features == plain.features);
    CHECK(back.labels == plain.labels);
}

TEST_CASE("load_csv names what is wrong with a quoted field", "[data][csv]") {
    TempDir dir;
    const std::string path = dir.file("bad.csv");
    const auto load = [&](const std::string& text, CsvOptions options = {}) {
        write_text(path, text);
        return load_csv<float>(path, options);
    };
    CHECK_THROWS_AS_WITH(load("1,2,0\n1\"5,2,0\n"), FormatError,
                         Contains(path) && Contains("line 2, column 1: a quote inside the "
                                                    "unquoted field '1\"5'"));
    CHECK_THROWS_AS_WITH(load("\"1,2,0\n"), FormatError,
                         Contains("line 1, column 1: a quoted field is not closed before the line "
                                  "ends"));
    CHECK_THROWS_AS_WITH(load("\"1\"x,2,0\n"), FormatError,
                         Contains("line 1, column 1: 'x' after the closing quote"));
    CHECK_THROWS_AS_WITH(load("\"1\"\r,2,0\n"), FormatError,
                         Contains("line 1, column 1: '\\x0d' after the closing quote"));
    CHECK_THROWS_AS_WITH(load("1,2,0\n1,2,\"0"), FormatError,
                         Contains("line 2, column 3: a quoted field is not closed by the end of "
                                  "the file"));
    CHECK_THROWS_AS_WITH(load("\"a,b\nc,label\n1,2,0\n", {.header = true}), FormatError,
                         Contains(path) && Contains("line 4: a quoted field of the header is not "
                                                    "closed by the end of the file"));
    CHECK_THROWS_AS_WITH(load("\"\",2,0\n"), FormatError,
                         Contains("line 1, column 1: empty field"));
    CHECK_THROWS_AS_WITH(load("\"1\"\"\",2,0\n"), FormatError,
                         Contains("line 1, column 1: '1\"' is not a number"));
    // A delimiter inside quotes is part of the field, not a column: the width is right, the
    // number is not.
    CHECK_THROWS_AS_WITH(load("1,2,0\n\"1,5\",2,0\n"), FormatError,
                         Contains("line 2, column 1: '1,5' is not a number"));
    // Lines are the file's: a data line after a header of two lines is line 3.
    CHECK_THROWS_AS_WITH(load("\"a\nb\",c,label\n1,x,0\n", {.header = true}), FormatError,
                         Contains("line 3, column 2: 'x' is not a number"));
    CHECK_THROWS_AS_WITH(load("1\"2\"0\n", {.delimiter = '"'}), ValueError,
                         Contains("CsvOptions::delimiter (character code 34)"));
}

TEMPLATE_TEST_CASE("CSV labels may be class names", "[data][csv]", float, double) {
    using S = TestType;
    TempDir dir;
    // Names as R's write.csv writes a character column (quoted) or as typed (not), blanks
    // around them.
    write_text(dir.file("iris.csv"),
               "\"sepal length\",\"sepal width\",\"species\"\n"
               "5.1,3.5,\"setosa\"\n"
               "6.3,3.3, virginica \r\n"
               "7,3.2,\"versicolor\"\n");
    const CsvOptions iris{.header = true, .class_names = {"setosa", "versicolor", "virginica"}};
    const auto d = load_csv<S>(dir.file("iris.csv"), iris);
    CHECK(d.labels == std::vector<int>{0, 2, 1});
    CHECK(d.classes == 3);
    CHECK(d.features(0, 1) == S(6.3));

    // save_csv writes names, quoting those that hold the delimiter or a quote, and they load back.
    Dataset<S> data = indexed<S>(8, 2, 4);
    const CsvOptions named{
        .label_column = 0, .header = true, .class_names = {"a", "b,c", "say \"d\"", "e f"}};
    save_csv(data, dir.file("named.csv.gz"), named);
    save_csv(data, dir.file("named.csv"), named);
    const Bytes raw = read_file(dir.file("named.csv"));
    const std::string text(raw.begin(), raw.end());
    CHECK(text.starts_with("label,x0,x1\na,0,"));
    CHECK(text.find("\n\"b,c\",1,") != std::string::npos);
    CHECK(text.find("\n\"say \"\"d\"\"\",2,") != std::string::npos);
    CHECK(text.find("\ne f,3,") != std::string::npos);
    for (const char* name : {"named.csv", "named.csv.gz"}) {
        const auto back = load_csv<S>(dir.file(name), named);
        CHECK(back.features == data.features);
        CHECK(back.labels == data.labels);
        CHECK(back.classes == 4);
    }
}

TEST_CASE("CSV class names: what is refused and why", "[data][csv]") {
    TempDir dir;
    const std::string path = dir.file("names.csv");
    write_text(path, "1,2,cat\n3,4,dog\n5,6,Cat\n");
    const auto load = [&](std::vector<std::string> names, int classes = 0) {
        return load_csv<float>(path, {.classes = classes, .class_names = std::move(names)});
    };
    CHECK(load({"cat", "dog", "Cat"}).labels == std::vector<int>{0, 1, 2});
    CHECK_THROWS_AS_WITH(load({"cat", "dog"}), FormatError,
                         Contains(path) && Contains("line 3, column 3: label 'Cat' is not one of "
                                                    "CsvOptions::class_names; expected one of "
                                                    "'cat', 'dog'"));
    std::vector<std::string> many;
    for (int i = 0; i < 12; ++i) many.push_back("n" + std::to_string(i));
    CHECK_THROWS_AS_WITH(load(many), FormatError,
                         Contains("line 1, column 3: label 'cat'") && Contains("'n0', 'n1'") &&
                             Contains("'n9', … (12 in all)"));
    const auto refused = [&](std::vector<std::string> names, const std::string& why,
                             int classes = 0) {
        INFO(why);
        CHECK_THROWS_AS_WITH(load(names, classes), ValueError,
                             Contains("chrysalis::load_csv: CsvOptions::class_") && Contains(why));
        CHECK_THROWS_AS_WITH(
            save_csv(indexed<float>(2, 2, 2), dir.file("out.csv"),
                     {.classes = classes, .class_names = names}),
            ValueError, Contains("chrysalis::save_csv: CsvOptions::class_names") && Contains(why));
    };
    refused({"cat", ""}, "class_names[1] ('') is empty");
    refused({"cat", " dog"}, "class_names[1] (' dog') begins or ends with a space or tab");
    refused({"cat\t", "dog"}, "begins or ends with a space or tab");
    refused({"cat", "d\nog"}, "holds a line end");
    refused({"cat", "dog", "cat"}, "class_names[2] ('cat') is also class_names[0]");
    // classes, when given, must count the names (save_csv does not read classes).
    CHECK_THROWS_AS_WITH(load({"cat", "dog", "Cat"}, 4), ValueError,
                         Contains("holds 3 names but CsvOptions::classes is 4"));
    CHECK(load({"cat", "dog", "Cat"}, 3).classes == 3);
    // A label without a name is refused before anything is written.
    CHECK_THROWS_AS_WITH(
        save_csv(indexed<float>(3, 2, 3), dir.file("out.csv"), {.class_names = {"a", "b"}}),
        ValueError,
        Contains("the label of sample 2 is 2 but CsvOptions::class_names holds 2 "
                 "names"));
    CHECK_FALSE(fs::exists(dir.file("out.csv")));
}

TEST_CASE("load_csv reads what Python's csv module writes in each quoting", "[data][csv]") {
    // QUOTE_ALL (every field, "\r\n" line ends, a header whose names hold the delimiter and a
    // line break), QUOTE_NONNUMERIC (strings: the header and the class names) and
    // QUOTE_MINIMAL (only the names that need it: one holds the delimiter, one a quote).
    std::string python;
    for (const char* p : {"/usr/bin/python3", "python3"})
        if (python.empty() &&
            std::system((std::string(p) + " -c 'import csv' >/dev/null 2>&1").c_str()) == 0)
            python = p;
    if (python.empty()) {
        WARN("python3 not available: skipped the check against Python's csv module");
        return;
    }
    TempDir dir;
    write_text(dir.file("write.py"), R"(import csv, sys
rows = [[1.5, -2, "setosa"], [0.25, 0.003, "versi,color"], [7, 8, 'say "hi"']]
for path, quoting, header in [(sys.argv[1], csv.QUOTE_ALL, True),
                              (sys.argv[2], csv.QUOTE_NONNUMERIC, True),
                              (sys.argv[3], csv.QUOTE_MINIMAL, False)]:
    with open(path, "w", newline="") as f:
        w = csv.writer(f, quoting=quoting)
        if header:
            w.writerow(["a, first", "b\nsecond", "label"])
        w.writerows(rows)
)");
    const std::string command = python + " " + dir.file("write.py") + " " + dir.file("all.csv") +
                                " " + dir.file("nonnumeric.csv") + " " + dir.file("minimal.csv");
    REQUIRE(std::system(command.c_str()) == 0);
    const Bytes all = read_file(dir.file("all.csv"));
    REQUIRE(std::string(all.begin(), all.end()).starts_with("\"a, first\",\"b\nsecond\""));
    Matrix<double> expected(2, 3);
    expected << 1.5, 0.25, 7, -2, 0.003, 8;
    const std::vector<std::string> names{"setosa", "versi,color", "say \"hi\""};
    for (const auto& [name, header] :
         {std::pair{"all.csv", true}, std::pair{"nonnumeric.csv", true},
          std::pair{"minimal.csv", false}}) {
        INFO(name);
        const auto d = load_csv<double>(dir.file(name), {.header = header, .class_names = names});
        CHECK(d.features == expected);
        CHECK(d.labels == std::vector<int>{0, 1, 2});
        CHECK(d.classes == 3);
    }
}

TEST_CASE("load_csv's parser gives the same answer however the text is cut", "[data][csv]") {
    // read_csv feeds the parser 64 KiB at a time; here every text is fed in two pieces cut at
    // every byte, and one byte at a time, and must give what one piece gives: the same values
    // and labels, or the same message.
    TempDir dir;
    const std::string path = dir.file("cut.csv");
    write_text(path, "");
    const detail::InputFile in(path, "test");
    struct Result {
        Matrix<double> features;
        std::vector<int> labels;
        std::string error;
    };
    const auto parse = [&](const std::string& text, std::vector<std::size_t> cuts, bool header) {
        detail::CsvParser<double> parser(in, -1, header, ',', 0, false);
        Result r;
        try {
            cuts.push_back(text.size());
            std::size_t begin = 0;
            for (const std::size_t end : cuts) {
                parser.feed(std::string_view(text).substr(begin, end - begin), begin == 0);
                begin = end;
            }
            parser.finish();
            r.features = parser.take_features();
            r.labels = parser.labels();
        } catch (const FormatError& e) {
            r.error = e.what();
        }
        return r;
    };
    const std::vector<std::pair<std::string, bool>> texts{
        {"\"a, \"\"b\"\"\",\"c\r\nd\",label\r\n \"1.5\" ,\"2\", "
         "\"0\"\r\n3,\"-4\"\t,1\n\n\"5\",6,\"2\"",
         true},
        {"\"1\",\"2\",\"0\"\n\"3\" ,4,\"1\" \n", false},
        {"1,2,0\n\"3\"x,4,1\n", false},
        {"1,2,0\n3,4\"5,1\n", false},
        {"1,2,0\n\"3,4,1\n", false},
        {"1,2,\"0\"\r,1\n", false},
        {"1,2,\"0", false},
        {"\"h\ni,j\n1,2,0\n", true},
    };
    for (const auto& [text, header] : texts) {
        INFO("text: " << text);
        const Result whole = parse(text, {}, header);
        std::vector<std::size_t> bytes;
        for (std::size_t i = 1; i < text.size(); ++i) bytes.push_back(i);
        const Result each = parse(text, bytes, header);
        CHECK(each.error == whole.error);
        CHECK(each.features == whole.features);
        CHECK(each.labels == whole.labels);
        for (std::size_t cut = 1; cut < text.size(); ++cut) {
            INFO("cut at " << cut);
            const Result two = parse(text, {cut}, header);
            CHECK(two.error == whole.error);
            CHECK(two.features == whole.features);
            CHECK(two.labels == whole.labels);
        }
    }
    // The first text is good; the others are not.
    CHECK(parse(texts[0].first, {}, true).labels == std::vector<int>{0, 1, 2});
    CHECK(parse(texts[1].first, {}, false).labels == std::vector<int>{0, 1});
    for (std::size_t t = 2; t < texts.size(); ++t)
        CHECK_FALSE(parse(texts[t].first, {}, texts[t].second).error.empty());
}

TEST_CASE("save_csv refuses what load_csv could not read back", "[data][csv]") {
    TempDir dir;
    Dataset<float> d = indexed<float>(3);
    CHECK_THROWS_AS_WITH(save_csv(d, dir.file("a.csv"), {.label_column = 4}), ValueError,
                         Contains("label_column is 4"));
    d.features(1, 2) = std::numeric_limits<float>::quiet_NaN();
    CHECK_THROWS_AS_WITH(save_csv(d, dir.file("a.csv")), ValueError,
                         Contains("feature 1 of sample 2 is nan"));
    CHECK_FALSE(fs::exists(dir.file("a.csv")));
}

// ------------------------------------------------------------------------------------ Dataset --

TEST_CASE("Dataset::validate names what is wrong", "[data]") {
    Dataset<double> d = indexed<double>(4);
    CHECK_NOTHROW(d.validate());
    d.labels[2] = 4;
    CHECK_THROWS_AS_WITH(d.validate(), ValueError,
                         Contains("label 4 of sample 2 is outside [0, classes) = [0, 4)"));
    d.labels[2] = 0;
    d.features(2, 3) = std::numeric_limits<double>::infinity();
    CHECK_THROWS_AS_WITH(d.validate(), ValueError, Contains("feature 2 of sample 3 is inf"));
    CHECK_NOTHROW(d.validate(/*allow_non_finite=*/true));
    d.labels.pop_back();
    CHECK_THROWS_AS_WITH(d.validate(true), ShapeError, Contains("3 labels for 4 samples"));
    d.classes = 0;
    CHECK_THROWS_AS_WITH(d.validate(true), ValueError, Contains("classes must be >= 1, got 0"));
}

// ----------------------------------------------------------------- scaling, split and subset --

TEST_CASE("scale_to_unit maps each feature's range onto [0, 1]", "[data]") {
    Dataset<float> train;
    train.classes = 2;
    train.features.resize(2, 3);
    train.features << 1, 3, 2,  //  feature 0: range [1, 3]
        5, 5, 5;                //  feature 1: constant
    train.labels = {0, 1, 0};
    Dataset<float> test = train;
    test.features.resize(2, 2);
    test.features << 5, 2, 7, 5;
    test.labels = {1, 1};

    const auto [lo, hi] = scale_to_unit(train);
    Vector<float> expected_lo(2), expected_hi(2);
    expected_lo << 1, 5;
    expected_hi << 3, 5;
    CHECK(lo == expected_lo);
    CHECK(hi == expected_hi);
    Matrix<float> expected(2, 3);
    expected << 0, 1, 0.5f, 0, 0, 0;
    CHECK(train.features == expected);

    Dataset<float> reference = train;
    reference.features.resize(2, 3);
    reference.features << 1, 3, 2, 5, 5, 5;
    scale_to_unit(test, &reference);  // the training set's range, not the test set's own
    Matrix<float> expected_test(2, 2);
    expected_test << 2, 0.5f, 0, 0;
    CHECK(test.features == expected_test);

    Dataset<float> empty;
    empty.features.resize(2, 0);
    CHECK_THROWS_AS_WITH(scale_to_unit(test, &empty), ShapeError,
                         Contains("the reference has no samples"));
    Dataset<float> narrow = indexed<float>(3, 1);
    CHECK_THROWS_AS_WITH(scale_to_unit(test, &narrow), ShapeError,
                         Contains("the reference has 1 features per sample but the data has 2"));

    // A reference range of width 1e-40 (subnormal in float) and a value 0.5 outside it: 5e39,
    // beyond float. Refused, naming the value, before any feature of the data is changed.
    Dataset<float> tiny = indexed<float>(2, 2);
    tiny.features << 0, 1e-40f, 0, 1;
    Dataset<float> far = indexed<float>(2, 2);
    far.features << 0, 0.5f, 0, 0;
    const Matrix<float> before = far.features;
    CHECK_THROWS_AS_WITH(scale_to_unit(far, &tiny), ValueError,
                         Contains("chrysalis::scale_to_unit: feature 0 of sample 1 of the data") &&
                             Contains("beyond the largest value of the data's type"));
    CHECK(far.features == before);
    // In double the same numbers scale to 5e39: representable, so taken.
    Dataset<double> tiny_d = indexed<double>(2, 2), far_d = indexed<double>(2, 2);
    tiny_d.features = tiny.features.cast<double>();
    far_d.features = before.cast<double>();
    scale_to_unit(far_d, &tiny_d);
    CHECK(far_d.features(0, 1) == Approx(0.5 / double(1e-40f)));
}

TEST_CASE("split sends a seeded random fraction to the second set, keeping order", "[data]") {
    const Dataset<double> data = indexed<double>(100);
    const auto [train, validation] = split(data, 0.25, Seed{3});
    REQUIRE(train.size() == 75);
    REQUIRE(validation.size() == 25);
    CHECK(train.classes == data.classes);
    std::set<int> seen;
    for (const auto* part : {&train, &validation}) {
        for (Eigen::Index j = 0; j < part->size(); ++j) {
            const int i = int(part->features(0, j));
            CHECK(seen.insert(i).second);  // disjoint
            CHECK(part->features.col(j) == data.features.col(i));
            CHECK(part->labels[std::size_t(j)] == data.labels[std::size_t(i)]);
            if (j > 0) CHECK(part->features(0, j - 1) < part->features(0, j));  // order kept
        }
    }
    CHECK(seen.size() == 100);  // together, everything

    const auto again = split(data, 0.25, Seed{3});
    CHECK(again.second.features == validation.features);
    CHECK(split(data, 0.25, Seed{4}).second.features != validation.features);
    CHECK(split(indexed<double>(10), 0.25, Seed{1}).second.size() == 3);  // 2.5 rounds to 3
    CHECK(split(data, 0.0, Seed{1}).first.features == data.features);
    // A fraction asked for that leaves one set empty: refused at the split, not later.
    CHECK_THROWS_AS_WITH(split(indexed<double>(10), 0.04, Seed{1}), ValueError,
                         Contains("chrysalis::split: validation_fraction 0.04") &&
                             Contains("gives 0 to validation and 10 to training"));
    CHECK_THROWS_AS_WITH(split(indexed<double>(10), 0.95, Seed{1}), ValueError,
                         Contains("gives 10 to validation and 0 to training"));
    CHECK(split(indexed<double>(10), 0.05, Seed{1}).second.size() == 1);  // 0.5 rounds to 1
    for (const double bad : {1.0, -0.1, std::nan("")}) {
        CHECK_THROWS_AS_WITH(split(data, bad, Seed{1}), ValueError,
                             Contains("validation_fraction must be in [0, 1)"));
    }
}

TEST_CASE("subset gathers the samples at the indices, in their order", "[data]") {
    const Dataset<float> data = indexed<float>(5);
    const std::vector<Eigen::Index> indices{2, 0, 2};
    const Dataset<float> s = subset(data, indices);
    REQUIRE(s.size() == 3);
    CHECK(s.features.col(0) == data.features.col(2));
    CHECK(s.features.col(1) == data.features.col(0));
    CHECK(s.features.col(2) == data.features.col(2));
    CHECK(s.labels == std::vector<int>{2, 0, 2});
    CHECK(s.classes == data.classes);
    const std::vector<Eigen::Index> bad{1, 5};
    CHECK_THROWS_AS_WITH(subset(data, bad), ValueError,
                         Contains("indices[1] = 5 is outside [0, 5)"));
}

// ------------------------------------------------------------------------------------ Batcher --

namespace {
/// All batches of one epoch: the dataset indices in the order served, checking every batch's
/// features and labels against the data set on the way.
template <class S>
std::vector<Eigen::Index> run_epoch(Batcher<S>& batcher, const Dataset<S>& data, Rng& rng,
                                    std::vector<Eigen::Index>* sizes = nullptr) {
    std::vector<Eigen::Index> order;
    batcher.start_epoch(rng);
    while (batcher.next()) {
        const auto x = batcher.features();
        const auto idx = batcher.indices();
        const auto y = batcher.labels();
        REQUIRE(Eigen::Index(idx.size()) == x.cols());
        REQUIRE(y.size() == idx.size());
        REQUIRE(x.rows() == data.feature_count());
        for (std::size_t k = 0; k < idx.size(); ++k) {
            CHECK(x.col(Eigen::Index(k)) == data.features.col(idx[k]));
            CHECK(y[k] == data.labels[std::size_t(idx[k])]);
            order.push_back(idx[k]);
        }
        if (sizes) sizes->push_back(x.cols());
    }
    CHECK(batcher.features().cols() == 0);  // after the last batch: empty
    CHECK_FALSE(batcher.next());
    return order;
}
}  // namespace

TEST_CASE("Batcher serves every sample exactly once per epoch, the last batch smaller",
          "[data][batcher]") {
    const Dataset<float> data = indexed<float>(103);
    Batcher<float> batcher(data, 10);
    CHECK(batcher.batch_size() == 10);
    CHECK(batcher.batches_per_epoch() == 11);
    Rng rng(Seed{5});
    std::vector<Eigen::Index> sizes;
    const auto order = run_epoch(batcher, data, rng, &sizes);
    REQUIRE(order.size() == 103);
    CHECK(std::set<Eigen::Index>(order.begin(), order.end()).size() == 103);
    CHECK(sizes.size() == 11);
    CHECK(sizes.back() == 3);
    std::vector<Eigen::Index> identity(103);
    std::iota(identity.begin(), identity.end(), Eigen::Index(0));
    CHECK(order != identity);                       // shuffled
    CHECK(run_epoch(batcher, data, rng) != order);  // a new order each epoch
}

TEST_CASE("Batcher without shuffling serves the samples in order", "[data][batcher]") {
    const Dataset<double> data = indexed<double>(7);
    Batcher<double> batcher(data, 3, /*shuffle=*/false);
    Rng rng(Seed{1});
    const Rng::State before = rng.state();
    std::vector<Eigen::Index> sizes;
    CHECK(run_epoch(batcher, data, rng, &sizes) == std::vector<Eigen::Index>{0, 1, 2, 3, 4, 5, 6});
    CHECK(sizes == std::vector<Eigen::Index>{3, 3, 1});
    CHECK(rng.state().words[0] == before.words[0]);  // no draws
    Batcher<double> whole(data, 50, false);
    CHECK(whole.batches_per_epoch() == 1);
    CHECK(run_epoch(whole, data, rng).size() == 7);
}

TEST_CASE("Batcher orders are a Fisher-Yates shuffle of the seed: same seed, same order",
          "[data][batcher]") {
    const Dataset<float> data = indexed<float>(50);
    Batcher<float> batcher(data, 8);
    Rng a(Seed{9}), b(Seed{9}), c(Seed{10});
    const auto first = run_epoch(batcher, data, a);
    CHECK(run_epoch(batcher, data, b) == first);
    CHECK(run_epoch(batcher, data, c) != first);
    // The documented algorithm, written out: from the identity, swap i − 1 with below(i).
    Rng expected_rng(Seed{9});
    std::vector<Eigen::Index> expected(50);
    std::iota(expected.begin(), expected.end(), Eigen::Index(0));
    for (std::size_t i = expected.size(); i > 1; --i)
        std::swap(expected[i - 1], expected[std::size_t(expected_rng.below(i))]);
    CHECK(first == expected);
}

TEST_CASE("Rng::below is uniform, also for n near 2^64", "[data][random]") {
    // n = 3·2^62: multiply-shift alone maps a 64-bit x to floor(3x/4), which takes half the
    // values of [0, n) twice as often as the other half; the residues mod 3 then come out
    // 1/2, 1/4, 1/4. Over 300,000 draws the chi-square with 2 degrees of freedom is about
    // 37,500 for that, and exceeds 30 with probability 3e-7 when the draws are uniform.
    const std::uint64_t n = 3ULL << 62;
    Rng rng(Seed{4});
    std::array<double, 3> counts{};
    const int draws = 300'000;
    bool in_range = true;
    for (int k = 0; k < draws; ++k) {
        const std::uint64_t v = rng.below(n);
        in_range = in_range && v < n;
        counts[std::size_t(v % 3)] += 1;
    }
    CHECK(in_range);
    double chi2 = 0;
    for (const double c : counts) chi2 += (c - draws / 3.0) * (c - draws / 3.0) / (draws / 3.0);
    INFO("counts " << counts[0] << ", " << counts[1] << ", " << counts[2]);
    CHECK(chi2 < 30);
    // Small n: every value in range, and n = 1 is always 0.
    bool small = true;
    for (int k = 0; k < 1000; ++k) small = small && rng.below(7) < 7 && rng.below(1) == 0;
    CHECK(small);
}

TEST_CASE("Batcher's writable batch changes the batch but not the data set, and misuse throws",
          "[data][batcher]") {
    const Dataset<float> data = indexed<float>(6);
    const Matrix<float> before = data.features;
    Batcher<float> batcher(data, 4);
    CHECK_THROWS_AS_WITH(batcher.next(), std::logic_error, Contains("start_epoch"));
    Rng rng(Seed{2});
    batcher.start_epoch(rng);
    REQUIRE(batcher.next());
    CHECK(batcher.features().data() == batcher.mutable_features().data());  // views, no copies
    batcher.mutable_features().setConstant(42);
    CHECK((batcher.features().array() == 42).all());
    CHECK(data.features == before);
    CHECK_THROWS_AS_WITH(Batcher<float>(data, 0), ValueError,
                         Contains("batch_size must be >= 1, got 0"));
}

// ------------------------------------------------------------------------------------- jitter --

namespace {
/// Out-of-place reference: pixel (x, y) takes (x − dx, y − dy), 0 outside.
Matrix<double> shifted(const Matrix<double>& image, int width, int height, int dx, int dy) {
    Matrix<double> out = Matrix<double>::Zero(image.rows(), 1);
    for (int y = 0; y < height; ++y)
        for (int x = 0; x < width; ++x) {
            const int sx = x - dx, sy = y - dy;
            if (sx >= 0 && sx < width && sy >= 0 && sy < height)
                out(y * width + x, 0) = image(sy * width + sx, 0);
        }
    return out;
}
}  // namespace

TEST_CASE("jitter moves a lit pixel by exactly the drawn (dx, dy)", "[data][jitter]") {
    const int width = 7, height = 5, max_shift = 2;
    Matrix<float> images = Matrix<float>::Zero(width * height, 200);
    images.row(2 * width + 3).setOnes();  // pixel (x = 3, y = 2) of every image
    Rng rng(Seed{8});
    Rng predict = rng;
    jitter(images, width, height, max_shift, rng);
    std::set<std::pair<int, int>> shifts;
    for (Eigen::Index c = 0; c < images.cols(); ++c) {
        const int dx = int(predict.below(5)) - 2, dy = int(predict.below(5)) - 2;
        shifts.insert({dx, dy});
        CHECK(images(Eigen::Index((2 + dy) * width + 3 + dx), c) == 1.0f);
        CHECK(images.col(c).sum() == 1.0f);
    }
    CHECK(shifts.size() == 25);  // every shift in [−2, 2]² occurs
}

TEST_CASE("jitter shifts in place as an out-of-place shift would, for every shift",
          "[data][jitter]") {
    const int width = 5, height = 4;
    Matrix<double> image(width * height, 1);
    for (Eigen::Index i = 0; i < image.size(); ++i) image(i) = double(i + 1);
    for (int dy = -5; dy <= 5; ++dy)
        for (int dx = -6; dx <= 6; ++dx) {
            Matrix<double> copy = image;
            detail::shift_image(copy.data(), width, height, dx, dy);
            CHECK(copy == shifted(image, width, height, dx, dy));
        }
}

TEST_CASE("jitter keeps the mass of images that stay inside, max_shift 0 is the identity",
          "[data][jitter]") {
    const int side = 10, shift = 2;
    Rng rng(Seed{4});
    Matrix<double> images = Matrix<double>::Zero(side * side, 30);
    for (Eigen::Index c = 0; c < images.cols(); ++c)
        for (int y = shift; y < side - shift; ++y)
            for (int x = shift; x < side - shift; ++x)
                images(y * side + x, c) = double(rng.below(256));
    const Matrix<double> original = images;
    const Rng::State before = rng.state();
    jitter(images, side, side, 0, rng);
    CHECK(images == original);
    CHECK(rng.state().words[1] == before.words[1]);
    jitter(images, side, side, shift, rng);
    CHECK(images != original);
    for (Eigen::Index c = 0; c < images.cols(); ++c)
        CHECK(images.col(c).sum() == original.col(c).sum());
}

TEST_CASE("jitter rejects a size other than width x height and a negative shift",
          "[data][jitter]") {
    Matrix<float> images = Matrix<float>::Zero(12, 2);
    Rng rng;
    CHECK_THROWS_AS_WITH(jitter(images, 4, 4, 1, rng), ShapeError,
                         Contains("12 rows but width × height = 4 × 4 = 16"));
    CHECK_THROWS_AS_WITH(jitter(images, 4, 3, -1, rng), ValueError,
                         Contains("max_shift must be >= 0, got -1"));
    // A shift as large as the smaller side (3 rows) can move every pixel out of the image.
    CHECK_THROWS_AS_WITH(
        jitter(images, 4, 3, 3, rng), ValueError,
        Contains("max_shift must be below the image's smaller side, 3") && Contains("got 3"));
    CHECK_NOTHROW(jitter(MatrixRef<float>(images), 4, 3, 2, rng));
    CHECK_NOTHROW(jitter(MatrixRef<float>(images), 4, 3, 1, rng));

    // The same bound at fit's door, before any batch, naming the option.
    Dataset<float> d;
    d.classes = 2;
    d.features = Matrix<float>::Zero(12, 4);
    d.labels = {0, 1, 0, 1};
    Sequential<Dense<12, 2>> net(Seed{1});
    Sgd sgd;
    const TrainOptions<float> o{
        .progress = false, .jitter = 3, .image_width = 4, .image_height = 3};
    CHECK_THROWS_AS_WITH(
        fit(net, d, CrossEntropy{}, sgd, o), ValueError,
        Contains("chrysalis::fit: options.jitter must be below the images' smaller side, 3"));
}

// ------------------------------------------------------------------------------ Fashion-MNIST --

TEST_CASE("load_idx reads Fashion-MNIST when it is installed", "[data][idx][fashion-mnist]") {
    // Debian's dataset-fashion-mnist; CHRYSALIS_FASHION_MNIST_DIR points elsewhere.
    const char* env = std::getenv("CHRYSALIS_FASHION_MNIST_DIR");
    const fs::path dir = env != nullptr ? env : "/usr/share/datasets/fashion-mnist";
    const auto find = [&](const std::string& stem) {
        for (const std::string suffix : {".gz", ""})
            if (fs::exists(dir / (stem + suffix))) return (dir / (stem + suffix)).string();
        return std::string();
    };
    const std::string train_images = find("train-images-idx3-ubyte"),
                      train_labels = find("train-labels-idx1-ubyte"),
                      test_images = find("t10k-images-idx3-ubyte"),
                      test_labels = find("t10k-labels-idx1-ubyte");
    if (train_images.empty() || train_labels.empty() || test_images.empty() ||
        test_labels.empty()) {
        WARN("Fashion-MNIST not found in " << dir
                                           << " (apt-get install dataset-fashion-mnist); "
                                              "skipped");
        return;
    }
    const auto train = load_idx<float>(train_images, train_labels);
    const auto test = load_idx<float>(test_images, test_labels);
    CHECK(train.size() == 60000);
    CHECK(test.size() == 10000);
    CHECK(train.feature_count() == 784);
    CHECK(test.feature_count() == 784);
    CHECK_NOTHROW(train.validate());
    CHECK_NOTHROW(test.validate());
    std::vector<int> train_counts(10), test_counts(10);
    for (int y : train.labels) ++train_counts.at(std::size_t(y));
    for (int y : test.labels) ++test_counts.at(std::size_t(y));
    CHECK(train_counts == std::vector<int>(10, 6000));
    CHECK(test_counts == std::vector<int>(10, 1000));
    CHECK(train.labels[0] == 9);  // an ankle boot
    CHECK(train.features.minCoeff() == 0.0f);
    CHECK(train.features.maxCoeff() == 1.0f);
    // The first image: pixel (14, 14) is 217, its pixels sum to 76247.
    CHECK(std::lround(train.features(14 * 28 + 14, 0) * 255) == 217);
    long sum = 0;
    for (Eigen::Index i = 0; i < 784; ++i) sum += std::lround(train.features(i, 0) * 255);
    CHECK(sum == 76247);
}

// detail::all_finite, behind every finiteness check of data, of each Dense layer's output after
// a training step's forward, and of the parameters after each epoch: it reads a column in four
// register-wide sums, then single registers, then single elements. One NaN or infinity at any
// position of any column — in each of the four sums, the single-register loop and the scalar
// tail, for column lengths around those boundaries — must make it false; huge finite values must
// not (x·0 is 0 for every finite x).
TEMPLATE_TEST_CASE("all_finite finds one NaN or infinity wherever it is", "[data][finite]", float,
                   double) {
    using S = TestType;
    using Lim = std::numeric_limits<S>;
    const S bad[] = {Lim::quiet_NaN(), Lim::infinity(), -Lim::infinity()};
    for (const Eigen::Index rows : {1, 7, 15, 16, 17, 63, 64, 65, 77, 130}) {
        Matrix<S> m = Matrix<S>::Constant(rows + 3, 3, Lim::max());
        m.row(1).setConstant(-Lim::max());
        // A block of rows 2 … rows + 1: columns a stride apart, as a view of a larger matrix.
        auto block = m.middleRows(2, rows);
        const Eigen::Matrix<S, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor> row_major =
            block.transpose();
        REQUIRE(detail::all_finite(m));
        REQUIRE(detail::all_finite(block));
        REQUIRE(detail::all_finite(row_major));
        for (Eigen::Index j = 0; j < block.cols(); ++j) {
            for (Eigen::Index i = 0; i < rows; ++i) {
                for (const S b : bad) {
                    const S keep = block(i, j);
                    block(i, j) = b;
                    Eigen::Matrix<S, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor> rm =
                        block.transpose();
                    const bool whole = detail::all_finite(m), part = detail::all_finite(block),
                               transposed = detail::all_finite(rm);
                    block(i, j) = keep;
                    INFO("rows " << rows << ", element (" << i << ", " << j << ") = " << b);
                    REQUIRE_FALSE(whole);
                    REQUIRE_FALSE(part);
                    REQUIRE_FALSE(transposed);
                }
            }
        }
        // Outside the block: the block's check does not read it.
        m(0, 1) = Lim::quiet_NaN();
        m(rows + 2, 2) = Lim::infinity();
        CHECK(detail::all_finite(block));
        CHECK_FALSE(detail::all_finite(m));
    }
}
