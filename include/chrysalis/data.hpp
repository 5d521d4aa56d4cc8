#pragma once
// chrysalis/data.hpp — data sets and their files: loading and saving IDX files (MNIST,
// Fashion-MNIST; raw or gzip) and CSV files. It includes what works on a data set in memory
// (dataset.hpp: Dataset, scaling, splits and subsets; batcher.hpp; jitter.hpp), which needs no
// file I/O and is what the training loop includes.
//
// A data set holds one sample per column (features × N), like every batch in chrysalis, and one
// integer label per sample. File errors are chrysalis::IoError (cannot open, read or write) and
// chrysalis::FormatError (the content is wrong); wrong arguments are chrysalis::ValueError (a
// value outside its domain) and chrysalis::ShapeError (sizes that do not fit). All four derive
// from chrysalis::Error (errors.hpp); docs/errors.md lists what each loader validates.

#include "chrysalis/isa.hpp"  // first: see its note on GCC bug 105593

#include <Eigen/Core>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <numeric>
#include <span>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "chrysalis/batcher.hpp"
#include "chrysalis/config.hpp"
#include "chrysalis/dataset.hpp"
#include "chrysalis/detail/data_csv.hpp"
#include "chrysalis/detail/data_idx.hpp"
#include "chrysalis/detail/data_io.hpp"
#include "chrysalis/errors.hpp"
#include "chrysalis/jitter.hpp"
#include "chrysalis/random.hpp"
#include "chrysalis/tensor.hpp"

