#pragma once
// fuzz/fuzz_common.hpp — what the libFuzzer targets share: a per-process temporary file for the
// loaders that only take a path, gzip compression of an input (to reach a parser through the
// .gz path, which random bytes almost never do), and the rule for what counts as a finding.
//
// A loader's documented failures — chrysalis::Error (IoError, FormatError, ValueError,
// ShapeError) — are expected outcomes and are swallowed. Anything else escapes: a crash, a
// sanitizer report, std::bad_alloc (a loader must check a claimed size against the file before it
// allocates), std::length_error or any other exception, which libFuzzer reports as a crash ("deadly
// signal" after std::terminate).

#include <zlib.h>

#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <stdexcept>
#include <string>
#include <string_view>

#include <chrysalis/errors.hpp>

namespace chrysalis_fuzz {

/// A file "<temp dir>/chrysalis-fuzz-<name>-<pid>" rewritten for every input and removed at
/// exit. The pid keeps parallel fuzzing processes (libFuzzer -jobs/-fork) apart.
class TempFile {
  public:
    explicit TempFile(std::string_view name)
        : path_((std::filesystem::temp_directory_path() /
                 ("chrysalis-fuzz-" + std::string(name) + "-" + std::to_string(::getpid())))
                    .string()) {}
    TempFile(const TempFile&) = delete;
    TempFile& operator=(const TempFile&) = delete;
    ~TempFile() {
        std::error_code ignored;
        std::filesystem::remove(path_, ignored);
    }

    /// Replaces the file's contents by `bytes`; aborts if that fails (a harness fault, not a
    /// finding in the library, but it must not pass silently).
    const std::string& write(std::string_view bytes) const {
        std::FILE* f = std::fopen(path_.c_str(), "wb");
        if (f == nullptr || std::fwrite(bytes.data(), 1, bytes.size(), f) != bytes.size() ||
            std::fclose(f) != 0) {
            std::perror(path_.c_str());
            std::abort();
        }
        return path_;
    }
    [[nodiscard]] const std::string& path() const noexcept { return path_; }

  private:
    std::string path_;
};

/// `bytes` as one gzip member (deflate level `level`, 0..9), as `gzip` or chrysalis's own writer
/// would produce it.
inline std::string gzip(std::string_view bytes, int level = 6) {
    z_stream z{};
    if (deflateInit2(&z, level, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK) std::abort();
    std::string out(deflateBound(&z, uLong(bytes.size())) + 32, '\0');
    z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(bytes.data()));
    z.avail_in = uInt(bytes.size());
    z.next_out = reinterpret_cast<Bytef*>(out.data());
    z.avail_out = uInt(out.size());
    if (deflate(&z, Z_FINISH) != Z_STREAM_END) std::abort();
    out.resize(z.total_out);
    deflateEnd(&z);
    return out;
}

/// Runs `load`, swallowing the failures the loaders document (chrysalis::Error, the base of every
/// exception the library throws for bad input). Returns whether it succeeded.
/// With the environment variable CHRYSALIS_FUZZ_VERBOSE set (to anything), each outcome is
/// printed to stderr — "accepted" or "rejected: <message>" — to see what a seed or a crash input
/// does when it is run alone.
template <class F>
bool expect_clean(F&& load) {
    static const bool verbose = std::getenv("CHRYSALIS_FUZZ_VERBOSE") != nullptr;
    try {
        load();
        if (verbose) std::fprintf(stderr, "accepted\n");
        return true;
    } catch (const chrysalis::Error& e) {
        if (verbose) std::fprintf(stderr, "rejected: %s\n", e.what());
    }
    return false;
}

/// Aborts with a message: for a property the harness checks (a round trip that differs).
[[noreturn]] inline void finding(const char* what) {
    std::fprintf(stderr, "chrysalis fuzz finding: %s\n", what);
    std::abort();
}

}  // namespace chrysalis_fuzz
