#pragma once
// chrysalis/detail/data_idx.hpp — reading and writing IDX files of unsigned bytes, the format of
// MNIST and Fashion-MNIST (LeCun et al.): a big-endian header, then the data.
//
//   images: 00 00 08 03 | N | rows | cols | N·rows·cols pixels, image by image, each row-major
//   labels: 00 00 08 01 | N | N labels
//
// (magic byte 3 = 0x08: unsigned bytes; byte 4 = the number of dimensions; sizes are 32-bit.)

#include "chrysalis/isa.hpp"  // first: see its note on GCC bug 105593

#include <Eigen/Core>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include "chrysalis/config.hpp"
#include "chrysalis/detail/data_io.hpp"
#include "chrysalis/errors.hpp"
#include "chrysalis/tensor.hpp"

namespace chrysalis::inline CHRYSALIS_ISA_NAMESPACE::detail {

/// How much deflate can expand its input at most (RFC 1951: 258 bytes from 2 bits, about 1032:1):
/// a gzip file of S bytes holds at most 1032·S bytes.
inline constexpr std::uint64_t deflate_max_ratio = 1032;

[[nodiscard]] inline std::uint32_t get_be32(const unsigned char* p) noexcept {
    return std::uint32_t(p[0]) << 24 | std::uint32_t(p[1]) << 16 | std::uint32_t(p[2]) << 8 |
           std::uint32_t(p[3]);
}

inline void put_be32(unsigned char* p, std::uint32_t v) noexcept {
    p[0] = static_cast<unsigned char>(v >> 24);
    p[1] = static_cast<unsigned char>(v >> 16);
    p[2] = static_cast<unsigned char>(v >> 8);
    p[3] = static_cast<unsigned char>(v);
}

/// Reads the magic number and the `dims` sizes of an IDX file of unsigned bytes; `layout` says
/// what the dimensions are, for the messages.
/// Throws FormatError for a file shorter than its header, a magic other than 0x000008xx (not an
/// IDX file of unsigned bytes) or a dimension count other than `dims`.
inline std::array<std::uint32_t, 3> read_idx_header(InputFile& in, int dims,
                                                    std::string_view layout) {
    unsigned char header[16];
    const std::size_t need = 4 + 4 * std::size_t(dims);
    const std::size_t got = in.read(header, need);
    const auto expected = std::uint32_t(0x800 + dims);
    const std::string expectation =
        concat("; expected the IDX magic ", hex32(expected), " (unsigned bytes, ", dims,
               " dimensions: ", layout, ")");
    if (got < 4)
        throw FormatError(in.prefix() + concat("truncated: the file has ", got,
                                               " bytes, fewer than the 4-byte magic number",
                                               expectation));
    const std::uint32_t magic = get_be32(header);
    if ((magic >> 8) != 0x08)
        throw FormatError(in.prefix() + "wrong magic number " + hex32(magic) + expectation);
    if (int(magic & 0xFF) != dims) {
        throw FormatError(in.prefix() + concat("wrong dimension count: the magic number ",
                                               hex32(magic), " says ", magic & 0xFF, " dimensions",
                                               expectation));
    }
    if (got < need) {
        throw FormatError(in.prefix() + concat("truncated header: ", got, " bytes; expected ", need,
                                               " (the magic number and ", dims, " 32-bit sizes)"));
    }
    std::array<std::uint32_t, 3> sizes{};
    for (int d = 0; d < dims; ++d) sizes[std::size_t(d)] = get_be32(header + 4 + 4 * d);
    return sizes;
}

/// Throws FormatError unless `bytes` bytes of data after a `header`-byte header can be in `in`:
/// header and data together must fit in the byte limit (IdxOptions::max_bytes); a raw file must
/// be that long; a gzip file cannot hold more than deflate_max_ratio times its size (this
/// catches a corrupt header before anything is read).
inline void check_data_fits(const InputFile& in, std::uint64_t header, std::uint64_t bytes,
                            const std::string& description) {
    const std::uint64_t size = in.file_size();
    if (header + bytes > in.max_bytes()) {
        throw FormatError(in.prefix() +
                          concat("the header announces ", description, " (", header + bytes,
                                 " bytes with the header), more than the byte limit of ",
                                 in.max_bytes(), " bytes (", in.limit_name(),
                                 "); refused before reading them (raise ", in.limit_name(),
                                 " to load a larger file)"));
    }
    if (!in.compressed() && size < header + bytes) {
        throw FormatError(in.prefix() + concat("truncated: the header announces ", description,
                                               " (", bytes, " bytes after the ", header,
                                               "-byte header) but the file has ", size - header,
                                               "; expected a file of ", header + bytes, " bytes"));
    }
    if (in.compressed() && header + bytes > deflate_max_ratio * size + 64) {
        throw FormatError(in.prefix() +
                          concat("the header announces ", description, " (", bytes,
                                 " bytes), more than a gzip file of ", size,
                                 " bytes can hold; the file is truncated or its header corrupt"));
    }
}

/// Reads `n` bytes of `in` into `bytes`, which grows geometrically (from 1 MiB, doubling) as
/// they arrive, so a header announcing more than the file holds costs no more than what is
/// there. Returns how many were read: fewer than n when the data ends early.
inline std::uint64_t read_growing(InputFile& in, std::vector<unsigned char>& bytes,
                                  std::uint64_t n) {
    bytes.clear();
    std::size_t done = 0;  // at most bytes.size()
    while (done < n) {
        if (done == bytes.size()) {
            bytes.resize(std::size_t(std::min(
                n, std::max<std::uint64_t>(2 * std::uint64_t{done}, std::uint64_t(1) << 20))));
        }
        const std::size_t want = bytes.size() - done;
        const std::size_t got = in.read(bytes.data() + done, want);
        done += got;
        if (got < want) break;
    }
    bytes.resize(done);
    return done;
}

/// Reads an IDX image file and its label file into features (rows·cols × N, one image per column,
/// row-major pixels, divided by 255 when `scale`) and labels (N values below `classes`). Neither
/// file may hold more than `max_bytes` bytes (decompressed, header included). Memory follows the
/// data actually read, not the header's sizes: the labels and the features grow geometrically as
/// they arrive, so a header announcing 2^31 labels over a short file fails as truncated after
/// reading what is there.
/// Throws IoError / FormatError as documented on chrysalis::load_idx; ValueError for
/// classes < 1.
template <class Scalar>
void read_idx(const std::string& images_path, const std::string& labels_path, bool scale,
              int classes, Matrix<Scalar>& features, std::vector<int>& labels,
              std::uint64_t max_bytes = default_max_bytes) {
    constexpr std::string_view what = "chrysalis::load_idx";
    constexpr std::string_view limit = "IdxOptions::max_bytes";
    if (classes < 1)
        throw ValueError(concat(what, ": IdxOptions::classes must be >= 1, got ", classes));
    InputFile images(images_path, what, max_bytes, limit);
    const auto dims = read_idx_header(images, 3, "images × rows × columns");
    InputFile label_file(labels_path, what, max_bytes, limit);
    const std::uint64_t label_count = read_idx_header(label_file, 1, "one label per image")[0];

    const std::uint64_t n = dims[0], rows = dims[1], cols = dims[2];
    if (rows == 0 || cols == 0) {
        throw FormatError(images.prefix() +
                          concat("images of ", rows, "×", cols, " pixels; expected at least 1×1"));
    }
    const std::uint64_t pixels = rows * cols;  // < 2^64: both sizes are below 2^32
    const std::uint64_t most = std::uint64_t(PTRDIFF_MAX) / sizeof(Scalar);
    if (pixels > most || (n != 0 && pixels > most / n)) {
        throw FormatError(images.prefix() +
                          concat("the sizes ", n, " × ", rows, " × ", cols,
                                 " overflow: more pixels than this machine can address; expected "
                                 "sizes whose product fits in memory"));
    }
    if (label_count != n) {
        throw FormatError(concat(what, ": '", images_path, "' holds ", n, " images but '",
                                 labels_path, "' holds ", label_count,
                                 " labels; expected one label per image"));
    }
    const std::string image_description = concat(n, " images of ", rows, "×", cols, " pixels");
    const std::uint64_t total = n * pixels;
    check_data_fits(images, 16, total, image_description);
    check_data_fits(label_file, 8, n, concat(n, " labels"));

    // The labels first: they are small, and a bad one fails before the large read.
    std::vector<unsigned char> bytes;
    const std::uint64_t got = read_growing(label_file, bytes, n);
    if (got < n) {
        throw FormatError(label_file.prefix() + concat("truncated: the data ends after ", got,
                                                       " of the ", n,
                                                       " labels the header announces"));
    }
    if (!label_file.at_end()) {
        throw FormatError(label_file.prefix() +
                          concat("data after the ", n,
                                 " labels the header announces; expected the file to end there"));
    }
    labels.resize(std::size_t(n));  // the labels are all there: n is confirmed
    for (std::size_t i = 0; i < n; ++i) {
        if (bytes[i] >= classes) {
            throw FormatError(label_file.prefix() +
                              concat("label ", int(bytes[i]), " of sample ", i, " is outside [0, ",
                                     classes,
                                     "); expected labels below IdxOptions::classes = ", classes));
        }
        labels[i] = bytes[i];
    }

    // The pixels, 1 MiB at a time, through a table of the 256 values, into features that grow
    // geometrically with the pixels read (never beyond the n·rows·cols announced).
    std::array<Scalar, 256> table;
    for (int v = 0; v < 256; ++v)
        table[std::size_t(v)] = scale ? Scalar(v) / Scalar(255) : Scalar(v);
    bytes.assign(std::size_t(std::min<std::uint64_t>(total, std::uint64_t(1) << 20)), 0);
    bytes.shrink_to_fit();
    GrowingValues<Scalar> values;
    for (std::uint64_t done = 0; done < total;) {
        const std::size_t want = std::size_t(std::min<std::uint64_t>(bytes.size(), total - done));
        const std::size_t read = images.read(bytes.data(), want);
        Scalar* out = values.extend(read, total);
        for (std::size_t k = 0; k < read; ++k) out[k] = table[bytes[k]];
        done += read;
        if (read < want) {
            throw FormatError(images.prefix() + concat("truncated: the data ends in image ",
                                                       done / pixels, " of the ", image_description,
                                                       " the header announces"));
        }
    }
    if (!images.at_end()) {
        throw FormatError(images.prefix() +
                          concat("data after the ", image_description,
                                 " the header announces; expected the file to end there"));
    }
    features = values.take(Eigen::Index(pixels), Eigen::Index(n));
}

/// Writes features (rows·cols × N) and labels as an IDX image file and an IDX label file, gzip
/// when a path ends in ".gz". Every value is checked before either file is opened.
/// Throws ValueError / ShapeError for values or shapes that IDX bytes cannot hold (see
/// chrysalis::save_idx), IoError when a file cannot be written.
template <class Scalar>
void write_idx(const Matrix<Scalar>& features, std::span<const int> labels, int rows, int cols,
               const std::string& images_path, const std::string& labels_path, bool scaled) {
    constexpr std::string_view what = "chrysalis::save_idx";
    if (rows < 1 || cols < 1) {
        throw ValueError(
            concat(what, ": rows and cols must be >= 1, got rows = ", rows, ", cols = ", cols));
    }
    const Eigen::Index pixels = Eigen::Index(rows) * cols, n = features.cols();
    if (features.rows() != pixels) {
        throw ShapeError(concat(what, ": the data has ", features.rows(),
                                " features per sample but rows × cols = ", rows, " × ", cols, " = ",
                                pixels, "; expected them equal"));
    }
    if (Eigen::Index(labels.size()) != n || std::uint64_t(n) > 0xFFFFFFFFu) {
        throw ShapeError(
            concat(what, ": ", labels.size(), " labels for ", n,
                   " samples; expected one label per sample and at most 2^32 - 1 samples"));
    }
    // One file for both would be written twice, the labels replacing the images (two names for
    // one file included: the targets are resolved through links, then compared as files).
    {
        namespace fs = std::filesystem;
        std::error_code ec;
        const fs::path a = fs::absolute(save_target(images_path, what), ec).lexically_normal();
        const fs::path b = fs::absolute(save_target(labels_path, what), ec).lexically_normal();
        if (!a.empty() && (a == b || fs::equivalent(a, b, ec))) {
            throw ValueError(concat(what, ": images_path '", images_path, "' and labels_path '",
                                    labels_path, "' are one file; expected two files"));
        }
    }
    std::vector<unsigned char> label_bytes(labels.size());
    for (std::size_t i = 0; i < labels.size(); ++i) {
        if (labels[i] < 0 || labels[i] > 255) {
            throw ValueError(concat(what, ": label ", labels[i], " of sample ", i,
                                    " does not fit an IDX label byte; expected 0..255"));
        }
        label_bytes[i] = static_cast<unsigned char>(labels[i]);
    }
    std::vector<unsigned char> pixel_bytes(std::size_t(features.size()));
    for (Eigen::Index i = 0; i < features.size(); ++i) {
        const double v = double(features.data()[i]);
        const bool ok = scaled ? v >= 0 && v <= 1 : v >= 0 && v <= 255 && v == std::round(v);
        if (!ok) {
            throw ValueError(concat(
                what, ": feature ", i % pixels, " of sample ", i / pixels, " is ", v,
                scaled ? "; expected a value in [0, 1] (scaled = true writes round(255·value))"
                       : "; expected an integer in 0..255 (scaled = false)"));
        }
        pixel_bytes[std::size_t(i)] =
            static_cast<unsigned char>(scaled ? std::lround(v * 255) : std::lround(v));
    }

    unsigned char header[16];
    put_be32(header, 0x803);
    put_be32(header + 4, std::uint32_t(n));
    put_be32(header + 8, std::uint32_t(rows));
    put_be32(header + 12, std::uint32_t(cols));
    // Both files checked before the first is replaced: a wrong labels path changes nothing.
    check_save_target(images_path, what);
    check_save_target(labels_path, what);
    OutputFile images(images_path, what);
    images.write(header, 16);
    images.write(pixel_bytes.data(), pixel_bytes.size());
    images.close();
    put_be32(header, 0x801);
    OutputFile label_file(labels_path, what);
    label_file.write(header, 8);
    label_file.write(label_bytes.data(), label_bytes.size());
    label_file.close();
}

}  // namespace chrysalis::inline CHRYSALIS_ISA_NAMESPACE::detail
