// Memory an attacker controls (issue "Hostile inputs II"): every loader's memory follows the bytes
// it has read, never a size a header announces, and stops at a byte limit (default_max_bytes, or
// the max_bytes a caller passes) with a FormatError naming the function, the file and the limit —
// a header claiming 2^31 labels over a short file, a gzip bomb, an endless line or a sparse file
// of gigabytes; and fit / distill with batch_size = INT64_MAX allocate for the data, not the
// option.
//
// Each hostile load runs in a forked child under setrlimit(RLIMIT_AS) of 512 MiB, so a loader
// that trusted a header or inflated without a limit fails with std::bad_alloc there (reported
// back through a pipe) instead of taking the test runner's memory. AddressSanitizer reserves
// terabytes of address space for its shadow memory, so under ASan the child runs without the
// limit (only that part is skipped): the typed errors are still checked, and ASan's own
// allocation checks stand in for the limit.

#include <catch2/catch.hpp>

#include <chrysalis/checkpoint.hpp>
#include <chrysalis/data.hpp>
#include <chrysalis/int8_file.hpp>
#include <chrysalis/serialize.hpp>

#include "hostile_support.hpp"
#include "temp_dir.hpp"

#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <limits>
#include <new>
#include <random>
#include <string>
#include <string_view>
#include <typeinfo>
#include <vector>
#include "test_file_namespace.hpp"

#if defined(__SANITIZE_ADDRESS__)
#define CHRYSALIS_TEST_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define CHRYSALIS_TEST_ASAN 1
#endif
#endif
#ifndef CHRYSALIS_TEST_ASAN
#define CHRYSALIS_TEST_ASAN 0
#endif

namespace CHRYSALIS_TEST_FILE {

using namespace chrysalis;
using Catch::Matchers::Contains;
using chrysalis::test::small_set;
using chrysalis::test::SmallNet;
using chrysalis::test::TempDir;
namespace fs = std::filesystem;

namespace {

constexpr std::uint64_t MiB = std::uint64_t(1) << 20;
constexpr std::uint64_t address_limit = 512 * MiB;

/// How a call ended in the child: "none" (returned), "FormatError", "IoError", "ValueError",
/// "ShapeError", "Error" (another chrysalis::Error), "bad_alloc", "exception" (anything else),
/// or "died" (a signal or an exit code other than 0); and the exception's message.
struct Outcome {
    std::string kind;
    std::string message;
};

/// The process's address space now, from /proc/self/statm (0 if it cannot be read).
std::uint64_t address_space_now() {
    std::ifstream statm("/proc/self/statm");
    std::uint64_t pages = 0;
    statm >> pages;
    return pages * std::uint64_t(::sysconf(_SC_PAGESIZE));
}

/// Runs f in a forked child whose address space is limited to 512 MiB (or, should the test
/// runner already map more than 256 MiB — thread stacks and malloc arenas of earlier tests —,
/// to 256 MiB above what it maps), and returns how it ended.
Outcome in_limited_child(const std::function<void()>& f) {
    int fds[2];
    REQUIRE(::pipe(fds) == 0);
    const std::uint64_t limit = std::max(address_limit, address_space_now() + 256 * MiB);
    std::fflush(nullptr);
    const pid_t pid = ::fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
        ::close(fds[0]);
        if (!CHRYSALIS_TEST_ASAN) {
            const rlimit r{limit, limit};
            if (::setrlimit(RLIMIT_AS, &r) != 0) ::_exit(3);
        }
        std::string report;
        try {
            f();
            report = "none\n";
        } catch (const FormatError& e) {
            report = std::string("FormatError\n") + e.what();
        } catch (const IoError& e) {
            report = std::string("IoError\n") + e.what();
        } catch (const ValueError& e) {
            report = std::string("ValueError\n") + e.what();
        } catch (const ShapeError& e) {
            report = std::string("ShapeError\n") + e.what();
        } catch (const Error& e) {
            report = std::string("Error\n") + e.what();
        } catch (const std::bad_alloc&) {
            report = "bad_alloc\n";
        } catch (const std::exception& e) {
            report = std::string("exception\n") + typeid(e).name() + ": " + e.what();
        }
        for (std::size_t done = 0; done < report.size();) {
            const ::ssize_t n = ::write(fds[1], report.data() + done, report.size() - done);
            if (n < 0 && errno == EINTR) continue;
            if (n <= 0) ::_exit(4);
            done += std::size_t(n);
        }
        ::_exit(0);  // no destructors, no atexit: the parent's TempDir stays
    }
    ::close(fds[1]);
    std::string text;
    char buffer[4096];
    for (;;) {
        const ::ssize_t n = ::read(fds[0], buffer, sizeof buffer);
        if (n > 0) {
            text.append(buffer, std::size_t(n));
        } else if (n == 0 || errno != EINTR) {
            break;
        }
    }
    ::close(fds[0]);
    int status = 0;
    while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        return {"died", WIFSIGNALED(status) ? "signal " + std::to_string(WTERMSIG(status))
                                            : "exit code " + std::to_string(WEXITSTATUS(status))};
    }
    const std::size_t end = text.find('\n');
    return {text.substr(0, end), end == std::string::npos ? "" : text.substr(end + 1)};
}