namespace chrysalis::inline CHRYSALIS_ISA_NAMESPACE {

/// How load_idx reads a file pair.
struct IdxOptions {
    bool scale = true;  ///< divide the uint8 pixels by 255, into [0, 1]; false keeps 0..255
    int classes = 10;   ///< every label must be below this; it becomes Dataset::classes
    /// The most bytes either file may hold, header included, counted after gzip decompression
    /// (default_max_bytes, 4 GiB): a larger one is refused with FormatError before its data is
    /// allocated, a gzip stream is not inflated beyond it.
    std::uint64_t max_bytes = default_max_bytes;
};

/// Reads an IDX image file (magic 0x00000803: N × rows × cols unsigned bytes) and an IDX label
/// file (magic 0x00000801: N unsigned bytes), raw or gzip-compressed (recognised by the gzip
/// magic 1f 8b and decompressed with zlib), as MNIST and Fashion-MNIST ship them.
///
/// Ensures: features is rows·cols × N, image i in column i with its pixels row by row (pixel
///   (r, c) in row r·cols + c), each p/255 when options.scale, else p; labels as in the file;
///   classes = options.classes.
/// Throws: IoError for a missing or unreadable file or a directory; FormatError for a wrong magic
///   number, a wrong dimension count, sizes that overflow or exceed what the file can hold, data
///   shorter or longer than the header says, corrupt gzip data, image and label counts that
///   differ, a label ≥ options.classes, or a file (decompressed) or header sizes beyond
///   options.max_bytes; ValueError for options.classes < 1. Each message names the function
///   and the file, what was found and what was expected.
/// Memory: what is allocated follows the data actually read (growing geometrically), not the
///   header's sizes, so a header announcing more than the file holds fails as truncated having
///   allocated about what the file held.
template <class Scalar = float>
Dataset<Scalar> load_idx(const std::string& images_path, const std::string& labels_path,
                         const IdxOptions& options = {}) {
    Dataset<Scalar> data;
    detail::read_idx(images_path, labels_path, options.scale, options.classes, data.features,
                     data.labels, options.max_bytes);
    data.classes = options.classes;
    return data;
}

/// Writes `data` as an IDX image file of rows × cols images and an IDX label file, gzip-compressed
/// when a path ends in ".gz" (else raw). With `scaled`, every feature must be in [0, 1] and is
/// written as round(255·x) (so load_idx gives the values back exactly when they are multiples
/// of 1/255, as loaded ones are); without, every feature must be an integer in 0..255.
///
/// Throws: ShapeError naming chrysalis::save_idx for data without features; what validate()
///   throws for a dataset that fails it; ValueError for rows or cols < 1, a
///   label above 255 or a feature outside the allowed values (which sample, which feature), or
///   images_path and labels_path naming one file (the labels would replace the images);
///   ShapeError for feature_count ≠ rows·cols — all checked before a file is opened; IoError when
///   a file cannot be written (each file is replaced atomically: a failed or interrupted
///   save leaves the previous file as it was).
template <class Scalar>
void save_idx(const Dataset<Scalar>& data, int rows, int cols, const std::string& images_path,
              const std::string& labels_path, bool scaled = true) {
    if (data.feature_count() == 0) {  // named here, not by validate, which refuses it too
        throw ShapeError(detail::concat("chrysalis::save_idx: the data's features are 0x",
                                        data.size(),
                                        " (features x samples); expected rows x cols >= 1 "
                                        "features (pixels) per image"));
    }
    data.validate();
    detail::write_idx(data.features, std::span<const int>(data.labels), rows, cols, images_path,
                      labels_path, scaled);
}

/// How load_csv reads a file and save_csv writes one.
struct CsvOptions {
    int label_column = -1;  ///< 0-based index of the label column; -1 = the last
    bool header = false;    ///< the first line is a header (skipped; written by save_csv)
    char delimiter = ',';   ///< the field separator (not a letter, digit, '+', '-', '.' or '"')
    int classes = 0;        ///< labels must be below this; 0 = the largest label + 1
    /// Accept the feature fields nan, inf and infinity (signed, any case) instead of throwing
    /// FormatError — for data with missing values to be imputed before training (fit, distill
    /// and predict_logits reject non-finite features). Labels must always be integers.
    bool allow_non_finite = false;
    /// load_csv: the most bytes the file may hold, counted after gzip decompression
    /// (default_max_bytes, 4 GiB); more is refused with FormatError as soon as it is read, and
    /// a gzip stream is not inflated beyond it.
    std::uint64_t max_bytes = default_max_bytes;
    /// The class names, for a label column of names ("setosa") instead of integers: a name's
    /// label is its index here, and classes is their number. load_csv refuses a label field
    /// that is none of them; save_csv writes each label's name (quoted when it holds the
    /// delimiter or a quote). Empty (the default): integer labels. Each name must be non-empty,
    /// on one line, given once and without a space or tab at either end (dropped around a
    /// field), and with classes > 0 there must be one per class.
    std::vector<std::string> class_names = {};
};

/// Reads a CSV file (raw or gzip): one sample per line, one integer label column, every other
/// column a feature (decimal numbers, std::from_chars syntax, a leading '+' allowed; spaces and
/// tabs around a field are ignored; empty lines are skipped; a UTF-8 byte order mark is skipped).
/// Fields may be quoted as RFC 4180 has it (what R's write.csv and Python's csv.QUOTE_ALL
/// write): a field whose first byte other than a space or tab is '"' runs to the closing quote,
/// '""' inside it being one quote; its text is then read as an unquoted field's ("1.5" is 1.5).
/// Only the header's quoted names may hold the delimiter or a line break (lines in messages are
/// the file's lines).
///
/// Ensures: features is (columns − 1) × N in file order; classes = the number of
///   options.class_names when there are any, else options.classes, or the largest label + 1
///   when it is 0.
/// Throws: IoError when the file cannot be read; FormatError naming the file, the line and (from
///   1) the column for a line with another number of columns than the first data line, a field
///   that is empty, not a number, not finite (unless options.allow_non_finite) or out of the
///   scalar's range, a label that is not an integer, negative or ≥ options.classes (with
///   options.class_names: a label that is none of them, the names listed), a first line
///   of one column or fewer columns than label_column needs, a field longer than 4096 bytes
///   (detail::csv_max_field_bytes), a quote inside an unquoted field, a quoted field not closed
///   before its line ends (or, in the header, before the file ends), anything but blanks
///   between a closing quote and the delimiter or line end, a file with no data lines, and a
///   file (decompressed) longer than options.max_bytes; ValueError for bad options (delimiter,
///   label_column < −1, classes < 0, class_names as CsvOptions::class_names says).
/// Memory: the text is parsed as it is read, never held whole: what is allocated is the values
///   and labels read so far (grown geometrically) and a 64 KiB buffer.
template <class Scalar = float>
Dataset<Scalar> load_csv(const std::string& path, const CsvOptions& options = {}) {
    Dataset<Scalar> data;
    detail::read_csv(path, options.label_column, options.header, options.delimiter, options.classes,
                     data.features, data.labels, data.classes, options.allow_non_finite,
                     options.max_bytes, std::span<const std::string>(options.class_names));
    return data;
}

/// Writes `data` as CSV: the label in options.label_column (−1 = last), a header line of x0, x1,
/// …, label when options.header, each value in the shortest form that reads back exactly
/// (std::to_chars), each label as its name when options.class_names has names (quoted when it
/// holds the delimiter or a quote), so load_csv with the same options returns the same features
/// and labels.
/// The file does not record data.classes: load_csv gives options.classes, or the largest label
/// + 1 when it is 0 (pass .classes = data.classes to get it back). Gzip when the path ends in
/// ".gz".
/// Throws: ShapeError naming chrysalis::save_csv for data without features (a line of a label
///   alone, which load_csv refuses); what validate() throws for a dataset that fails it
///   (non-finite features included); ValueError for a label_column outside [−1, feature_count]
///   or a delimiter load_csv would refuse (a letter, digit, '+', '-', '.', '"', a line end or
///   NUL), for class_names load_csv would refuse (CsvOptions::class_names), and for a label
///   without a name among them;
///   IoError when the file cannot be written (the file is replaced atomically: a failed or
///   interrupted save leaves the previous file as it was).
template <class Scalar>
void save_csv(const Dataset<Scalar>& data, const std::string& path,
              const CsvOptions& options = {}) {
    if (data.feature_count() == 0) {
        throw ShapeError(detail::concat("chrysalis::save_csv: the data's features are 0x",
                                        data.size(),
                                        " (features x samples); expected at least 1 feature: a "
                                        "line of a label alone would not load back"));
    }
    data.validate();
    detail::write_csv(data.features, std::span<const int>(data.labels), path, options.label_column,
                      options.header, options.delimiter,
                      std::span<const std::string>(options.class_names));
}

}  // namespace chrysalis::inline CHRYSALIS_ISA_NAMESPACE
