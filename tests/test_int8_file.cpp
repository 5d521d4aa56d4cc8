// The int8 model file: save(const Int8Network&, path) and load_int8 — the round trip gives
// bit-identical logits (dynamic and static scales), the file is at most 0.27× the fp32 file of
// the same network, each loader refuses the other's file by name, and damaged or crafted files
// (checksum, truncation, trailing bytes, and every field behind a correct checksum) are typed
// errors naming the file. The atomic save is tested with the other writers in
// test_crash_safety.cpp.

#include <catch2/catch.hpp>

#include <chrysalis/chrysalis.hpp>

#include "temp_dir.hpp"
#include "thrown.hpp"

#include <cstdint>
#include <filesystem>
#include <iomanip>
#include <limits>
#include <string>
#include <vector>
#include "test_file_namespace.hpp"

namespace CHRYSALIS_TEST_FILE {

using namespace chrysalis;
using Catch::Matchers::Contains;

namespace {

using chrysalis::test::read_bytes;
using chrysalis::test::TempDir;
using chrysalis::test::thrown;
using chrysalis::test::write_bytes;

/// Every activation the int8 form has, a LeakyReLU with its own slope, and a Dropout (dropped).
using Net = Sequential<Dense<12, 16>, LeakyReLU, Dropout<20>, Dense<16, 9>, Tanh, Dense<9, 9>, GELU,
                       Sigmoid, Dense<9, 7>, ReLU, Identity, Dense<7, 5>>;
using Student = Sequential<Dense<784, 800>, ReLU, Dense<800, 800>, ReLU, Dense<800, 10>>;

Net make_net() {
    Net net(Seed{3});
    net.layer<1>().slope = 0.125;
    return net;
}

Matrix<float> inputs(Eigen::Index rows, Eigen::Index cols, std::uint64_t seed) {
    Rng rng(Seed{seed});
    Matrix<float> m(rows, cols);
    for (Eigen::Index i = 0; i < m.size(); ++i) m.data()[i] = float(rng.uniform(-2.0, 2.0));
    return m;
}

/// The raw bytes of a float matrix: equal bytes mean bit-identical values.
std::string bits(const Matrix<float>& m) {
    return {reinterpret_cast<const char*>(m.data()), std::size_t(m.size()) * sizeof(float)};
}

/// `body` (a file without its checksum) with its size field and CRC-32 made right again, so that
/// a change to the body reaches the checks behind the checksum.
std::string sealed(std::string body) {
    std::string size;
    detail::put_le(size, std::uint64_t(body.size() + 4));
    body.replace(12, 8, size);
    detail::put_le(body, detail::crc32(body));
    return body;
}

/// The file of `net` without its CRC-32, to edit and seal again.
std::string unsealed(const Int8Network& net) {
    std::string bytes = detail::encode_int8_model(net);
    bytes.resize(bytes.size() - 4);
    return bytes;
}

template <class T>
std::string le(T value) {
    std::string s;
    detail::put_le(s, value);
    return s;
}

}  // namespace

TEST_CASE("an int8 network saved and loaded gives the same logits, bit for bit", "[int8file]") {
    TempDir dir;
    const std::string path = dir.file("student.int8");
    const Net net = make_net();
    const Matrix<float> x = inputs(12, 37, 5);
    for (const bool calibrated : {false, true}) {
        INFO((calibrated ? "static" : "dynamic") << " scales");
        Int8Network saved = calibrated ? quantize(net, inputs(12, 200, 6)) : quantize(net);
        save(saved, path);
        Int8Network loaded = load_int8(path);
        CHECK(loaded.calibrated() == calibrated);
        REQUIRE(loaded.dense_count() == saved.dense_count());
        for (std::size_t i = 0; i < saved.dense_count(); ++i) {
            const Int8Dense& a = saved.layer(i);
            const Int8Dense& b = loaded.layer(i);
            CHECK(b.input_size == a.input_size);
            CHECK(b.output_size == a.output_size);
            CHECK(b.weights == a.weights);  // padding included
            CHECK(b.weight_scales == a.weight_scales);
            CHECK(bits(b.bias) == bits(a.bias));
            CHECK(b.input_scale == a.input_scale);
            REQUIRE(b.activations.size() == a.activations.size());
            for (std::size_t k = 0; k < a.activations.size(); ++k)
                CHECK(b.activations[k].index() == a.activations[k].index());
        }
        CHECK(std::get<LeakyReLU>(loaded.layer(0).activations.at(0)).slope == 0.125);
        CHECK(bits(loaded.predict_logits(x)) == bits(saved.predict_logits(x)));
        CHECK(detail::encode_int8_model(loaded) == read_bytes(path));      // canonical
        CHECK(dir.entries() == std::vector<std::string>{"student.int8"});  // no temporary left
    }
}

TEST_CASE("the int8 file of the 784-800-800-10 student is at most 0.27x its fp32 file",
          "[int8file]") {
    TempDir dir;
    const Student net(Seed{11});
    save(net, dir.file("student.chrysalis"));
    const Int8Network dynamic = quantize(net);
    const Int8Network calibrated = quantize(net, inputs(784, 64, 12).cwiseAbs());
    save(dynamic, dir.file("dynamic.int8"));
    save(calibrated, dir.file("static.int8"));
    const auto fp32 = double(std::filesystem::file_size(dir.file("student.chrysalis")));
    const auto d = double(std::filesystem::file_size(dir.file("dynamic.int8")));
    const auto s = double(std::filesystem::file_size(dir.file("static.int8")));
    WARN(std::fixed << std::setprecision(0) << "fp32 file " << fp32 << " bytes; int8 file " << d
                    << " bytes dynamic, " << s << " static; ratio " << std::setprecision(4)
                    << d / fp32 << ", " << s / fp32);
    CHECK(d / fp32 <= 0.27);
    CHECK(s / fp32 <= 0.27);
    // The parameters, as Int8Network::parameter_bytes counts them, and a few bytes of header.
    CHECK(d - double(dynamic.parameter_bytes()) < 200);
    CHECK(s - double(calibrated.parameter_bytes()) < 200);
    Int8Network back = load_int8(dir.file("static.int8"));
    const Matrix<float> x = inputs(784, 3, 13).cwiseAbs();
    Int8Network original = calibrated;
    CHECK(bits(back.predict_logits(x)) == bits(original.predict_logits(x)));
}

TEST_CASE("each loader refuses the other kind of model file, naming the file and the loader to use",
          "[int8file]") {
    TempDir dir;
    const std::string fp32 = dir.file("net.chrysalis");
    const std::string int8 = dir.file("net.int8");
    const Net net = make_net();
    save(net, fp32);
    save(quantize(net), int8);

    Net other(Seed{4});
    const std::string before = detail::encode_model(other);
    std::string message = thrown<FormatError>([&] { load(other, int8); });
    CHECK_THAT(message, Contains("chrysalis::load: '" + int8 + "' is an int8 model file"));
    CHECK_THAT(message, Contains("not an fp32 model file: load it with chrysalis::load_int8"));
    CHECK(detail::encode_model(other) == before);

    message = thrown<FormatError>([&] { (void)load_int8(fp32); });
    CHECK_THAT(message, Contains("chrysalis::load_int8: '" + fp32 + "' is an fp32 model file"));
    CHECK_THAT(message,
               Contains("not an int8 model file: load it with chrysalis::load(net, path)"));

    Adam adam;
    message = thrown<FormatError>([&] { (void)load_checkpoint(other, adam, int8); });
    CHECK_THAT(message,
               Contains("chrysalis::load_checkpoint: '" + int8 + "' is an int8 model file"));
    CHECK_THAT(message, Contains("load it with load_int8"));
}

TEST_CASE("damaged int8 model files are FormatErrors naming the file", "[int8file]") {
    TempDir dir;
    const std::string path = dir.file("net.int8");
    save(quantize(make_net(), inputs(12, 50, 7)), path);
    const std::string good = read_bytes(path);
    std::string bad = good;
    std::string expected;

    SECTION("one flipped bit in a weight") {
        bad[good.size() - 30] = char(bad[good.size() - 30] ^ 0x10);
        expected = "is corrupt: its CRC-32 checksum is";
    }
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
    SECTION("trailing bytes") {
        bad += "extra";
        expected = "(trailing data or a corrupt header)";
    }
    SECTION("another magic") {
        bad[5] = 'X';
        expected = "is not a chrysalis int8 model file: it does not begin with \"CHRYSQ8\\0\"";
    }
    SECTION("a version 1 file, whose static scales were for 8-bit activations") {
        bad[8] = 1;
        expected =
            "has int8 model format version 1; this version of chrysalis reads format "
            "version 2 only";
    }
    SECTION("a newer format version") {
        bad[8] = 3;
        expected =
            "has int8 model format version 3; this version of chrysalis reads format "
            "version 2 only";
    }
    write_bytes(path, bad);
    const std::string message = thrown<FormatError>([&] { (void)load_int8(path); });
    CHECK_THAT(message, Contains("chrysalis::load_int8: '" + path + "' "));
    CHECK_THAT(message, Contains(expected));
}

TEST_CASE("load_int8 checks every field behind a correct checksum", "[int8file]") {
    TempDir dir;
    const std::string path = dir.file("net.int8");
    // A 3-4-2 network, static scales, a LeakyReLU on the first layer: every field at a known
    // offset. Body: count (u32) at 20, mode (u8) at 24; layer 0 at 25: sizes (2 × u64), input
    // scale (f32) at 41, activation count (u32) at 45, code (u8) at 49, slope (f64) at 50, 4
    // weight scales at 58, 4 biases at 74, 12 weights at 90; layer 1 at 102.
    using Small = Sequential<Dense<3, 4>, LeakyReLU, Dense<4, 2>>;
    Small small(Seed{8});
    const std::string good = unsealed(quantize(small, inputs(3, 20, 9)));
    REQUIRE(good.substr(49, 1) == le(std::uint8_t(2)));
    REQUIRE(good.substr(50, 8) == le(0.01));
    constexpr auto u8 = [](int v) { return le(std::uint8_t(v)); };
    constexpr auto u64 = [](std::uint64_t v) { return le(v); };
    constexpr auto f32 = [](float v) { return le(v); };
    constexpr float inf = std::numeric_limits<float>::infinity();
    struct Edit {
        const char* what;
        std::size_t offset;
        std::string bytes;  // written over the file at offset
        std::string expected;
    };
    const Edit edits[] = {
        {"a scale mode neither dynamic nor static", 24, u8(2),
         "is corrupt: its scale mode is 2; expected 0 (dynamic) or 1 (static)"},
        {"dynamic mode over input scales: the fields no longer line up", 24, u8(0), "is corrupt"},
        {"a layer of 0 inputs", 25, u64(0),
         "layer 0 has 0 inputs and 4 outputs; expected 1 to 133144 inputs"},
        {"a layer wider than int32 sums allow", 25, u64(133145), "layer 0 has 133145 inputs"},
        {"a huge layer, refused before anything is allocated for it", 33, u64(UINT64_MAX),
         "layer 0 is 18446744073709551615 x 3, more than the"},
        {"layers that do not chain", 102, u64(5), "layer 1 has 5 inputs but layer 0 has 4 outputs"},
        {"an unknown activation code", 49, u8(6),
         "layer 0's activation 0 has code 6; expected 0 to 5"},
        {"a huge activation count", 45, le(std::uint32_t(0xFFFFFFFF)),
         "layer 0 has 4294967295 activations, more than the"},
        {"a slope LeakyReLU rejects", 50, le(std::numeric_limits<double>::quiet_NaN()),
         "holds hyperparameters that layer 0's activation 0 (LeakyReLU) rejects"},
        {"an input scale of 0", 41, f32(0),
         "holds a network that Int8Network refuses: chrysalis::Int8Network: layer 0: input scale "
         "is 0; expected a finite number > 0"},
        {"an infinite input scale", 41, f32(inf),
         "input scale is inf; expected a finite number > 0"},
        {"a negative weight scale", 58 + 4, f32(-0.5f),
         "layer 0: weight scale 1 is -0.5; expected a finite number > 0"},
        {"a NaN weight scale", 58 + 8, f32(std::numeric_limits<float>::quiet_NaN()),
         "layer 0: weight scale 2 is nan; expected a finite number > 0"},
        {"an infinite bias", 74, f32(-inf), "layer 0: bias 0 is -inf; expected a finite number"},
        {"a weight of -128", 90 + 4, le(std::int8_t(-128)),
         "layer 0: weight (1, 1) is -128; expected -127 to 127"},
    };
    const auto refused = [&](const std::string& bad) {
        write_bytes(path, sealed(bad));
        const std::string message = thrown<FormatError>([&] { (void)load_int8(path); });
        CHECK_THAT(message, Contains("chrysalis::load_int8: '" + path + "' "));
        return message;
    };
    for (const Edit& e : edits) {
        INFO(e.what);
        std::string bad = good;
        bad.replace(e.offset, e.bytes.size(), e.bytes);
        CHECK_THAT(refused(bad), Contains(e.expected));
    }
    CHECK_THAT(refused(good.substr(0, 20) + le(std::uint32_t(0)) + u8(0)),
               Contains("is corrupt: it holds 0 layers"));
    CHECK_THAT(refused(good + "xyz"), Contains("is corrupt: 3 bytes follow the last layer"));
    CHECK_THAT(refused(good.substr(0, good.size() - 1)),
               Contains("is corrupt: the weights at byte"));
    write_bytes(path, sealed(good));
    CHECK_NOTHROW(load_int8(path));  // the edits made the errors, not the sealing
}

TEST_CASE("no int8 network holds an activation load_int8 would refuse", "[int8file]") {
    // Save would refuse it too (a second check, for a network it can no longer be given): the
    // constructor refuses the layers first, so no such network, and no such file, exists.
    Int8Network net = quantize(make_net());
    std::vector<Int8Dense> layers;
    for (std::size_t i = 0; i < net.dense_count(); ++i) layers.push_back(net.layer(i));
    std::get<LeakyReLU>(layers[0].activations[0]).slope = std::numeric_limits<double>::infinity();
    const std::string message = thrown<ValueError>([&] { Int8Network broken(std::move(layers)); });
    CHECK_THAT(message, Contains("chrysalis::Int8Network: layer 0: activation 0 (LeakyReLU) has "
                                 "slope inf"));
}

TEST_CASE("load_int8 names a missing file and refuses one over max_bytes", "[int8file]") {
    TempDir dir;
    const std::string path = dir.file("absent.int8");
    std::string message = thrown<IoError>([&] { (void)load_int8(path); });
    CHECK_THAT(message, Contains("chrysalis::load_int8: cannot read '" + path + "'"));
    save(quantize(make_net()), path);
    message = thrown<FormatError>([&] { (void)load_int8(path, 100); });
    CHECK_THAT(message, Contains("more than the byte limit of 100 bytes (max_bytes)"));
}

}  // namespace CHRYSALIS_TEST_FILE