/// The message of the FormatError f throws in a memory-limited child; fails the test for any
/// other outcome (std::bad_alloc above all: the loader allocated what the file does not hold).
std::string format_error_in_child(const std::function<void()>& f) {
    const Outcome outcome = in_limited_child(f);
    INFO("outcome: " << outcome.kind << ": " << outcome.message);
    CHECK(outcome.kind == "FormatError");
    return outcome.message;
}

/// A gzip file written as it is deflated, so that gigabytes of output cost no memory.
class GzipWriter {
  public:
    explicit GzipWriter(const std::string& path, int level = 9) : out_(path, std::ios::binary) {
        REQUIRE(out_);
        REQUIRE(deflateInit2(&z_, level, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) == Z_OK);
    }
    GzipWriter(const GzipWriter&) = delete;
    GzipWriter& operator=(const GzipWriter&) = delete;
    ~GzipWriter() { deflateEnd(&z_); }

    void write(std::string_view bytes) { pump(bytes, Z_NO_FLUSH); }
    /// Ends this gzip member; with `another`, starts a new one in the same file (gzip readers,
    /// zlib's gzread among them, read the members one after the other as one stream).
    void finish(bool another = false) {
        pump({}, Z_FINISH);
        if (another) REQUIRE(deflateReset(&z_) == Z_OK);
    }
    /// The bytes of the file so far.
    std::uint64_t written() const { return written_; }

  private:
    void pump(std::string_view bytes, int flush) {
        z_.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(bytes.data()));
        z_.avail_in = uInt(bytes.size());
        for (;;) {
            char buffer[1 << 16];
            z_.next_out = reinterpret_cast<Bytef*>(buffer);
            z_.avail_out = sizeof buffer;
            const int r = deflate(&z_, flush);
            REQUIRE((r == Z_OK || r == Z_STREAM_END || r == Z_BUF_ERROR));
            const std::size_t n = sizeof buffer - z_.avail_out;
            out_.write(buffer, std::streamsize(n));
            written_ += n;
            if (flush == Z_FINISH ? r == Z_STREAM_END : z_.avail_in == 0 && z_.avail_out != 0)
                break;
        }
    }
    std::ofstream out_;
    z_stream z_{};
    std::uint64_t written_ = 0;
};

/// A gzip bomb: `head`, then `unit` repeated to `total` bytes in all, as gzip members of 64 MiB
/// each, the first deflated once and copied (members decompress one after the other), so a
/// gigabyte costs a fraction of a second to write and about a megabyte on disk.
void write_bomb(const std::string& path, std::string_view head, std::string_view unit,
                std::uint64_t total) {
    std::string block;
    while (block.size() < MiB) block += unit;
    block.resize(MiB - MiB % unit.size());
    const std::string member_path = path + ".member";
    std::uint64_t member_bytes = 0;
    {
        GzipWriter writer(member_path);
        for (int i = 0; i < 64; ++i) {
            writer.write(block);
            member_bytes += block.size();
        }
        writer.finish();
    }
    std::ifstream in(member_path, std::ios::binary);
    const std::string member((std::istreambuf_iterator<char>(in)),
                             std::istreambuf_iterator<char>());
    fs::remove(member_path);
    {
        GzipWriter first(path);
        first.write(head);
        first.finish();
    }
    std::ofstream out(path, std::ios::binary | std::ios::app);
    for (std::uint64_t done = head.size(); done < total; done += member_bytes)
        out.write(member.data(), std::streamsize(member.size()));
    REQUIRE(out);
}

