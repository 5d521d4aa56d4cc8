#pragma once
// chrysalis/serialize.hpp — saving and loading networks: the versioned binary model format with
// its atomic save and architecture check, and .npy interchange with NumPy and PyTorch. The
// formats are described in docs/data-and-models.md; layer names and hyperparameters come from
// the layers themselves (architecture.hpp). The int8 model file of an Int8Network is in
// int8_file.hpp, so that code saving fp32 networks does not parse the int8 kernels.

#include "chrysalis/isa.hpp"  // first: see its note on GCC bug 105593

#include <Eigen/Core>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <exception>
#include <filesystem>
#include <string>
#include <string_view>
#include <system_error>
#include <type_traits>
#include <utility>
#include <vector>

#include "chrysalis/architecture.hpp"
#include "chrysalis/config.hpp"
#include "chrysalis/detail/container.hpp"
#include "chrysalis/detail/file_io.hpp"
#include "chrysalis/detail/npy.hpp"
#include "chrysalis/errors.hpp"
#include "chrysalis/network.hpp"
#include "chrysalis/tensor.hpp"

namespace chrysalis::inline CHRYSALIS_ISA_NAMESPACE {

/// The version of the model format that save writes and load reads.
inline constexpr std::uint32_t model_format_version = 1;

namespace detail {

/// Appends a block's elements in column-major order.
template <class S, class P>
void put_block(std::string& out, const P& block) {
    static_assert(std::is_same_v<typename P::Scalar, S>,
                  "chrysalis serialization: a parameter block's scalar is not the network's");
    if constexpr (std::is_base_of_v<Eigen::PlainObjectBase<P>, P> && !P::IsRowMajor) {
        put_le_values(out, block.data(), std::size_t(block.size()));
    } else {
        const Matrix<S> copy = block;
        put_le_values(out, copy.data(), std::size_t(copy.size()));
    }
}

inline constexpr std::string_view model_magic{"CHRYSLS\0", 8};

/// The model format's envelope (detail/container.hpp).
inline constexpr ContainerFormat model_container{model_magic, model_format_version, "model file",
                                                 "model"};

/// The int8 model file's magic (its format is in int8_file.hpp): known here so that load
/// refuses such a file by name.
inline constexpr std::string_view int8_model_magic{"CHRYSQ8\0", 8};

/// What a file records of a layer's hyperparameters: checked_hyperparameters with the refusal
/// "load would refuse, so nothing was written", so that no file is written that cannot be loaded.
inline constexpr std::string_view unsavable = "load would refuse, so nothing was written";

/// Refuses a model file of the other kind by its magic, naming the loader to use: an int8 model
/// file given to an fp32 loader (`int8` false) or an fp32 model file given to load_int8 (`int8`
/// true). Throws FormatError "<what>: '<path>' is an int8 model file …" / "… is an fp32 model
/// file …"; returns for any other bytes.
inline void refuse_other_model_kind(std::string_view bytes, const std::string& path,
                                    std::string_view what, bool int8) {
    if (!int8 && bytes.starts_with(int8_model_magic)) {
        throw FormatError(concat(what, ": '", path,
                                 "' is an int8 model file (an Int8Network's, written by "
                                 "save(const Int8Network&, path)), not an fp32 model file: load "
                                 "it with chrysalis::load_int8(path)"));
    }
    if (int8 && bytes.starts_with(model_magic)) {
        throw FormatError(concat(what, ": '", path,
                                 "' is an fp32 model file (a Sequential's, written by save(net, "
                                 "path)), not an int8 model file: load it with "
                                 "chrysalis::load(net, path), then quantize(net) for its int8 "
                                 "form"));
    }
}

/// The whole model file of `net`. Throws ValueError naming `what` and the layer if a layer's
/// hyperparameters are ones its set_hyperparameters (hence load) would refuse — a public member
/// such as LeakyReLU::slope set to NaN — so that no file is written that cannot be loaded.
template <class Net>
std::string encode_model(const Net& net, std::string_view what = "chrysalis::save") {
    using S = typename Net::scalar_type;
    std::string out = begin_container(model_container);
    put_text(out, architecture_of<Net>());
    put_text(out, scalar_name<S>());
    put_le(out, static_cast<std::uint32_t>(Net::depth));
    std::uint32_t blocks = 0;
    for_each_layer(net, [&](std::size_t i, const auto& layer) {
        const std::vector<double> values = checked_hyperparameters(
            layer, [&] { return concat(what, ": layer ", i); }, unsavable);
        put_le(out, static_cast<std::uint32_t>(values.size()));
        for (const double v : values) put_le(out, v);
        for_each_block(layer, [&](const auto&) { ++blocks; });
    });
    put_le(out, blocks);
    for_each_layer(net, [&](std::size_t, const auto& layer) {
        for_each_block(layer, [&](const auto& block) {
            put_le(out, static_cast<std::uint64_t>(block.rows()));
            put_le(out, static_cast<std::uint64_t>(block.cols()));
            put_block<S>(out, block);
        });
    });
    finish_container(out);
    return out;
}

template <class S>
struct ModelContents {
    std::vector<std::vector<double>> hyperparameters;
    std::vector<Matrix<S>> blocks;
};

/// Verifies a model file against `net` and reads its contents into temporaries; `net` is only
/// inspected. Throws FormatError "<what>: '<path>' …" for every mismatch.
template <class Net>
ModelContents<typename Net::scalar_type> decode_model(std::string_view bytes,
                                                      const std::string& path, Net& net,
                                                      std::string_view what = "chrysalis::load") {
    using S = typename Net::scalar_type;
    const auto error = [&](const auto&... parts) {
        return FormatError(concat(what, ": '", path, "' ", parts...));
    };
    const std::string_view body = open_container(bytes, model_container, path, what);
    ContainerReader in(body, container_header_size, path, what);
    const std::string_view architecture = in.text("the architecture");
    const std::string_view scalar = in.text("the scalar type");
    if (scalar != scalar_name<S>()) {
        throw error("holds ", scalar, " parameters but the network's scalar type is ",
                    scalar_name<S>());
    }
    if (const std::string expected = architecture_of<Net>(); architecture != expected)
        throw error("holds ", architecture, " but the network is ", expected);
    if (in.number<std::uint32_t>("the layer count") != Net::depth)
        in.corrupt("its layer count differs from its architecture's");

    const std::vector<std::string> names = layer_names<Net>();
    ModelContents<S> contents;
    std::uint32_t blocks = 0;
    for_each_layer(net, [&](std::size_t i, auto& layer) {
        const std::size_t expected = hyperparameters_of(layer).size();
        const std::size_t count = in.number<std::uint32_t>("a hyperparameter count");
        if (count != expected) {
            throw error("holds ", count, " hyperparameters for layer ", i, " (", names[i],
                        ") but the layer has ", expected);
        }
        std::vector<double>& values = contents.hyperparameters.emplace_back(count);
        for (double& v : values) v = in.number<double>("a hyperparameter");
        for_each_block(layer, [&](const auto&) { ++blocks; });
    });
    if (const auto count = in.number<std::uint32_t>("the block count"); count != blocks)
        throw error("holds ", count, " parameter blocks but the network has ", blocks);
    for_each_layer(net, [&](std::size_t i, auto& layer) {
        std::size_t k = 0;
        for_each_block(layer, [&](const auto& block) {
            const auto rows = in.number<std::uint64_t>("a block's rows");
            const auto cols = in.number<std::uint64_t>("a block's columns");
            if (rows != std::uint64_t(block.rows()) || cols != std::uint64_t(block.cols())) {
                throw error("holds a ", rows, " x ", cols, " block ", k, " for layer ", i, " (",
                            names[i], ") but the network's is ", block.rows(), " x ", block.cols());
            }
            Matrix<S>& m = contents.blocks.emplace_back(block.rows(), block.cols());
            const std::size_t n = std::size_t(m.size());
            get_le_values(in.take(n * sizeof(S), "a block's values"), n, m.data());
            ++k;
        });
    });
    if (in.remaining() != 0) in.corrupt(concat(in.remaining(), " bytes follow the last block"));
    return contents;
}

/// Moves verified contents into `net`: hyperparameters first (undone if a layer rejects one),
/// then the parameter blocks, which have the right shapes and so cannot fail.
template <class Net>
void commit_model(Net& net, const ModelContents<typename Net::scalar_type>& contents,
                  const std::string& path, std::string_view what = "chrysalis::load") {
    std::vector<std::vector<double>> previous;
    for_each_layer(net,
                   [&](std::size_t, const auto& l) { previous.push_back(hyperparameters_of(l)); });
    std::size_t failed = Net::depth;
    std::string reason;
    for_each_layer(net, [&](std::size_t i, auto& layer) {
        if (failed != Net::depth) return;
        try {
            set_hyperparameters_of(layer, contents.hyperparameters[i]);
        } catch (const std::exception& e) {
            failed = i;
            reason = e.what();
        }
    });
    if (failed != Net::depth) {
        for_each_layer(net, [&](std::size_t i, auto& layer) {
            if (i <= failed) set_hyperparameters_of(layer, previous[i]);
        });
        throw FormatError(concat(what, ": '", path, "' holds hyperparameters that layer ", failed,
                                 " (", layer_names<Net>()[failed], ") rejects: ", reason));
    }
    std::size_t k = 0;
    for_each_layer(net, [&](std::size_t, auto& layer) {
        for_each_block(layer, [&](auto& block) { block = contents.blocks[k++]; });
    });
}

/// Whether a file name has the form "<layer>_<block>.npy" of export_npy (digits only).
inline bool is_block_file_name(std::string_view name) {
    if (name.size() < 4 || name.substr(name.size() - 4) != ".npy") return false;
    name.remove_suffix(4);
    const std::size_t underscore = name.find('_');
    if (underscore == 0 || underscore == std::string_view::npos || underscore + 1 == name.size())
        return false;
    for (std::size_t i = 0; i < name.size(); ++i)
        if (i != underscore && (name[i] < '0' || name[i] > '9')) return false;
    return true;
}

}  // namespace detail

/// Saves `net`'s parameters and hyperparameters to `path` in the model format (version
/// model_format_version; see docs/data-and-models.md): magic "CHRYSLS\0", version, file size,
/// architecture, scalar type, hyperparameters per layer, the parameter blocks in
/// visit_parameters order, CRC-32 of all of it.
/// Ensures: the file is replaced atomically — written to "<path>.tmp-<pid>-<n>", fsynced and
///   renamed over `path` — so a crash never leaves a partial file and never destroys the previous
///   one (it may leave the temporary, which nothing reads; see docs/errors.md).
/// Throws: IoError naming `path` if it cannot be written; the temporary is removed and any
///   previous file at `path` is left as it was. ValueError naming chrysalis::save and the layer,
///   before anything is written, if a layer holds a hyperparameter load would refuse (a public
///   LeakyReLU::slope set to NaN or beyond float's range).
template <class Net>
void save(const Net& net, const std::string& path) {
    static_assert(detail::serialization_needs_a_Sequential<Net>::ok,
                  "chrysalis::save: see the first error above");
    detail::write_file_atomically(path, detail::encode_model(net), "chrysalis::save");
}

/// Loads a file written by save into `net`: parameters bit-exactly, and the layers' saved
/// hyperparameters (dropout rates, LeakyReLU slopes).
/// Requires: the file holds the same architecture and scalar type as `net`.
/// Throws: IoError naming `path` if it cannot be read; FormatError naming `path` and what was
///   found against what was expected if it is an int8 model file ("is an int8 model file …: load
///   it with chrysalis::load_int8(path)") or not a model file, has another format version, is
///   truncated, fails its checksum, holds another scalar type ("holds float parameters but the
///   network's scalar type is double"), another architecture ("holds Sequential<…> but the
///   network is Sequential<…>"), a hyperparameter a layer rejects, or more than `max_bytes`
///   bytes (default_max_bytes, 4 GiB; refused before they are read).
/// Ensures: on any exception `net` is unchanged (the file is read and checked in full first).
template <class Net>
void load(Net& net, const std::string& path, std::uint64_t max_bytes = default_max_bytes) {
    static_assert(detail::serialization_needs_a_Sequential<Net>::ok,
                  "chrysalis::load: see the first error above");
    const std::string bytes = detail::read_file(path, "chrysalis::load", max_bytes);
    detail::refuse_other_model_kind(bytes, path, "chrysalis::load", false);
    const auto contents = detail::decode_model(bytes, path, net);
    detail::commit_model(net, contents, path);
}

/// Writes `m` to `path` as a 2-D NumPy .npy array (format 1.0, '<f4' or '<f8', shape
/// (rows, cols), fortran_order True since Eigen is column-major): np.load gives an array equal
/// to m. The file is replaced atomically, as by save. Throws IoError naming `path`.
template <class Scalar>
void save_npy(const Matrix<Scalar>& m, const std::string& path) {
    detail::write_file_atomically(
        path, detail::encode_npy(m.data(), std::size_t(m.rows()), std::size_t(m.cols()), false),
        "chrysalis::save_npy");
}

/// Writes `v` as a 1-D .npy array of shape (size,), like a PyTorch bias.
template <class Scalar>
void save_npy(const Vector<Scalar>& v, const std::string& path) {
    detail::write_file_atomically(
        path, detail::encode_npy(v.data(), std::size_t(v.size()), 1, true), "chrysalis::save_npy");
}

/// Reads a .npy file (format 1.0, 2.0 or 3.0): '<f4' or '<f8' (converted to Scalar; '<f8' into
/// float rounds), C or Fortran order, 2-D as rows × cols, 1-D of shape (n,) as an n × 1 column.
/// Throws: IoError naming `path` if it cannot be read; FormatError naming `path` and what it
///   holds for another dtype ('<i8', …), big-endian data ('>f4'), 0-D or 3-D and higher arrays,
///   truncated data, '<f8' data read as float that holds a finite value beyond float's range
///   (naming its row, column and value: it would otherwise become ±∞; NaN and ±∞ stored in the
///   file are read as they are), a header that does not parse, or a file of more than `max_bytes`
///   bytes (default_max_bytes, 4 GiB; refused before they are read). The matrix is allocated only
///   once the file is read and its data found as long as the shape needs.
template <class Scalar = DefaultScalar>
Matrix<Scalar> load_npy(const std::string& path, std::uint64_t max_bytes = default_max_bytes) {
    return detail::decode_npy<Scalar>(detail::read_file(path, "chrysalis::load_npy", max_bytes),
                                      "chrysalis::load_npy", path);
}

/// Writes every parameter block of `net` as "<directory>/<layer>_<block>.npy", numbered by the
/// layer's index in the network and the block's in its visit_parameters order — for Dense, W
/// (Out × In, 2-D) then b (Out, 1-D), the shapes of PyTorch's nn.Linear weight and bias — and
/// the architecture string with a newline as "<directory>/architecture.txt". Creates the
/// directory if needed and removes block files ("<digits>_<digits>.npy") that `net` has no
/// block for, so the directory describes exactly `net`. Each file is replaced atomically; the
/// set of files is not (a crash can leave some old, some new). Hyperparameters are not written.
/// Throws: IoError naming the directory or file that could not be created, written, listed
///   (also when the listing fails part-way) or removed.
template <class Net>
void export_npy(const Net& net, const std::string& directory) {
    static_assert(detail::serialization_needs_a_Sequential<Net>::ok,
                  "chrysalis::export_npy: see the first error above");
    namespace fs = std::filesystem;
    constexpr std::string_view what = "chrysalis::export_npy";
    detail::require_path_without_nul(directory, what, "write the directory");
    std::error_code ec;
    fs::create_directories(directory, ec);
    if (ec) {
        throw IoError(detail::concat(what, ": cannot create the directory '", directory,
                                     "': ", ec.message()));
    }
    // Every block's file checked before the first is replaced: a name taken by a directory (or
    // a FIFO, a device) changes nothing.
    detail::for_each_layer(net, [&](std::size_t i, const auto& layer) {
        std::size_t k = 0;
        detail::for_each_block(layer, [&](const auto&) {
            detail::check_save_target(
                (fs::path(directory) / detail::concat(i, "_", k++, ".npy")).string(), what);
        });
    });
    detail::check_save_target((fs::path(directory) / "architecture.txt").string(), what);
    std::vector<std::string> written;
    detail::for_each_layer(net, [&](std::size_t i, const auto& layer) {
        std::size_t k = 0;
        detail::for_each_block(layer, [&](const auto& block) {
            using Block = std::remove_cvref_t<decltype(block)>;
            const Matrix<typename Net::scalar_type> m = block;
            std::string name = detail::concat(i, "_", k++, ".npy");
            detail::write_file_atomically(
                (fs::path(directory) / name).string(),
                detail::encode_npy(m.data(), std::size_t(m.rows()), std::size_t(m.cols()),
                                   Block::ColsAtCompileTime == 1),
                what);
            written.push_back(std::move(name));
        });
    });
    // increment(ec), not a range-for: its operator++ throws std::filesystem::filesystem_error
    // when the listing fails part-way (EIO, the directory removed meanwhile).
    for (fs::directory_iterator it(directory, ec), end; !ec && it != end; it.increment(ec)) {
        const fs::directory_entry& entry = *it;
        const std::string name = entry.path().filename().string();
        if (!detail::is_block_file_name(name) ||
            std::find(written.begin(), written.end(), name) != written.end())
            continue;
        std::error_code removing;
        if (!fs::remove(entry.path(), removing) && removing) {
            throw IoError(detail::concat(what, ": cannot remove the stale '", entry.path().string(),
                                         "': ", removing.message()));
        }
    }
    if (ec) {
        throw IoError(
            detail::concat(what, ": cannot list the directory '", directory, "': ", ec.message()));
    }
    detail::write_file_atomically((fs::path(directory) / "architecture.txt").string(),
                                  detail::architecture_of<Net>() + "\n", what);
}

/// Reads every parameter block of `net` from "<directory>/<layer>_<block>.npy" (see export_npy;
/// any file load_npy reads, '<f4' or '<f8', either order: weights saved from PyTorch or NumPy).
/// If "<directory>/architecture.txt" exists it must hold net's architecture. Hyperparameters
/// are left as they are.
/// Throws: FormatError naming the file if architecture.txt holds another architecture, a block
///   file is missing, holds another shape (naming both shapes: "holds a 7 x 4 array but layer 0
///   (Dense<5,7,float>) parameter block 0 is 7 x 5"), cannot be decoded (see load_npy), or if
///   the directory holds a block file that `net` has no block for, or if a file holds more than
///   `max_bytes` bytes (default_max_bytes, 4 GiB; each file is held to it); IoError naming the
///   directory or the file if the directory cannot be listed (also part-way) or a file cannot be
///   read.
/// Ensures: on any exception `net` is unchanged (every file is read and checked first).
template <class Net>
void import_npy(Net& net, const std::string& directory,
                std::uint64_t max_bytes = default_max_bytes) {
    static_assert(detail::serialization_needs_a_Sequential<Net>::ok,
                  "chrysalis::import_npy: see the first error above");
    using S = typename Net::scalar_type;
    namespace fs = std::filesystem;
    constexpr std::string_view what = "chrysalis::import_npy";
    detail::require_path_without_nul(directory, what, "read the directory");
    const fs::path dir(directory);
    std::error_code ec;
    if (!fs::is_directory(dir, ec)) {
        throw IoError(detail::concat(what, ": cannot read the directory '", directory,
                                     "': ", ec ? ec.message() : "not a directory"));
    }
    const std::string expected = detail::architecture_of<Net>();
    if (const fs::path file = dir / "architecture.txt"; fs::exists(file, ec)) {
        std::string text = detail::read_file(file.string(), what, max_bytes);
        while (!text.empty() && (text.back() == '\n' || text.back() == '\r' || text.back() == ' '))
            text.pop_back();
        if (text != expected) {
            throw FormatError(detail::concat(what, ": '", file.string(), "' holds ", text,
                                             " but the network is ", expected));
        }
    }
    const std::vector<std::string> names = detail::layer_names<Net>();
    std::vector<Matrix<S>> blocks;
    std::vector<std::string> block_files;
    std::vector<std::size_t> blocks_per_layer(Net::depth, 0);
    detail::for_each_layer(net, [&](std::size_t i, auto& layer) {
        detail::for_each_block(layer, [&](const auto& block) {
            const std::size_t k = blocks_per_layer[i]++;
            std::string name = detail::concat(i, "_", k, ".npy");
            const std::string file = (dir / name).string();
            std::error_code missing;
            if (!fs::exists(file, missing)) {
                throw FormatError(detail::concat(what, ": '", file, "' is missing: layer ", i, " (",
                                                 names[i], ") has parameter block ", k, " of ",
                                                 block.rows(), " x ", block.cols()));
            }
            // Decoded as load_npy does, its errors naming import_npy, the function called.
            Matrix<S> m =
                detail::decode_npy<S>(detail::read_file(file, what, max_bytes), what, file);
            if (m.rows() != block.rows() || m.cols() != block.cols()) {
                throw FormatError(detail::concat(what, ": '", file, "' holds a ", m.rows(), " x ",
                                                 m.cols(), " array but layer ", i, " (", names[i],
                                                 ") parameter block ", k, " is ", block.rows(),
                                                 " x ", block.cols()));
            }
            blocks.push_back(std::move(m));
            block_files.push_back(std::move(name));
        });
    });
    // increment(ec), not a range-for (whose operator++ throws): see export_npy.
    for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
        const fs::directory_entry& entry = *it;
        const std::string name = entry.path().filename().string();
        if (!detail::is_block_file_name(name) ||
            std::find(block_files.begin(), block_files.end(), name) != block_files.end())
            continue;
        std::size_t layer = 0;  // saturating: a huge index only has to compare as too large
        for (const char c : name.substr(0, name.find('_')))
            layer = std::min<std::size_t>(layer * 10 + std::size_t(c - '0'), Net::depth);
        throw FormatError(detail::concat(
            what, ": '", entry.path().string(), "' is not a parameter block of the network ",
            expected, ": ",
            layer < Net::depth ? detail::concat("layer ", layer, " (", names[layer], ") has ",
                                                blocks_per_layer[layer], " block(s)")
                               : detail::concat("it has ", Net::depth, " layers")));
    }
    if (ec) {
        throw IoError(
            detail::concat(what, ": cannot list the directory '", directory, "': ", ec.message()));
    }
    std::size_t k = 0;
    detail::for_each_layer(net, [&](std::size_t, auto& layer) {
        detail::for_each_block(layer, [&](auto& block) { block = blocks[k++]; });
    });
}

}  // namespace chrysalis::inline CHRYSALIS_ISA_NAMESPACE
