// Serialization: the model format's round trip, architecture and scalar checks, damaged files,
// the atomic save, .npy files (ours, hand-written ones and NumPy's own), and export/import of
// parameter directories.

#include <catch2/catch.hpp>

#include <chrysalis/serialize.hpp>

#include "temp_dir.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <limits>
#include <random>
#include <string>
#include <vector>

using namespace chrysalis;
using Catch::Matchers::Contains;
namespace fs = std::filesystem;

namespace {

using chrysalis::test::TempDir;

std::string read_bytes(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

void write_bytes(const std::string& path, const std::string& bytes) {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out.write(bytes.data(), std::streamsize(bytes.size()));
}

/// Every parameter of a network, as raw bytes: equal bytes mean bit-identical parameters (also
/// for NaN and -0).
template <class Net>
std::string parameter_bytes(Net& net) {
    std::string bytes;
    net.visit_parameters([&](auto& p, auto&) {
        using S = typename std::remove_cvref_t<decltype(p)>::Scalar;
        bytes.append(reinterpret_cast<const char*>(p.data()), std::size_t(p.size()) * sizeof(S));
    });
    return bytes;
}

/// The message of the E that f throws; fails the test (and returns "") if f throws nothing or
/// something else.
template <class E, class F>
std::string message_of(F&& f) {
    try {
        f();
    } catch (const E& e) {
        return e.what();
    } catch (const std::exception& e) {
        FAIL_CHECK("threw another exception: " << e.what());
        return "";
    }
    FAIL_CHECK("threw nothing");
    return "";
}

using FloatNet = Sequential<Dense<5, 7>, LeakyReLU, Dropout<20>, Dense<7, 3>>;
using DoubleNet =
    Sequential<Dense<4, 6, double>, Tanh, Dense<6, 6, double>, GELU, Dropout<10>,
               Dense<6, 5, double>, Sigmoid, Identity, Dense<5, 4, double>, LeakyReLU, ReLU>;

/// A hand-made .npy file: the dict, padded to 64 bytes, and the data.
std::string npy_file(const std::string& dict, const std::string& data, int major = 1) {
    const std::size_t prefix = major == 1 ? 10 : 12;
    std::string header = dict;
    while ((prefix + header.size() + 1) % 64 != 0) header += ' ';
    header += '\n';
    std::string out = "\x93NUMPY";
    out += char(major);
    out += '\0';
    for (std::size_t i = 0; i < (major == 1 ? 2u : 4u); ++i)
        out += char((header.size() >> (8 * i)) & 0xFF);
    return out + header + data;
}

template <class T>
std::string raw(std::initializer_list<T> values) {
    std::string out;
    for (const T v : values) out.append(reinterpret_cast<const char*>(&v), sizeof v);
    return out;
}

/// The python3 that has NumPy (Debian's /usr/bin/python3 first: `python3` may be a shim), or "".
std::string python_with_numpy() {
    for (const std::string python : {"/usr/bin/python3", "python3"})
        if (std::system((python + " -c 'import numpy' >/dev/null 2>&1").c_str()) == 0)
            return python;
    return "";
}

}  // namespace

TEST_CASE("save then load restores a float network bit-exactly, with its slope and dropout rate",
          "[serialize]") {
    TempDir dir;
    FloatNet saved(Seed{1});
    auto& w = saved.layer<0>().weights();
    w(0, 0) = -0.0f;
    w(1, 0) = std::numeric_limits<float>::denorm_min();
    w(2, 0) = std::numeric_limits<float>::infinity();
    w(3, 0) = std::numeric_limits<float>::quiet_NaN();
    saved.layer<3>().bias()(0) = std::numeric_limits<float>::max();
    saved.layer<1>().slope = 0.2;
    saved.layer<2>().set_rate(0.35);
    save(saved, dir.file("model.chrysalis"));

    FloatNet loaded(Seed{2});
    REQUIRE(parameter_bytes(loaded) != parameter_bytes(saved));
    load(loaded, dir.file("model.chrysalis"));
    CHECK(parameter_bytes(loaded) == parameter_bytes(saved));
    CHECK(loaded.layer<1>().slope == 0.2);
    CHECK(loaded.layer<2>().rate() == 0.35);
}

TEST_CASE("save then load restores a double network bit-exactly, and it computes the same",
          "[serialize]") {
    TempDir dir;
    DoubleNet saved(Seed{3});
    saved.layer<4>().set_rate(0.125);
    saved.layer<9>().slope = 0.3;
    const std::string path = dir.file("double.model");
    save(saved, path);

    DoubleNet loaded(Seed{4});
    load(loaded, path);
    CHECK(parameter_bytes(loaded) == parameter_bytes(saved));
    CHECK(loaded.layer<4>().rate() == 0.125);
    CHECK(loaded.layer<9>().slope == 0.3);
    const Matrix<double> x = Matrix<double>::Random(4, 9);
    CHECK(Matrix<double>(loaded.forward(x)) == Matrix<double>(saved.forward(x)));
    // The file is the documented layout: magic, version 1, its own size, the architecture.
    const std::string bytes = read_bytes(path);
    CHECK(bytes.substr(0, 8) == std::string("CHRYSLS\0", 8));
    CHECK(detail::get_le<std::uint32_t>(bytes.data() + 8) == 1);
    CHECK(detail::get_le<std::uint64_t>(bytes.data() + 12) == bytes.size());
    CHECK_THAT(bytes, Contains(architecture(saved)));
    CHECK(detail::get_le<std::uint32_t>(bytes.data() + bytes.size() - 4) ==
          detail::crc32(std::string_view(bytes).substr(0, bytes.size() - 4)));
}

TEST_CASE("the architecture string names every layer, its widths and the scalar type",
          "[serialize]") {
    using Mnist = Sequential<Dense<784, 128>, ReLU, Dropout<50>, Dense<128, 10>>;
    CHECK(architecture(Mnist{}) ==
          "Sequential<Dense<784,128,float>,ReLU,Dropout<50>,Dense<128,10,float>>");
    CHECK(architecture(DoubleNet{}) ==
          "Sequential<Dense<4,6,double>,Tanh,Dense<6,6,double>,GELU,Dropout<10>,"
          "Dense<6,5,double>,Sigmoid,Identity,Dense<5,4,double>,LeakyReLU,ReLU>");
    CHECK(detail::crc32("123456789") == 0xCBF43926u);  // the CRC-32 check value (zlib's)
}

TEST_CASE("loading into a different architecture names both architectures and the file",
          "[serialize]") {
    TempDir dir;
    const std::string path = dir.file("model.bin");
    save(FloatNet(Seed{1}), path);
    using Wider = Sequential<Dense<5, 8>, LeakyReLU, Dropout<20>, Dense<8, 3>>;
    Wider other(Seed{2});
    const std::string before = parameter_bytes(other);
    const std::string message = message_of<FormatError>([&] { load(other, path); });
    CHECK_THAT(message, Contains(path));
    CHECK_THAT(message, Contains("holds " + architecture(FloatNet{}) + " but the network is " +
                                 architecture(other)));
    CHECK(parameter_bytes(other) == before);
}

TEST_CASE("a float file loaded into a double network fails naming both scalar types",
          "[serialize]") {
    TempDir dir;
    const std::string path = dir.file("model.bin");
    save(FloatNet(Seed{1}), path);
    Sequential<Dense<5, 7, double>, LeakyReLU, Dropout<20>, Dense<7, 3, double>> net;
    const std::string message = message_of<FormatError>([&] { load(net, path); });
    CHECK_THAT(message, Contains(path));
    CHECK_THAT(message, Contains("holds float parameters but the network's scalar type is double"));
}

TEST_CASE("damaged model files throw FormatError naming the file and leave the network alone",
          "[serialize]") {
    TempDir dir;
    const std::string path = dir.file("model.bin");
    save(FloatNet(Seed{1}), path);
    const std::string good = read_bytes(path);
    FloatNet net(Seed{2});
    const std::string before = parameter_bytes(net);
    std::string bad = good;
    std::string expected;

    SECTION("truncated to half") {
        bad.resize(good.size() / 2);
        expected = "is truncated: it has " + std::to_string(bad.size()) +
                   " bytes, its header says " + std::to_string(good.size());
    }
    SECTION("truncated inside the header") {
        bad.resize(10);
        expected = "is truncated: 10 bytes";
    }
    SECTION("empty") {
        bad.clear();
        expected = "is truncated: 0 bytes";
    }
    SECTION("one flipped bit in a weight") {
        bad[good.size() - 40] = char(bad[good.size() - 40] ^ 0x10);
        expected = "is corrupt: its CRC-32 checksum is";
    }
    SECTION("another magic") {
        bad[0] = 'X';
        expected = "is not a chrysalis model file";
    }
    SECTION("a newer format version") {
        bad[8] = 2;
        expected = "has model format version 2; this version of chrysalis reads format version 1";
    }
    SECTION("trailing bytes") {
        bad += "extra";
        expected = "(trailing data or a corrupt header)";
    }
    write_bytes(path, bad);
    const std::string message = message_of<FormatError>([&] { load(net, path); });
    CHECK_THAT(message, Contains("chrysalis::load: '" + path + "' "));
    CHECK_THAT(message, Contains(expected));
    CHECK(parameter_bytes(net) == before);
}

TEST_CASE("a load that fails on a hyperparameter undoes the ones already set", "[serialize]") {
    TempDir dir;
    const std::string path = dir.file("model.bin");
    FloatNet saved(Seed{1});
    saved.layer<1>().slope = 0.25;     // restored first, then undone
    saved.layer<2>().set_rate(0.375);  // replaced below by 1.5, which Dropout rejects
    save(saved, path);
    std::string bytes = read_bytes(path);
    const std::string rate = raw({0.375});
    const std::size_t at = bytes.find(rate);
    REQUIRE(at != std::string::npos);
    bytes.replace(at, 8, raw({1.5}));
    const auto crc = detail::crc32(std::string_view(bytes).substr(0, bytes.size() - 4));
    bytes.replace(bytes.size() - 4, 4, raw({crc}));
    write_bytes(path, bytes);

    FloatNet net(Seed{2});
    const std::string before = parameter_bytes(net);
    const std::string message = message_of<FormatError>([&] { load(net, path); });
    CHECK_THAT(message, Contains(path));
    CHECK_THAT(message, Contains("layer 2 (Dropout<20>) rejects"));
    CHECK_THAT(message, Contains("rate must be in [0, 1), got 1.5"));
    CHECK(net.layer<1>().slope == 0.01);
    CHECK(net.layer<2>().rate() == 0.2);
    CHECK(parameter_bytes(net) == before);
}

TEST_CASE("loading a missing file throws IoError naming it", "[serialize]") {
    TempDir dir;
    FloatNet net;
    const std::string path = dir.file("absent.bin");
    const std::string message = message_of<IoError>([&] { load(net, path); });
    CHECK_THAT(message, Contains("chrysalis::load: cannot read '" + path + "'"));
    CHECK_THAT(message, Contains("No such file"));
}

TEST_CASE("saving over an existing file replaces it and leaves no temporary file", "[serialize]") {
    TempDir dir;
    const std::string path = dir.file("model.bin");
    save(FloatNet(Seed{1}), path);
    FloatNet second(Seed{2});
    second.layer<2>().set_rate(0.5);
    save(second, path);
    CHECK(dir.entries() == std::vector<std::string>{"model.bin"});
    FloatNet loaded(Seed{3});
    load(loaded, path);
    CHECK(parameter_bytes(loaded) == parameter_bytes(second));
    CHECK(loaded.layer<2>().rate() == 0.5);
}

TEST_CASE("saving over a file keeps its permission bits; a new file gets the umask's",
          "[serialize]") {
    // The temporary renamed over the old file used to carry 0666 less the umask: a model made
    // private with chmod 600 became readable by everyone at its next save.
    TempDir dir;
    const std::string path = dir.file("model.bin");
    save(FloatNet(Seed{1}), path);
    const mode_t mask = ::umask(0);
    ::umask(mask);
    const auto mode = [&] {
        struct stat info {};
        REQUIRE(::stat(path.c_str(), &info) == 0);
        return info.st_mode & 0777;
    };
    CHECK(mode() == (0666 & ~mask));
    for (const mode_t m : {mode_t(0600), mode_t(0640), mode_t(0444)}) {
        REQUIRE(::chmod(path.c_str(), m) == 0);
        save(FloatNet(Seed{2}), path);
        CHECK(mode() == m);
    }
    CHECK(dir.entries() == std::vector<std::string>{"model.bin"});
}

TEST_CASE("saving into a directory that does not exist throws IoError and creates nothing",
          "[serialize]") {
    TempDir dir;
    const std::string path = dir.file("no/such/dir/model.bin");
    const std::string message = message_of<IoError>([&] { save(FloatNet{}, path); });
    CHECK_THAT(message, Contains("chrysalis::save: cannot write '" + path + "'"));
    CHECK_THAT(message, Contains("No such file or directory"));
    CHECK(dir.entries().empty());
}

TEST_CASE("saving onto a directory is refused before writing, and the directory is kept",
          "[serialize]") {
    TempDir dir;
    const std::string path = dir.file("occupied");
    fs::create_directory(path);
    write_bytes(dir.file("occupied/keep.txt"), "kept");
    const std::string message = message_of<IoError>([&] { save(FloatNet{}, path); });
    CHECK_THAT(message, Contains("chrysalis::save: cannot write '" + path +
                                 "': it is a directory; only a regular file is replaced"));
    CHECK(dir.entries() == std::vector<std::string>{"occupied"});
    CHECK(read_bytes(dir.file("occupied/keep.txt")) == "kept");
}

namespace {
std::string directory_to_create;  // for the hook below, a plain function pointer
}

TEST_CASE("a save that fails after writing removes its temporary and keeps what was there",
          "[serialize]") {
    TempDir dir;
    const std::string path = dir.file("occupied");
    // The target becomes a directory while the save is writing (after the check at the start),
    // so rename() fails: the temporary must go and the directory stay.
    directory_to_create = path;
    detail::test_hooks::after_partial_write = [](const std::string&) {
        fs::create_directory(directory_to_create);
        write_bytes(directory_to_create + "/keep.txt", "kept");
    };
    std::string message;
    try {
        message = message_of<IoError>([&] { save(FloatNet{}, path); });
    } catch (...) {
        detail::test_hooks::after_partial_write = nullptr;
        throw;
    }
    detail::test_hooks::after_partial_write = nullptr;
    CHECK_THAT(message, Contains("chrysalis::save: cannot write '" + path + "': rename: "));
    CHECK(dir.entries() == std::vector<std::string>{"occupied"});
    CHECK(read_bytes(dir.file("occupied/keep.txt")) == "kept");
}

TEST_CASE(".npy files round-trip exactly: float and double, 1-D and 2-D, non-square",
          "[serialize][npy]") {
    TempDir dir;
    Matrix<float> f = Matrix<float>::Random(3, 5);
    f(0, 0) = -0.0f;
    f(2, 4) = std::numeric_limits<float>::denorm_min();
    save_npy(f, dir.file("f.npy"));
    const Matrix<float> f_back = load_npy<float>(dir.file("f.npy"));
    REQUIRE(f_back.rows() == 3);
    REQUIRE(f_back.cols() == 5);
    CHECK(std::memcmp(f_back.data(), f.data(), sizeof(float) * 15) == 0);

    const Matrix<double> d = Matrix<double>::Random(2, 7);
    save_npy(d, dir.file("d.npy"));
    CHECK(load_npy<double>(dir.file("d.npy")) == d);
    // Floats read into double are exact; doubles read into float are rounded.
    CHECK(load_npy<double>(dir.file("f.npy")) == f.cast<double>());
    CHECK(load_npy<float>(dir.file("d.npy")) == d.cast<float>());

    const Vector<double> v = Vector<double>::LinSpaced(6, -1.0, 1.5);
    save_npy(v, dir.file("v.npy"));
    const Matrix<double> v_back = load_npy<double>(dir.file("v.npy"));
    CHECK(v_back.cols() == 1);
    CHECK(v_back == Matrix<double>(v));

    // The headers are NumPy's: Fortran order, shapes (3, 5) and (6,), the data 64-byte aligned.
    const std::string header = read_bytes(dir.file("f.npy"));
    CHECK(header.substr(0, 8) == std::string("\x93NUMPY\x01\x00", 8));
    CHECK_THAT(header, Contains("{'descr': '<f4', 'fortran_order': True, 'shape': (3, 5), }"));
    CHECK(header.size() - 15 * sizeof(float) == 128);  // like NumPy's own files
    CHECK_THAT(read_bytes(dir.file("v.npy")), Contains("'descr': '<f8'"));
    CHECK_THAT(read_bytes(dir.file("v.npy")), Contains("'shape': (6,), }"));
}

TEST_CASE("a hand-written C-order .npy is read with rows and columns in place",
          "[serialize][npy]") {
    TempDir dir;
    const std::string path = dir.file("c.npy");
    Matrix<float> expected(2, 3);
    expected << 1, 2, 3, 4, 5, 6;
    SECTION("format 1.0, '<f4', C order") {
        write_bytes(path, npy_file("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }",
                                   raw({1.f, 2.f, 3.f, 4.f, 5.f, 6.f})));
    }
    SECTION("format 2.0, '<f8', C order, double quotes, Python 2 longs") {
        write_bytes(path,
                    npy_file("{\"descr\": \"<f8\", \"shape\": (2L, 3L), \"fortran_order\": False}",
                             raw({1., 2., 3., 4., 5., 6.}), 2));
    }
    SECTION("format 1.0, '<f4', Fortran order") {
        write_bytes(path, npy_file("{'descr': '<f4', 'fortran_order': True, 'shape': (2, 3), }",
                                   raw({1.f, 4.f, 2.f, 5.f, 3.f, 6.f})));
    }
    CHECK(load_npy<float>(path) == expected);
}

TEST_CASE("'<f8' data beyond float's range is refused by load_npy<float>, naming the element",
          "[serialize][npy]") {
    TempDir dir;
    const std::string path = dir.file("wide.npy");
    const double max = std::numeric_limits<float>::max();
    // Half an ulp of float above FLT_MAX (2^104) is where rounding to nearest gives ∞.
    const double half_ulp = std::ldexp(1.0, 103);
    // Each value, placed at row 1, column 2 of a 2 × 3 C-order array of ones.
    for (const double v :
         {1e300, -1e39, max + 1.5 * half_ulp, -std::numeric_limits<double>::max()}) {
        INFO("value " << v);
        write_bytes(path, npy_file("{'descr': '<f8', 'fortran_order': False, 'shape': (2, 3), }",
                                   raw({1., 1., 1., 1., 1., v})));
        try {
            (void)load_npy<float>(path);
            FAIL("load_npy<float> read a value beyond float's range");
        } catch (const FormatError& e) {
            CHECK_THAT(e.what(), Catch::Matchers::Contains("chrysalis::load_npy: '" + path + "'") &&
                                     Catch::Matchers::Contains("at row 1, column 2") &&
                                     Catch::Matchers::Contains("beyond the range of float"));
        }
        CHECK(load_npy<double>(path)(1, 2) == v);  // double holds it
    }
    // The same element in Fortran order is still row 1, column 2.
    write_bytes(path, npy_file("{'descr': '<f8', 'fortran_order': True, 'shape': (2, 3), }",
                               raw({1., 1., 1., 1., 1., 1e300})));
    CHECK_THROWS_WITH(load_npy<float>(path), Catch::Matchers::Contains("at row 1, column 2"));
    // Values that round to ±FLT_MAX are float values; ∞ and NaN in the file are read as stored.
    const double inf = std::numeric_limits<double>::infinity();
    write_bytes(path, npy_file("{'descr': '<f8', 'fortran_order': False, 'shape': (4,), }",
                               raw({max + 0.5 * half_ulp, -max, inf, -inf})));
    const Matrix<float> m = load_npy<float>(path);
    CHECK(m(0) == std::numeric_limits<float>::max());
    CHECK(m(1) == -std::numeric_limits<float>::max());
    CHECK(m(2) == std::numeric_limits<float>::infinity());
    CHECK(m(3) == -std::numeric_limits<float>::infinity());
}

TEST_CASE("an .npy of another dtype, byte order or dimension throws naming the file",
          "[serialize][npy]") {
    TempDir dir;
    const std::string path = dir.file("bad.npy");
    std::string expected;
    SECTION("big-endian") {
        write_bytes(path, npy_file("{'descr': '>f4', 'fortran_order': False, 'shape': (1,), }",
                                   raw({1.f})));
        expected = "holds big-endian data ('>f4')";
    }
    SECTION("integers") {
        write_bytes(path, npy_file("{'descr': '<i8', 'fortran_order': False, 'shape': (1,), }",
                                   raw({std::int64_t{1}})));
        expected = "holds dtype '<i8'; only '<f4' (float32) and '<f8' (float64) are read";
    }
    SECTION("three dimensions") {
        write_bytes(path, npy_file("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 1, 1), }",
                                   raw({1.f, 2.f})));
        expected = "holds a 3-D array of shape (2, 1, 1); only 1-D and 2-D arrays are read";
    }
    SECTION("a scalar") {
        write_bytes(
            path, npy_file("{'descr': '<f4', 'fortran_order': False, 'shape': (), }", raw({1.f})));
        expected = "holds a 0-D array of shape ()";
    }
    SECTION("truncated data") {
        write_bytes(path, npy_file("{'descr': '<f8', 'fortran_order': False, 'shape': (2, 2), }",
                                   raw({1., 2., 3.})));
        expected = "is truncated: it holds 24 bytes of data but shape (2, 2) of '<f8' needs 32";
    }
    SECTION("a header without 'shape'") {
        write_bytes(path, npy_file("{'descr': '<f4', 'fortran_order': False, }", raw({1.f})));
        expected = "has a bad .npy header: it must have the keys";
    }
    SECTION("a header that is not a dict") {
        write_bytes(path, npy_file("descr = '<f4'", raw({1.f})));
        expected = "has a bad .npy header: expected '{'";
    }
    SECTION("not an .npy file") {
        write_bytes(path, "PK\x03\x04 a zip file");
        expected = "is not a .npy file";
    }
    SECTION("a truncated header") {
        write_bytes(path, npy_file("{'descr': '<f4', 'fortran_order': False, 'shape': (1,), }", "")
                              .substr(0, 30));
        expected = "is truncated: its header needs 128 bytes, the file has 30";
    }
    const std::string message = message_of<FormatError>([&] { load_npy<float>(path); });
    CHECK_THAT(message, Contains("chrysalis::load_npy: '" + path + "' "));
    CHECK_THAT(message, Contains(expected));
}

TEST_CASE("NumPy reads what save_npy and export_npy write, and load_npy reads what NumPy writes",
          "[serialize][npy][numpy]") {
    const std::string python = python_with_numpy();
    if (python.empty()) {
        WARN("numpy not available: skipped the NumPy interchange check");
        return;
    }
    TempDir dir;
    Matrix<float> m(2, 3);
    m << 1.5f, -2.0f, 0.25f, 3.0f, 4.125f, -0.5f;
    save_npy(m, dir.file("ours.npy"));
    FloatNet net(Seed{5});
    export_npy(net, dir.file("weights"));
    const std::string check =
        python +
        " -c '"
        "import sys, numpy as np\n"
        "a = np.load(sys.argv[1])\n"
        "assert a.shape == (2, 3) and a.dtype == np.float32, (a.shape, a.dtype)\n"
        "assert (a == np.array([[1.5, -2, 0.25], [3, 4.125, -0.5]], np.float32)).all(), a\n"
        "w, b = np.load(sys.argv[2] + \"/0_0.npy\"), np.load(sys.argv[2] + \"/0_1.npy\")\n"
        "assert w.shape == (7, 5) and b.shape == (7,), (w.shape, b.shape)\n"
        "assert w[6, 1] == np.float32(sys.argv[3]), (w[6, 1], sys.argv[3])\n"
        "np.save(sys.argv[1] + \".c.npy\", np.array([[1.0, 2.0, 3.0], [4.0, 5.0, 6.5]]))\n"
        "np.save(sys.argv[1] + \".f.npy\", np.asfortranarray(np.arange(6, "
        "dtype=np.float32).reshape(3, 2)))\n"
        "np.save(sys.argv[1] + \".v.npy\", np.arange(4.0))\n"
        "' " +
        dir.file("ours.npy") + " " + dir.file("weights") + " " +
        detail::concat(double(net.layer<0>().weights()(6, 1)));
    REQUIRE(std::system(check.c_str()) == 0);

    Matrix<double> c(2, 3);
    c << 1, 2, 3, 4, 5, 6.5;
    CHECK(load_npy<double>(dir.file("ours.npy.c.npy")) == c);
    Matrix<float> f(3, 2);
    f << 0, 1, 2, 3, 4, 5;
    CHECK(load_npy<float>(dir.file("ours.npy.f.npy")) == f);
    CHECK(load_npy<double>(dir.file("ours.npy.v.npy")) == Vector<double>::LinSpaced(4, 0, 3));
}

TEST_CASE("export_npy writes PyTorch-shaped blocks that import_npy reads back exactly",
          "[serialize][npy]") {
    TempDir dir;
    FloatNet saved(Seed{7});
    saved.layer<2>().set_rate(0.4);
    const std::string weights = dir.file("weights");  // created by export_npy
    export_npy(saved, weights);
    CHECK(dir.entries("weights") ==
          std::vector<std::string>{"0_0.npy", "0_1.npy", "3_0.npy", "3_1.npy", "architecture.txt"});
    CHECK(read_bytes(weights + "/architecture.txt") == architecture(saved) + "\n");
    CHECK(load_npy<float>(weights + "/0_0.npy") == saved.layer<0>().weights());
    CHECK_THAT(read_bytes(weights + "/0_1.npy"), Contains("'shape': (7,)"));
    CHECK_THAT(read_bytes(weights + "/3_0.npy"), Contains("'shape': (3, 7)"));

    FloatNet loaded(Seed{8});
    import_npy(loaded, weights);
    CHECK(parameter_bytes(loaded) == parameter_bytes(saved));
    CHECK(loaded.layer<2>().rate() == 0.2);  // hyperparameters are not part of the export

    // Exporting another network into the same directory leaves only its own blocks.
    using Shallow = Sequential<Dense<5, 3>, ReLU>;
    export_npy(Shallow(Seed{9}), weights);
    CHECK(dir.entries("weights") ==
          std::vector<std::string>{"0_0.npy", "0_1.npy", "architecture.txt"});
}

TEST_CASE("import_npy rejects wrong shapes, architectures, missing and stray files by name",
          "[serialize][npy]") {
    TempDir dir;
    const std::string weights = dir.file("weights");
    export_npy(FloatNet(Seed{7}), weights);
    FloatNet net(Seed{8});
    const std::string before = parameter_bytes(net);
    std::string expected;
    SECTION("a weight of the wrong shape") {
        save_npy(Matrix<float>(Matrix<float>::Zero(7, 4)), weights + "/3_0.npy");
        expected = "'" + weights +
                   "/3_0.npy' holds a 7 x 4 array but layer 3 (Dense<7,3,float>) "
                   "parameter block 0 is 3 x 7";
    }
    SECTION("another architecture") {
        write_bytes(weights + "/architecture.txt", "Sequential<Dense<5,3,float>>\n");
        expected = "'" + weights +
                   "/architecture.txt' holds Sequential<Dense<5,3,float>> but the "
                   "network is " +
                   architecture(net);
    }
    SECTION("a missing bias") {
        fs::remove(weights + "/3_1.npy");
        expected = "'" + weights +
                   "/3_1.npy' is missing: layer 3 (Dense<7,3,float>) has "
                   "parameter block 1 of 3 x 1";
    }
    SECTION("a block for a layer without parameters") {
        save_npy(Matrix<float>(Matrix<float>::Zero(7, 7)), weights + "/1_0.npy");
        expected = "'" + weights + "/1_0.npy' is not a parameter block of the network";
    }
    const std::string message = message_of<FormatError>([&] { import_npy(net, weights); });
    CHECK_THAT(message, Contains("chrysalis::import_npy: "));
    CHECK_THAT(message, Contains(expected));
    CHECK(parameter_bytes(net) == before);
}

TEST_CASE("export_npy checks every block's file before it replaces the first", "[serialize]") {
    // A block's name taken by a directory was found only when its turn came: the blocks before
    // it had been replaced by the new network's, and the set loaded as a mix of the two.
    TempDir dir;
    const std::string weights = dir.file("weights");
    export_npy(FloatNet(Seed{1}), weights);
    const std::string first = read_bytes(weights + "/0_0.npy");
    std::filesystem::remove(weights + "/3_1.npy");
    std::filesystem::create_directory(weights + "/3_1.npy");
    CHECK_THROWS_AS(export_npy(FloatNet(Seed{2}), weights), IoError);
    CHECK_THROWS_WITH(export_npy(FloatNet(Seed{2}), weights), Contains("chrysalis::export_npy") &&
                                                                  Contains("3_1.npy") &&
                                                                  Contains("it is a directory"));
    CHECK(read_bytes(weights + "/0_0.npy") == first);
}