/// `n` random bytes (incompressible: a gzip file of them is as large as they are).
std::string random_bytes(std::size_t n, unsigned seed) {
    std::mt19937_64 rng(seed);
    std::string bytes(n, '\0');
    for (std::size_t i = 0; i < n; i += 8) {
        const std::uint64_t r = rng();
        for (std::size_t k = 0; k < 8 && i + k < n; ++k) bytes[i + k] = char(r >> (8 * k));
    }
    return bytes;
}

std::string be32(std::uint32_t v) {
    return {char(v >> 24), char(v >> 16), char(v >> 8), char(v)};
}
std::string idx_images_header(std::uint32_t n, std::uint32_t rows, std::uint32_t cols) {
    return be32(0x803) + be32(n) + be32(rows) + be32(cols);
}
std::string idx_labels_header(std::uint32_t n) {
    return be32(0x801) + be32(n);
}

void write_text(const std::string& path, std::string_view text) {
    std::ofstream out(path, std::ios::binary);
    out.write(text.data(), std::streamsize(text.size()));
    REQUIRE(out);
}

void write_gzip(const std::string& path, std::string_view head, std::string_view body,
                int level = 1) {
    GzipWriter gz(path, level);
    gz.write(head);
    gz.write(body);
    gz.finish();
}

}  // namespace

TEST_CASE("load_idx: a header claiming 2^31 labels over a short gzip file is truncated, not 2 GiB",
          "[memory][idx]") {
    // The case: about 2.2 MB of gzip, which deflate's 1032:1 bound lets announce 2^31
    // bytes; the old loader zero-filled 2 GiB of labels before noticing the data was short.
    TempDir dir;
    const std::string images = dir.file("images.idx.gz"), labels = dir.file("labels.idx.gz");
    const std::uint32_t n = 0x80000000u;
    write_gzip(images, idx_images_header(n, 1, 1), random_bytes(2200000, 1));
    write_gzip(labels, idx_labels_header(n), random_bytes(2200000, 2));
    REQUIRE(fs::file_size(labels) < 2400000);
    const std::string message =
        format_error_in_child([&] { (void)load_idx<float>(images, labels); });
    CHECK_THAT(message, Contains("chrysalis::load_idx") && Contains(labels) &&
                            Contains("truncated: the data ends after 2200000 of the 2147483648 "
                                     "labels"));
}

TEST_CASE("load_idx: images announced beyond what the gzip file holds are truncated, not 16 GiB",
          "[memory][idx]") {
    // 2^20 images of 63 × 64 pixels: 4.2 GB, within the default limit and within what 4.2 MB of
    // gzip may hold; the features would be 16 GiB of floats. The data is 4.2 MB.
    TempDir dir;
    const std::string images = dir.file("images.idx.gz"), labels = dir.file("labels.idx");
    const std::uint32_t n = 1u << 20;
    write_gzip(images, idx_images_header(n, 63, 64), random_bytes(4200000, 3));
    write_text(labels, idx_labels_header(n) + std::string(n, '\0'));
    const std::string message =
        format_error_in_child([&] { (void)load_idx<float>(images, labels); });
    CHECK_THAT(message, Contains("chrysalis::load_idx") && Contains(images) &&
                            Contains("truncated: the data ends in image 1041 of the 1048576 "
                                     "images of 63×64 pixels"));
}

