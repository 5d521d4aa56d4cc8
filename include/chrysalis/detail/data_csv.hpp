#pragma once
// chrysalis/detail/data_csv.hpp — reading and writing CSV files of numbers: one sample per line,
// one integer label column, every other column a feature.

#include "chrysalis/isa.hpp"  // first: see its note on GCC bug 105593

#include <Eigen/Core>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <climits>
#include <cmath>
#include <cstddef>
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

/// Throws ValueError unless `delimiter` cannot be part of a number or a line end.
inline void check_delimiter(std::string_view what, char delimiter) {
    const bool ok = !std::isalnum(static_cast<unsigned char>(delimiter)) &&
                    std::string_view("+-.\n\r", 5).find(delimiter) == std::string_view::npos &&
                    delimiter != '\0';
    if (!ok) {
        throw ValueError(concat(what, ": CsvOptions::delimiter (character code ", int(delimiter),
                                ") can be part of a number or a line end; expected a "
                                "separator such as ',', ';' or '\\t'"));
    }
}

/// The whole content of a file.
inline std::string read_all(InputFile& in) {
    std::string text;
    std::size_t used = 0;
    for (;;) {
        text.resize(used + (std::size_t(1) << 20));
        const std::size_t got = in.read(text.data() + used, text.size() - used);
        used += got;
        if (used < text.size()) break;
    }
    text.resize(used);
    return text;
}

/// `field` without the spaces and tabs around it (a space or tab delimiter is not trimmed).
[[nodiscard]] inline std::string_view trim_field(std::string_view field, char delimiter) {
    const auto blank = [delimiter](char c) { return (c == ' ' || c == '\t') && c != delimiter; };
    while (!field.empty() && blank(field.front())) field.remove_prefix(1);
    while (!field.empty() && blank(field.back())) field.remove_suffix(1);
    return field;
}

/// Reads a CSV file (raw or gzip) into features (one column per line) and labels.
/// `label_column` is 0-based, −1 for the last; `classes` 0 means max label + 1. Lines and
/// columns in messages count from 1. Empty lines are skipped. `allow_non_finite` accepts the
/// feature fields nan, inf and infinity (any case, signed; what std::from_chars reads).
/// Throws IoError / FormatError as documented on chrysalis::load_csv; ValueError for bad options.
template <class Scalar>
void read_csv(const std::string& path, int label_column, bool header, char delimiter, int classes,
              Matrix<Scalar>& features, std::vector<int>& labels, int& classes_out,
              bool allow_non_finite = false) {
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
    InputFile in(path, what);
    const std::string text = read_all(in);
    std::string_view rest(text);
    if (rest.starts_with("\xEF\xBB\xBF")) rest.remove_prefix(3);  // a UTF-8 byte order mark

    std::vector<Scalar> values;
    labels.clear();
    std::size_t columns = 0, first_line = 0, label_index = 0;
    int max_label = -1;
    for (std::size_t line_number = 1; !rest.empty(); ++line_number) {
        const std::size_t end = std::min(rest.find('\n'), rest.size());
        std::string_view line = rest.substr(0, end);
        rest.remove_prefix(std::min(end + 1, rest.size()));
        if (line.ends_with('\r')) line.remove_suffix(1);
        if (line_number == 1 && header) continue;
        if (trim_field(line, delimiter).empty()) continue;

        const auto where = [&](std::size_t column) {
            return concat(in.prefix(), "line ", line_number, ", column ", column + 1, ": ");
        };
        const std::size_t count = std::size_t(std::count(line.begin(), line.end(), delimiter)) + 1;
        if (columns == 0) {
            columns = count;
            first_line = line_number;
            label_index = label_column == -1 ? columns - 1 : std::size_t(label_column);
            if (columns < 2) {
                throw FormatError(
                    concat(in.prefix(), "line ", line_number,
                           " has 1 column; expected at least a feature and the label"));
            }
            if (label_index >= columns) {
                throw FormatError(concat(in.prefix(), "line ", line_number, " has ", columns,
                                         " columns, too few for CsvOptions::label_column = ",
                                         label_column, " (0-based)"));
            }
        } else if (count != columns) {
            throw FormatError(concat(in.prefix(), "line ", line_number, " has ", count,
                                     " columns; expected ", columns, " like line ", first_line,
                                     " (the first data line)"));
        }
        for (std::size_t column = 0; column < columns; ++column) {
            const std::size_t cut = std::min(line.find(delimiter), line.size());
            const std::string_view field = trim_field(line.substr(0, cut), delimiter);
            line.remove_prefix(std::min(cut + 1, line.size()));
            if (field.empty()) throw FormatError(where(column) + "empty field; expected a number");
            // from_chars takes no '+'; skip one, but not in "+-1".
            const bool plus = field.size() > 1 && field[0] == '+' && field[1] != '-';
            const char* first = field.data() + (plus ? 1 : 0);
            const char* last = field.data() + field.size();
            if (column == label_index) {
                long long label = 0;
                const auto [ptr, ec] = std::from_chars(first, last, label);
                if (ec == std::errc::result_out_of_range || (ptr == last && label > INT_MAX - 1)) {
                    throw FormatError(where(column) +
                                      concat("label '", field,
                                             "' is too large; expected a class label below ",
                                             INT_MAX));
                }
                if (ec != std::errc() || ptr != last) {
                    throw FormatError(
                        where(column) +
                        concat("label '", field,
                               "' is not an integer; expected an integer class label"));
                }
                if (label < 0) {
                    throw FormatError(
                        where(column) +
                        concat("label ", label, " is negative; expected a class label >= 0"));
                }
                if (classes > 0 && label >= classes) {
                    throw FormatError(
                        where(column) +
                        concat("label ", label, " is outside [0, ", classes,
                               "); expected labels below CsvOptions::classes = ", classes));
                }
                labels.push_back(int(label));
                max_label = std::max(max_label, int(label));
            } else {
                Scalar value{};
                const char* name = sizeof(Scalar) == sizeof(float) ? "float" : "double";
                const auto [ptr, ec] = std::from_chars(first, last, value);
                if (ec == std::errc::result_out_of_range) {
                    throw FormatError(where(column) +
                                      concat("'", field, "' is out of the range of ", name,
                                             "; expected a number a ", name, " can hold"));
                }
                if (ec != std::errc() || ptr != last) {
                    throw FormatError(
                        where(column) +
                        concat("'", field, "' is not a number; expected a finite decimal number"));
                }
                if (!allow_non_finite && !std::isfinite(value)) {
                    throw FormatError(where(column) +
                                      concat("'", field,
                                             "' is not finite; expected a finite decimal number "
                                             "(CsvOptions::allow_non_finite accepts nan and inf)"));
                }
                values.push_back(value);
            }
        }
    }
    if (labels.empty())
        throw FormatError(in.prefix() + "no data rows (the file is empty" +
                          (header ? " but for the header" : "") +
                          "); expected one sample per line");
    const auto n = Eigen::Index(labels.size()), f = Eigen::Index(columns - 1);
    features = Eigen::Map<const Matrix<Scalar>>(values.data(), f, n);
    classes_out = classes > 0 ? classes : max_label + 1;
}

/// Writes features (F × N) and labels as CSV, one sample per line, the label in column
/// `label_column` (0-based; −1 = last) and every value in the shortest form that reads back
/// exactly (std::to_chars). Gzip when the path ends in ".gz".
template <class Scalar>
void write_csv(const Matrix<Scalar>& features, std::span<const int> labels, const std::string& path,
               int label_column, bool header, char delimiter) {
    constexpr std::string_view what = "chrysalis::save_csv";
    check_delimiter(what, delimiter);
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
