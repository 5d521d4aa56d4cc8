// peer_io.hpp — what the C++ peers of compare_pytorch.py (libtorch_epoch, dlib_epoch) share
// around their engine: the worker's JSON lines, Fashion-MNIST's gzip IDX files read into plain
// arrays (pixels / 255 in float32, as the Python worker's load_idx), the BLAS report (which file
// provides the sgemm_ the engine's float products call, and OpenBLAS's own account of its core
// and threads), and the median of the batch-1 timings. Standard C++, zlib and the dynamic
// linker only: the peers link neither chrysalis nor each other.
#pragma once

#include "../recipe_options.hpp"

#include <dlfcn.h>
#include <zlib.h>

#include <algorithm>
#include <array>
#include <climits>
#include <cstdint>
#include <cstdlib>
#include <iostream>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

namespace peer {

// The recipe's constants (compare_pytorch.py's BATCH, LOGITS_BATCH, LR, MOMENTUM, TEMPERATURE,
// ALPHA).
constexpr std::int64_t kBatch = 128;
constexpr std::int64_t kLogitsBatch = 256;
constexpr double kLr = 0.05, kMomentum = 0.9;
constexpr double kTemperature = 4.0, kAlpha = 0.5;

/// The recipe's options and the peers' own --check-blas (print the BLAS report and exit).
struct Options : recipe::Options {
    bool check_blas = false;
};

/// Parses a peer's command line; `program` names its source for the hint of an unknown flag.
inline Options parse(int argc, char** argv, const std::string& program) {
    bool check_blas = false;
    auto own = [&](const std::string& a) {
        if (a != "--check-blas") return false;
        check_blas = true;
        return true;
    };
    Options o{recipe::parse(argc, argv, own, "see the header of benchmarks/peers/" + program)};
    o.check_blas = check_blas;
    return o;
}

/// A peer's main: run(options), an exception printed after the program's name (exit status 1).
template <class Run>
int main_of(int argc, char** argv, const char* name, const std::string& program, Run run) {
    try {
        run(parse(argc, argv, program));
    } catch (const std::exception& e) {
        std::cerr << name << ": " << e.what() << "\n";
        return 1;
    }
    return 0;
}

/// s as a JSON string literal (quotes and backslashes escaped, control characters blanked).
inline std::string json_string(const std::string& s) {
    std::string out = "\"";
    for (const char c : s) {
        if (c == '"' || c == '\\')
            out += {'\\', c};
        else if (static_cast<unsigned char>(c) < 0x20)
            out += ' ';
        else
            out += c;
    }
    return out + "\"";
}

/// `"key": value`, value already JSON.
inline std::string field(const std::string& key, const std::string& json_value) {
    return json_string(key) + ": " + json_value;
}
/// `"key": v`, v with 17 significant digits (a double read back exactly).
inline std::string field(const std::string& key, double v) {
    std::ostringstream s;
    s.precision(17);
    s << v;
    return field(key, s.str());
}

/// One JSON line: {"engine": E, "seed": S, "measure": M, <fields>}, flushed at once (the driver
/// reads the lines as they come).
inline void emit(const std::string& engine, std::uint64_t seed, const std::string& measure,
                 const std::vector<std::string>& fields) {
    std::ostringstream line;
    line << "{\"engine\": " << json_string(engine) << ", \"seed\": " << seed
         << ", \"measure\": " << json_string(measure);
    for (const auto& f : fields) line << ", " << f;
    std::cout << line.str() << "}\n" << std::flush;
}

/// The whole of a gzip file; std::runtime_error naming the file when it cannot be read.
inline std::vector<unsigned char> gunzip(const std::string& path) {
    gzFile f = gzopen(path.c_str(), "rb");
    if (!f) throw std::runtime_error(path + ": cannot open");
    std::vector<unsigned char> out;
    std::array<unsigned char, 1 << 16> buf{};
    int got = 0;
    while ((got = gzread(f, buf.data(), static_cast<unsigned>(buf.size()))) > 0)
        out.insert(out.end(), buf.begin(), buf.begin() + got);
    const bool failed = got < 0;
    gzclose(f);
    if (failed) throw std::runtime_error(path + ": not a readable gzip file");
    return out;
}

inline std::uint32_t big_endian(const std::vector<unsigned char>& raw, std::size_t at) {
    if (raw.size() < at + 4) throw std::runtime_error("IDX header truncated");
    return std::uint32_t{raw[at]} << 24 | std::uint32_t{raw[at + 1]} << 16 |
           std::uint32_t{raw[at + 2]} << 8 | std::uint32_t{raw[at + 3]};
}

/// An IDX image set and its labels: n samples of `pixels` values, sample-major.
struct Images {
    std::int64_t n = 0, pixels = 0;
    std::vector<float> x;             // n × pixels, p / 255 in float32
    std::vector<std::int64_t> label;  // n
};

/// Reads gzip IDX images and labels (std::runtime_error naming the file when they are not).
inline Images load_idx(const std::string& images_path, const std::string& labels_path) {
    const auto raw = gunzip(images_path);
    if (big_endian(raw, 0) != 0x803) throw std::runtime_error(images_path + ": not IDX images");
    Images out;
    out.n = big_endian(raw, 4);
    out.pixels = std::int64_t{big_endian(raw, 8)} * big_endian(raw, 12);
    if (static_cast<std::int64_t>(raw.size()) < 16 + out.n * out.pixels)
        throw std::runtime_error(images_path + ": truncated");
    out.x.resize(static_cast<std::size_t>(out.n * out.pixels));
    for (std::size_t i = 0; i < out.x.size(); ++i)
        out.x[i] = static_cast<float>(raw[16 + i]) / 255.0F;
    const auto labels = gunzip(labels_path);
    if (big_endian(labels, 0) != 0x801 || big_endian(labels, 4) != out.n ||
        static_cast<std::int64_t>(labels.size()) < 8 + out.n)
        throw std::runtime_error(labels_path + ": not an IDX label file for the images");
    out.label.resize(static_cast<std::size_t>(out.n));
    for (std::size_t i = 0; i < out.label.size(); ++i) out.label[i] = labels[8 + i];
    return out;
}

/// Keeps the first `limit` samples (all when limit is 0 or not below n).
inline void keep_first(Images& d, std::int64_t limit) {
    if (limit <= 0 || limit >= d.n) return;
    d.n = limit;
    d.x.resize(static_cast<std::size_t>(limit * d.pixels));
    d.label.resize(static_cast<std::size_t>(limit));
}

/// The BLAS's part of a peer's report, as JSON fields (without braces): "sgemm" (the file that
/// provides sgemm_ as the dynamic linker resolves it, or null), "openblas" (whether that file is
/// OpenBLAS's), and OpenBLAS's "openblas_config", "openblas_core" and "openblas_threads" (null
/// otherwise), after openblas_set_num_threads(threads). Call it once the BLAS is loaded.
inline std::string blas_fields(int threads) {
    std::string provider = "null";
    bool openblas = false;
    if (void* sgemm = dlsym(RTLD_DEFAULT, "sgemm_")) {
        Dl_info info{};
        if (dladdr(sgemm, &info) != 0 && info.dli_fname != nullptr) {
            std::array<char, PATH_MAX> real{};
            const char* path = realpath(info.dli_fname, real.data()) ? real.data() : info.dli_fname;
            provider = json_string(path);
            openblas = std::string(path).find("openblas") != std::string::npos;
        }
    }
    std::string core = "null", config = "null", blas_threads = "null";
    if (openblas) {
        using Text = char* (*)();
        using SetInt = void (*)(int);
        using GetInt = int (*)();
        if (auto f = reinterpret_cast<Text>(dlsym(RTLD_DEFAULT, "openblas_get_corename")))
            core = json_string(f());
        if (auto f = reinterpret_cast<Text>(dlsym(RTLD_DEFAULT, "openblas_get_config")))
            config = json_string(f());
        if (auto f = reinterpret_cast<SetInt>(dlsym(RTLD_DEFAULT, "openblas_set_num_threads")))
            f(threads);
        if (auto f = reinterpret_cast<GetInt>(dlsym(RTLD_DEFAULT, "openblas_get_num_threads")))
            blas_threads = std::to_string(f());
    }
    return field("sgemm", provider) + ", " + field("openblas", openblas ? "true" : "false") + ", " +
           field("openblas_config", config) + ", " + field("openblas_core", core) + ", " +
           field("openblas_threads", blas_threads);
}

/// The median of the values, as Python's statistics.median (the mean of the middle two for an
/// even count); 0 for none.
inline double median(std::vector<double> v) {
    if (v.empty()) return 0;
    std::sort(v.begin(), v.end());
    const std::size_t mid = v.size() / 2;
    return v.size() % 2 == 1 ? v[mid] : (v[mid - 1] + v[mid]) / 2;
}

}  // namespace peer