TEST_CASE("load_idx: a gzip bomb is refused by the byte limit or found longer than announced",
          "[memory][idx]") {
    TempDir dir;
    const std::string images = dir.file("bomb.idx.gz"), labels = dir.file("labels.idx");
    SECTION("header sizes beyond an explicit limit: refused before reading") {
        // 2^16 images of 64 × 64: 256 MiB of zeros, as a gzip file of about 256 KiB.
        write_bomb(images, idx_images_header(1u << 16, 64, 64), std::string(4096, '\0'),
                   16 + 256 * MiB);
        write_text(labels, idx_labels_header(1u << 16) + std::string(1u << 16, '\0'));
        INFO("the bomb: " << fs::file_size(images) << " bytes");
        const std::string message = format_error_in_child(
            [&] { (void)load_idx<float>(images, labels, {.max_bytes = 64 * MiB}); });
        CHECK_THAT(message, Contains("chrysalis::load_idx") && Contains(images) &&
                                Contains("more than the byte limit of 67108864 bytes "
                                         "(IdxOptions::max_bytes)"));
    }
    SECTION("a header announcing less than the bomb holds: data after it, read no further") {
        // 4 MiB announced, 1 GiB of zeros in the file.
        write_bomb(images, idx_images_header(1u << 10, 64, 64), std::string(4096, '\0'),
                   16 + 1024 * MiB);
        write_text(labels, idx_labels_header(1u << 10) + std::string(1u << 10, '\0'));
        const std::string message =
            format_error_in_child([&] { (void)load_idx<float>(images, labels); });
        CHECK_THAT(message, Contains(images) && Contains("data after the 1024 images of 64×64"));
    }
}

TEST_CASE("load_csv: a gzip bomb of zeros is refused after one field, under the default limit",
          "[memory][csv]") {
    // 1 GiB of NUL bytes, one line without a delimiter: the old loader read the whole text.
    TempDir dir;
    const std::string path = dir.file("zeros.csv.gz");
    write_bomb(path, "", std::string(4096, '\0'), 1024 * MiB);
    INFO("the bomb: " << fs::file_size(path) << " bytes");
    const std::string message = format_error_in_child([&] { (void)load_csv<float>(path); });
    CHECK_THAT(message, Contains("chrysalis::load_csv") && Contains(path) &&
                            Contains("line 1, column 1: a field of more than 4096 bytes"));
}

TEST_CASE("load_csv: a gzip bomb of valid rows stops inflating at CsvOptions::max_bytes",
          "[memory][csv]") {
    // 1 GiB of "0.5,1\n" rows; the limit stops the inflating at 32 MiB, with what was parsed so
    // far (5.6 million samples, 45 MB of values and labels) well under the 512 MiB.
    TempDir dir;
    const std::string path = dir.file("rows.csv.gz");
    write_bomb(path, "x,label\n", "0.5,1\n", 1024 * MiB);
    const std::string message = format_error_in_child(
        [&] { (void)load_csv<float>(path, {.header = true, .max_bytes = 32 * MiB}); });
    CHECK_THAT(message, Contains("chrysalis::load_csv") && Contains(path) &&
                            Contains("decompresses to more than 33554432 bytes, the byte limit "
                                     "(CsvOptions::max_bytes)"));
}

TEST_CASE("load_csv: an endless line is refused at the byte limit", "[memory][csv]") {
    TempDir dir;
    SECTION("a raw file larger than the limit: refused before a byte is read") {
        // One line of 32 million numbers, 64 MiB.
        const std::string path = dir.file("line.csv");
        {
            std::string line;
            line.reserve(64 * MiB);
            while (line.size() < 64 * MiB - 2) line += "1,";
            line += "1";
            write_text(path, line);
        }  // freed before the children are forked
        const std::string message =
            format_error_in_child([&] { (void)load_csv<float>(path, {.max_bytes = 16 * MiB}); });
        CHECK_THAT(message, Contains(path) && Contains("has 67108863 bytes, more than the byte "
                                                       "limit of 16777216 bytes "
                                                       "(CsvOptions::max_bytes)"));
        // Under the default limit it is one sample of 33,554,431 features: 128 MiB of floats,
        // which the 512 MiB hold (the old loader held the text and two copies of the values).
        const Outcome outcome = in_limited_child([&] {
            const auto data = load_csv<float>(path);
            if (data.feature_count() != 33554431 || data.size() != 1) ::_exit(5);
        });
        INFO(outcome.kind << ": " << outcome.message);
        CHECK(outcome.kind == "none");
    }
    SECTION("a gzip line of 1 GiB of numbers: the parse stops at the limit") {
        const std::string path = dir.file("line.csv.gz");
        write_bomb(path, "", "1,", 1024 * MiB);
        const std::string message =
            format_error_in_child([&] { (void)load_csv<float>(path, {.max_bytes = 32 * MiB}); });
        CHECK_THAT(message, Contains(path) && Contains("decompresses to more than 33554432 bytes"));
    }
}

