#pragma once
// chrysalis/detail/data_csv.hpp — reading and writing CSV files of numbers: one sample per line,
// one label column (integers or class names), every other column a feature. The options' checks,
// read_csv (which feeds the file to CsvParser, csv_parser.hpp) and write_csv.

#include "chrysalis/isa.hpp"  // first: see its note on GCC bug 105593

#include <Eigen/Core>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <climits>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

#include "chrysalis/config.hpp"
#include "chrysalis/detail/csv_parser.hpp"
#include "chrysalis/detail/data_io.hpp"
#include "chrysalis/errors.hpp"
#include "chrysalis/tensor.hpp"

namespace chrysalis::inline CHRYSALIS_ISA_NAMESPACE::detail {

/// Throws ValueError unless `delimiter` cannot be part of a number, a line end or a quote.
inline void check_delimiter(std::string_view what, char delimiter) {
    const bool ok = !std::isalnum(static_cast<unsigned char>(delimiter)) &&
                    std::string_view("+-.\n\r\"", 6).find(delimiter) == std::string_view::npos &&
                    delimiter != '\0';
    if (!ok) {
        throw ValueError(concat(what, ": CsvOptions::delimiter (character code ", int(delimiter),
                                ") can be part of a number, a line end or a quote; expected a "
                                "separator such as ',', ';' or '\\t'"));
    }
}

/// Throws ValueError naming `what` and CsvOptions::class_names unless every name can be written
/// and read back as a label field: not empty, no space or tab at either end (load_csv drops those
/// around a field), no line end (a data field holds none), each once; and, with `classes` > 0,
/// as many names as classes.
inline void check_class_names(std::string_view what, std::span<const std::string> names,
                              int classes) {
    if (names.empty()) return;
    const auto bad = [&](std::size_t i, std::string_view why) {
        return ValueError(
            concat(what, ": CsvOptions::class_names[", i, "] ('", names[i], "') ", why));
    };
    if (names.size() > std::size_t(INT_MAX))
        throw ValueError(concat(what, ": CsvOptions::class_names holds ", names.size(),
                                " names; expected at most ", INT_MAX));
    if (classes > 0 && std::size_t(classes) != names.size())
        throw ValueError(concat(what, ": CsvOptions::class_names holds ", names.size(),
                                " names but CsvOptions::classes is ", classes,
                                "; expected one name per class (or classes = 0)"));
    for (std::size_t i = 0; i < names.size(); ++i) {
        const std::string_view name = names[i];
        if (name.empty()) throw bad(i, "is empty; expected a name");
        const auto blank = [](char c) { return c == ' ' || c == '\t'; };
        if (blank(name.front()) || blank(name.back()))
            throw bad(i,
                      "begins or ends with a space or tab, which load_csv drops around a field; "
                      "expected a name without them");
        if (name.find_first_of("\r\n") != std::string_view::npos)
            throw bad(i, "holds a line end; expected a name on one line");
        for (std::size_t j = 0; j < i; ++j)
            if (names[j] == name)
                throw bad(i, concat("is also class_names[", j, "]; expected each name once"));
    }
}

/// Reads a CSV file (raw or gzip) into features (one column per line) and labels.
/// `label_column` is 0-based, −1 for the last; `classes` 0 means max label + 1. Lines and
/// columns in messages count from 1. Empty lines are skipped. `allow_non_finite` accepts the
/// feature fields nan, inf and infinity (any case, signed; what std::from_chars reads). At most
/// `max_bytes` bytes are read (decompressed); the text is parsed as it is read (CsvParser), so
/// memory follows the values read, never the file's size.
/// Throws IoError / FormatError as documented on chrysalis::load_csv; ValueError for bad options.
template <class Scalar>
void read_csv(const std::string& path, int label_column, bool header, char delimiter, int classes,
              Matrix<Scalar>& features, std::vector<int>& labels, int& classes_out,
              bool allow_non_finite = false, std::uint64_t max_bytes = default_max_bytes,
              std::span<const std::string> class_names = {}) {
    constexpr std::string_view what = "chrysalis::load_csv";
    check_delimiter(what, delimiter);
    if (label_column < -1) {
        throw ValueError(
            concat(what, ": CsvOptions::label_column must be >= -1 (-1 = the last column), got ",
                   label_column));
    }
    if (classes < 0) {
        throw ValueError(concat(
            what, ": CsvOptions::classes must be >= 0 (0 = the largest label + 1), got ", classes));
    }
    check_class_names(what, class_names, classes);
    InputFile in(path, what, max_bytes, "CsvOptions::max_bytes");
    CsvParser<Scalar> parser(in, label_column, header, delimiter, classes, allow_non_finite,
                             class_names);
    std::vector<char> buffer(std::size_t(1) << 16);
    for (bool first = true;; first = false) {
        const std::size_t got = in.read(buffer.data(), buffer.size());
        parser.feed(std::string_view(buffer.data(), got), first);
        if (got < buffer.size()) break;
    }
    parser.finish();
    features = parser.take_features();
    labels = std::move(parser.labels());
    classes_out = !class_names.empty() ? int(class_names.size())
                  : classes > 0        ? classes
                                       : parser.max_label() + 1;
}

/// Writes features (F × N) and labels as CSV, one sample per line, the label in column
/// `label_column` (0-based; −1 = last) and every value in the shortest form that reads back
/// exactly (std::to_chars); with `class_names`, each label as its name, quoted (RFC 4180) when
/// it holds the delimiter or a quote. Gzip when the path ends in ".gz".
template <class Scalar>
void write_csv(const Matrix<Scalar>& features, std::span<const int> labels, const std::string& path,
               int label_column, bool header, char delimiter,
               std::span<const std::string> class_names = {}) {
    constexpr std::string_view what = "chrysalis::save_csv";
    check_delimiter(what, delimiter);
    check_class_names(what, class_names, 0);
    std::vector<std::string> written;  // each name as a field
    for (const std::string& name : class_names) {
        if (name.find_first_of(std::string{delimiter, '"'}) == std::string::npos) {
            written.push_back(name);
            continue;
        }
        std::string quoted = "\"";
        for (const char c : name) {
            if (c == '"') quoted += '"';
            quoted += c;
        }
        written.push_back(quoted + '"');
    }
    if (!class_names.empty()) {
        for (std::size_t j = 0; j < labels.size(); ++j) {
            if (std::size_t(labels[j]) >= class_names.size())
                throw ValueError(concat(what, ": the label of sample ", j, " is ", labels[j],
                                        " but CsvOptions::class_names holds ", class_names.size(),
                                        " names; expected a name for every label"));
        }
    }
    const Eigen::Index f = features.rows(), n = features.cols();
    if (label_column < -1 || label_column > f) {
        throw ValueError(concat(what, ": CsvOptions::label_column is ", label_column,
                                " but a line has ", f + 1, " columns; expected -1 (last) or 0..",
                                f));
    }
    if (Eigen::Index(labels.size()) != n) {
        throw ShapeError(concat(what, ": ", labels.size(), " labels for ", n,
                                " samples; expected one label per sample"));
    }
    const Eigen::Index lc = label_column == -1 ? f : label_column;
    OutputFile out(path, what);
    std::string text;
    if (header) {
        for (Eigen::Index c = 0, k = 0; c <= f; ++c) {
            if (c > 0) text += delimiter;
            text += c == lc ? std::string("label") : concat("x", k++);
        }
        text += '\n';
    }
    char number[64];
    for (Eigen::Index j = 0; j < n; ++j) {
        for (Eigen::Index c = 0, k = 0; c <= f; ++c) {
            if (c > 0) text += delimiter;
            if (c == lc && !written.empty()) {
                text += written[std::size_t(labels[std::size_t(j)])];
                continue;
            }
            const auto r =
                c == lc ? std::to_chars(number, number + sizeof number, labels[std::size_t(j)])
                        : std::to_chars(number, number + sizeof number, features(k++, j));
            text.append(number, r.ptr);
        }
        text += '\n';
        if (text.size() >= (std::size_t(1) << 20)) {
            out.write(text);
            text.clear();
        }
    }
    out.write(text);
    out.close();
}

}  // namespace chrysalis::inline CHRYSALIS_ISA_NAMESPACE::detail