TEST_CASE("every loader refuses a sparse file beyond the default limit before reading it",
          "[memory][files]") {
    // 5 GiB that take no disk: the old read_file reserved the file's size before reading.
    TempDir dir;
    const std::string huge = dir.file("huge");
    { std::ofstream create(huge); }
    fs::resize_file(huge, 5 * 1024 * MiB);
    Dataset<float> tiny = small_set(3);
    tiny.features = tiny.features.cwiseMin(1.0f);
    save_idx(tiny, 2, 2, dir.file("i.idx"), dir.file("l.idx"));
    fs::create_directory(dir.file("blocks"));
    { std::ofstream create(dir.file("blocks/0_0.npy")); }
    fs::resize_file(dir.file("blocks/0_0.npy"), 5 * 1024 * MiB);
    const std::string limit = "more than the byte limit of 4294967296 bytes";
    const std::vector<std::pair<std::string, std::function<void()>>> loaders{
        {"chrysalis::load",
         [&] {
             SmallNet net;
             load(net, huge);
         }},
        {"chrysalis::load_npy", [&] { (void)load_npy<float>(huge); }},
        {"chrysalis::load_int8", [&] { (void)load_int8(huge); }},
        {"chrysalis::import_npy",
         [&] {
             SmallNet net;
             import_npy(net, dir.file("blocks"));
         }},
        {"chrysalis::load_checkpoint",
         [&] {
             SmallNet net;
             Sgd sgd{};
             (void)load_checkpoint(net, sgd, huge);
         }},
        {"chrysalis::load_csv", [&] { (void)load_csv<float>(huge); }},
        {"chrysalis::load_idx", [&] { (void)load_idx<float>(huge, dir.file("l.idx")); }},
        {"chrysalis::load_idx", [&] { (void)load_idx<float>(dir.file("i.idx"), huge); }},
    };
    for (const auto& [name, load_it] : loaders) {
        INFO(name);
        const std::string message = format_error_in_child(load_it);
        CHECK_THAT(message, Contains(name) && Contains("has 5368709120 bytes") && Contains(limit) &&
                                Contains("refused before reading it"));
    }
}

TEST_CASE("load_int8: layers announced beyond what the file holds are refused, not allocated",
          "[memory][files]") {
    // An int8 model file whose first layer claims 133,144 inputs and 2^40 (then 60,000) outputs
    // over a file of a few hundred bytes, with a correct size and checksum: 140 TB (then 8 GB)
    // of weights that the loader must not allocate before finding them missing.
    TempDir dir;
    std::string body = detail::encode_int8_model(quantize(SmallNet(Seed{2})));
    body.resize(body.size() - 4);
    for (const std::uint64_t outputs : {std::uint64_t(1) << 40, std::uint64_t(60000)}) {
        INFO(outputs << " outputs");
        std::string bytes = body;
        std::string sizes;
        detail::put_le(sizes, std::uint64_t(133144));
        detail::put_le(sizes, outputs);
        bytes.replace(25, 16, sizes);
        std::string length;
        detail::put_le(length, std::uint64_t(bytes.size() + 4));
        bytes.replace(12, 8, length);
        detail::put_le(bytes, detail::crc32(bytes));
        test::write_bytes(dir.file("q"), bytes);
        const std::string message = format_error_in_child([&] { (void)load_int8(dir.file("q")); });
        CHECK_THAT(message, Contains("chrysalis::load_int8") &&
                                Contains("is corrupt: layer 0 is " + std::to_string(outputs) +
                                         " x 133144, more than the"));
    }
}

TEST_CASE("the byte limit is exact: a file of max_bytes loads, one byte more does not",
          "[memory][files]") {
    TempDir dir;
    const SmallNet net(Seed{4});
    const Dataset<float> data = small_set(5);
    save(net, dir.file("m"));
    save_npy(data.features, dir.file("f.npy"));
    save_checkpoint(net, Sgd{}, Checkpoint{}, dir.file("c"));
    save_csv(data, dir.file("d.csv"));
    save_csv(data, dir.file("d.csv.gz"));
    Dataset<float> image_data = small_set(5);
    image_data.features = image_data.features.cwiseMin(1.0f);
    save_idx(image_data, 2, 2, dir.file("i.idx.gz"), dir.file("l.idx"));
    const auto size = [&](const std::string& name) { return fs::file_size(dir.file(name)); };

    SmallNet back;
    load(back, dir.file("m"), size("m"));
    CHECK_THAT(
        test::thrown<FormatError>([&] { load(back, dir.file("m"), size("m") - 1); }),
        Contains("chrysalis::load: '" + dir.file("m") + "' has ") && Contains("(max_bytes)"));
    CHECK(load_npy<float>(dir.file("f.npy"), size("f.npy")) == data.features);
    CHECK_THAT(test::thrown<FormatError>(
                   [&] { (void)load_npy<float>(dir.file("f.npy"), size("f.npy") - 1); }),
               Contains("chrysalis::load_npy") && Contains("byte limit"));
    Sgd sgd{};
    (void)load_checkpoint(back, sgd, dir.file("c"), size("c"));
    CHECK_THAT(test::thrown<FormatError>(
                   [&] { (void)load_checkpoint(back, sgd, dir.file("c"), size("c") - 1); }),
               Contains("chrysalis::load_checkpoint") && Contains("byte limit"));
    CHECK(load_csv<float>(dir.file("d.csv"), {.max_bytes = size("d.csv")}).features ==
          data.features);
    CHECK_THAT(test::thrown<FormatError>([&] {
                   (void)load_csv<float>(dir.file("d.csv"), {.max_bytes = size("d.csv") - 1});
               }),
               Contains("chrysalis::load_csv") && Contains("(CsvOptions::max_bytes)"));
    // A gzip file is held to its decompressed length, which is the raw file's.
    CHECK(load_csv<float>(dir.file("d.csv.gz"), {.max_bytes = size("d.csv")}).features ==
          data.features);
    CHECK_THAT(test::thrown<FormatError>([&] {
                   (void)load_csv<float>(dir.file("d.csv.gz"), {.max_bytes = size("d.csv") - 1});
               }),
               Contains("decompresses to more than"));
    save(quantize(net), dir.file("q"));
    CHECK(load_int8(dir.file("q"), size("q")).dense_count() == 2);
    CHECK_THAT(test::thrown<FormatError>([&] { (void)load_int8(dir.file("q"), size("q") - 1); }),
               Contains("chrysalis::load_int8") && Contains("(max_bytes)"));
    const std::uint64_t idx_bytes = 16 + 5 * 4;  // header and 5 images of 2 × 2
    CHECK(load_idx<float>(dir.file("i.idx.gz"), dir.file("l.idx"), {.max_bytes = idx_bytes})
              .features == load_idx<float>(dir.file("i.idx.gz"), dir.file("l.idx")).features);
    CHECK_THAT(test::thrown<FormatError>([&] {
                   (void)load_idx<float>(dir.file("i.idx.gz"), dir.file("l.idx"),
                                         {.max_bytes = idx_bytes - 1});
               }),
               Contains("(IdxOptions::max_bytes)"));
}

TEST_CASE("load_csv parses lines longer than its read buffer as it reads them", "[memory][csv]") {
    // The parser sees the text 64 KiB at a time; lines of 20,000 features (~120 KB) cross that
    // boundary, with the label first, last, or in the middle.
    TempDir dir;
    const int features = 20000, rows = 4;
    std::mt19937 rng(7);
    std::uniform_real_distribution<float> uniform(-100.0f, 100.0f);
    Matrix<float> expected(features, rows);
    for (Eigen::Index i = 0; i < expected.size(); ++i) expected.data()[i] = uniform(rng);
    for (const int label_column : {-1, 0, 777}) {
        INFO("label column " << label_column);
        std::string text = "header line\r\n";
        for (int j = 0; j < rows; ++j) {
            const int where = label_column == -1 ? features : label_column;
            std::string line;
            for (int c = 0, k = 0; c <= features; ++c) {
                if (c > 0) line += ',';
                line += c == where ? std::to_string(j % 3) : std::to_string(expected(k++, j));
            }
            text += " " + line + " \r\n\n";  // blanks around, CRLF, a blank line
        }
        write_text(dir.file("wide.csv"), text);
        const auto data =
            load_csv<float>(dir.file("wide.csv"), {.label_column = label_column, .header = true});
        REQUIRE(data.feature_count() == features);
        REQUIRE(data.size() == rows);
        CHECK(data.labels == std::vector<int>{0, 1, 2, 0});
        // to_string prints 6 decimals: compare with what the text said.
        for (int j = 0; j < rows; ++j)
            for (int k = 0; k < features; k += 997)
                CHECK(data.features(k, j) == std::stof(std::to_string(expected(k, j))));

        // One row too wide, found while the line streams past: line 4 (the second row) gets a
        // column more at its end.
        std::size_t end = 0;
        for (int k = 0; k < 4; ++k) end = text.find('\n', k == 0 ? 0 : end + 1);
        REQUIRE(text.substr(end - 2, 2) == " \r");
        write_text(dir.file("wide.csv"), text.substr(0, end - 2) + ",1" + text.substr(end - 2));
        CHECK_THAT(test::thrown<FormatError>([&] {
                       (void)load_csv<float>(dir.file("wide.csv"),
                                             {.label_column = label_column, .header = true});
                   }),
                   Contains("line 4 has more than 20001 columns; expected 20001 like line 2"));
    }
}

TEST_CASE("fit and distill with batch_size = INT64_MAX allocate for the data, not the option",
          "[memory][training]") {
    const Dataset<float> data = small_set(12);
    constexpr Eigen::Index huge = std::numeric_limits<Eigen::Index>::max();
    const TrainOptions<float> whole{.epochs = 2, .batch_size = huge, .seed = Seed{5}, .threads = 1};
    TrainOptions<float> twelve = whole;
    twelve.batch_size = 12;
    const auto run = [](const std::function<void()>& f) {
        const Outcome outcome = in_limited_child(f);
        INFO("outcome: " << outcome.kind << ": " << outcome.message);
        CHECK(outcome.kind == "none");
    };
    run([&] {
        SmallNet net(Seed{1});
        Sgd opt{.lr = 0.1};
        (void)fit(net, data, CrossEntropy{}, opt, whole);
    });
    SmallNet teacher(Seed{2});
    const Matrix<float> logits = predict_logits(teacher, data);
    run([&] {
        SmallNet student(Seed{1});
        Sgd opt{.lr = 0.1};
        (void)distill(student, data, logits, Distillation{.temperature = 2, .alpha = 0.5}, opt,
                      whole);
    });
    run([&] {
        SmallNet student(Seed{1});
        Sgd opt{.lr = 0.1};
        (void)distill(student, data, teacher, Distillation{.temperature = 2, .alpha = 0.5}, opt,
                      whole);
    });
    run([&] {
        SmallNet student(Seed{1});
        Sgd opt{.lr = 0.1};
        (void)distill_paired(student, data, teacher, data,
                             Distillation{.temperature = 2, .alpha = 0.5}, opt, whole);
    });
    run([&] {
        SmallNet student(Seed{1});
        Sgd opt{.lr = 0.1};
        (void)distill_with_boundary_samples(student, data, teacher,
                                            Distillation{.temperature = 2, .alpha = 0.5}, opt,
                                            whole, BssOptions{.samples_per_batch = 4});
    });

    // Capped, not merely surviving: one batch of the whole data, as batch_size = N gives.
    SmallNet a(Seed{1}), b(Seed{1});
    Sgd opt_a{.lr = 0.1}, opt_b{.lr = 0.1};
    const auto history_a = fit(a, data, CrossEntropy{}, opt_a, whole);
    const auto history_b = fit(b, data, CrossEntropy{}, opt_b, twelve);
    CHECK(history_a.back().loss == history_b.back().loss);
    CHECK(a.layer<0>().weights() == b.layer<0>().weights());
    Batcher<float> batcher(data, huge);
    CHECK(batcher.batches_per_epoch() == 1);
}

}  // namespace CHRYSALIS_TEST_FILE
