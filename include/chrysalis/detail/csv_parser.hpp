#pragma once
// chrysalis/detail/csv_parser.hpp — the streaming CSV parser behind load_csv: numbers, an integer
// or named label per line, RFC 4180 quoting.

#include "chrysalis/isa.hpp"  // first: see its note on GCC bug 105593

#include <Eigen/Core>

#include <algorithm>
#include <charconv>
#include <climits>
#include <cmath>
#include <cstddef>
#include <span>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

#include "chrysalis/config.hpp"
#include "chrysalis/detail/data_io.hpp"
#include "chrysalis/errors.hpp"
#include "chrysalis/tensor.hpp"

namespace chrysalis::inline CHRYSALIS_ISA_NAMESPACE::detail {

/// The longest field load_csv reads, in bytes, blanks after it included: far beyond any number
/// (the exact decimal expansion of the smallest double has about 1,080 characters), and what
/// bounds the memory a line without delimiters (a gzip stream of zeros) can take.
inline constexpr std::size_t csv_max_field_bytes = 4096;

/// `field` without the spaces and tabs around it (a space or tab delimiter is not trimmed).
[[nodiscard]] inline std::string_view trim_field(std::string_view field, char delimiter) {
    const auto blank = [delimiter](char c) { return (c == ' ' || c == '\t') && c != delimiter; };
    while (!field.empty() && blank(field.front())) field.remove_prefix(1);
    while (!field.empty() && blank(field.back())) field.remove_suffix(1);
    return field;
}

/// RFC 4180 quoting, one byte at a time: whether a byte is a delimiter or a line end outside
/// quotes. A field is quoted when its first byte other than a space or tab is '"'; inside it, '""'
/// is one quote, and the delimiter and line ends are part of the field. A '"' anywhere else is a
/// stray quote. What the header's skip and CsvParser::check_line need; the parser proper works on
/// whole runs of bytes with the same rules.
class CsvQuoteScan {
  public:
    enum class Event { other, delimiter, line_end, stray_quote };
    explicit CsvQuoteScan(char delimiter) noexcept : delimiter_(delimiter) {}

    Event step(char c) noexcept {
        if (state_ == State::open) {
            if (c == '"') state_ = State::closing;
            return Event::other;
        }
        if (state_ == State::closing) {
            if (c == '"') {  // "" inside quotes: one quote
                state_ = State::open;
                return Event::other;
            }
            state_ = State::outside;
        }
        if (c == delimiter_) {
            field_start_ = true;
            return Event::delimiter;
        }
        if (c == '\n') {
            field_start_ = true;
            return Event::line_end;
        }
        if (c == '"') {
            if (!field_start_) return Event::stray_quote;
            state_ = State::open;
            field_start_ = false;
            return Event::other;
        }
        if (c != ' ' && c != '\t') field_start_ = false;
        return Event::other;
    }
    /// Inside an open quoted field (its closing quote not seen yet).
    [[nodiscard]] bool inside() const noexcept { return state_ == State::open; }

  private:
    enum class State : unsigned char { outside, open, closing };
    char delimiter_;
    State state_ = State::outside;
    bool field_start_ = true;
};

/// The streaming parser behind read_csv: bytes go in as they are read (feed), fields are
/// converted as soon as they end, so what it holds is the values and labels read so far (grown
/// geometrically), one 64 KiB buffer and at most one field of csv_max_field_bytes — never the
/// file's text, nor a whole line.
template <class Scalar>
class CsvParser {
  public:
    /// `class_names` (CsvOptions::class_names, checked by check_class_names) must outlive the
    /// parser: the label fields are looked up among them; empty: integer labels.
    CsvParser(const InputFile& in, int label_column, bool header, char delimiter, int classes,
              bool allow_non_finite, std::span<const std::string> class_names = {})
        : in_(in),
          label_column_(label_column),
          delimiter_(delimiter),
          classes_(classes),
          allow_non_finite_(allow_non_finite),
          skipping_header_(header),
          header_(header),
          header_scan_(delimiter) {
        stops_[0] = delimiter;
        stops_[1] = '\n';
        names_.reserve(class_names.size());
        for (std::size_t i = 0; i < class_names.size(); ++i)
            names_.emplace_back(std::string_view(class_names[i]), int(i));
        std::sort(names_.begin(), names_.end());
        class_names_ = class_names;
    }

    /// Parses the next bytes of the file; `first` says they are its beginning.
    void feed(std::string_view data, bool first) {
        if (first && data.starts_with("\xEF\xBB\xBF")) data.remove_prefix(3);  // a UTF-8 BOM
        while (!data.empty()) {
            if (skipping_header_) {
                skip_header(data);
                continue;
            }
            if (quote_ != Quote::none) {
                quoted(data);
                continue;
            }
            if (line_start_) {
                line_start_ = false;
                // The whole line is here: check its column count before its fields, so a line
                // of the wrong width is named as such rather than by one of its fields.
                if (const std::size_t end = data.find('\n'); end != std::string_view::npos)
                    check_line(data.substr(0, end));
            }
            const std::size_t stop = data.find_first_of(std::string_view(stops_, 2));
            std::string_view piece = data.substr(0, std::min(stop, data.size()));
            if (field_.empty()) {
                while (!piece.empty() && blank(piece.front())) piece.remove_prefix(1);
                if (piece.starts_with('"')) {
                    // A quoted field: nothing but blanks came before its quote. (A quote
                    // anywhere else makes its field fail to parse, and stray_quote names it.)
                    data.remove_prefix(std::size_t(piece.data() - data.data()) + 1);
                    quote_ = Quote::open;
                    continue;
                }
            }
            if (field_.size() + piece.size() > csv_max_field_bytes) too_long(piece);
            if (stop == std::string_view::npos) {
                field_.append(piece);  // continued in the next bytes
                return;
            }
            const bool line_end = data[stop] == '\n';
            data.remove_prefix(stop + 1);
            if (field_.empty()) {
                end_field(piece, line_end);
            } else {
                field_.append(piece);
                end_field(field_, line_end);
                field_.clear();
            }
        }
    }

    /// Ends the parse at the end of the file (a last line without '\n' counts). Throws
    /// FormatError for a file without data lines.
    void finish() {
        if (skipping_header_ && header_scan_.inside()) {
            throw FormatError(concat(in_.prefix(), "line ", line_number_,
                                     ": a quoted field of the header is not closed by the end of "
                                     "the file; expected a closing quote"));
        }
        if (quote_ == Quote::open) {
            throw FormatError(where(column_) +
                              "a quoted field is not closed by the end of the file; expected a "
                              "closing quote");
        }
        if (quote_ != Quote::none) {  // closed (or closing) at the end of the file
            const std::string last = std::move(field_);
            field_.clear();
            quote_ = Quote::none;
            end_field(last, true, true);
        } else if (!skipping_header_ && (column_ > 0 || !field_.empty())) {
            const std::string last = std::move(field_);
            field_.clear();
            end_field(last, true);
        }
        if (labels_.empty())
            throw FormatError(in_.prefix() + "no data rows (the file is empty" +
                              (header_ ? " but for the header" : "") +
                              "); expected one sample per line");
    }

    /// The features read, (columns − 1) × N; leaves the parser empty.
    Matrix<Scalar> take_features() {
        return values_.take(Eigen::Index(columns_ - 1), Eigen::Index(labels_.size()));
    }
    [[nodiscard]] std::vector<int>& labels() noexcept { return labels_; }
    [[nodiscard]] int max_label() const noexcept { return max_label_; }

  private:
    [[nodiscard]] bool blank(char c) const { return (c == ' ' || c == '\t') && c != delimiter_; }

    [[nodiscard]] std::string where(std::size_t column) const {
        return concat(in_.prefix(), "line ", line_number_, ", column ", column + 1, ": ");
    }

    /// The checks of a data line's width, from the first data line on. `count` columns.
    void first_line(std::size_t count) {
        columns_ = count;
        first_line_ = line_number_;
        label_index_ = label_column_ == -1 ? columns_ - 1 : std::size_t(label_column_);
        if (columns_ < 2) {
            throw FormatError(concat(in_.prefix(), "line ", line_number_,
                                     " has 1 column; expected at least a feature and the label"));
        }
        if (label_index_ >= columns_) {
            throw FormatError(concat(
                in_.prefix(), "line ", line_number_, " has ", columns_,
                " columns, too few for CsvOptions::label_column = ", label_column_, " (0-based)"));
        }
    }
    [[noreturn]] void wrong_width(std::string_view count) const {
        throw FormatError(concat(in_.prefix(), "line ", line_number_, " has ", count,
                                 " columns; expected ", columns_, " like line ", first_line_,
                                 " (the first data line)"));
    }

    /// The header (CsvOptions::header): skipped up to the first line end outside quotes, so a
    /// quoted column name may hold the delimiter or a line break. Lines are counted as the file
    /// has them.
    void skip_header(std::string_view& data) {
        std::size_t i = 0;
        for (; i < data.size(); ++i) {
            if (header_scan_.step(data[i]) != CsvQuoteScan::Event::line_end) {
                if (data[i] == '\n') ++line_number_;  // a line break inside a quoted name
                continue;
            }
            ++line_number_;
            skipping_header_ = false;
            line_start_ = true;
            ++i;
            break;
        }
        data.remove_prefix(i);
    }

    /// The bytes of a quoted field (quote_ is not none): its text up to the closing quote, then
    /// blanks up to the delimiter or the line end.
    void quoted(std::string_view& data) {
        if (quote_ == Quote::open) {
            const std::size_t q = data.find_first_of("\"\n");
            const std::string_view piece = data.substr(0, std::min(q, data.size()));
            if (field_.size() + piece.size() > csv_max_field_bytes) too_long(piece);
            field_.append(piece);
            if (q == std::string_view::npos) {
                data = {};
                return;
            }
            if (data[q] == '\n') {
                throw FormatError(where(column_) +
                                  "a quoted field is not closed before the line ends; expected a "
                                  "closing quote on the same line (a data field holds no line "
                                  "break)");
            }
            data.remove_prefix(q + 1);
            quote_ = Quote::closing;
            return;
        }
        if (quote_ == Quote::closing) {
            if (data.front() == '"') {  // "" inside quotes: one quote, part of the field
                if (field_.size() + 1 > csv_max_field_bytes) too_long("\"");
                field_ += '"';
                data.remove_prefix(1);
                quote_ = Quote::open;
            } else {
                quote_ = Quote::closed;
            }
            return;
        }
        // Closed: only blanks (and the '\r' of a "\r\n") until the delimiter or the line end.
        const std::size_t stop = data.find_first_of(std::string_view(stops_, 2));
        const std::string_view piece = data.substr(0, std::min(stop, data.size()));
        for (const char c : piece) {
            if (after_cr_ || !(blank(c) || c == '\r')) after_quote(after_cr_ ? '\r' : c);
            after_cr_ = c == '\r';
        }
        if (stop == std::string_view::npos) {
            data = {};
            return;
        }
        const bool line_end = data[stop] == '\n';
        if (after_cr_ && !line_end) after_quote('\r');
        after_cr_ = false;
        data.remove_prefix(stop + 1);
        quote_ = Quote::none;
        const std::string field = std::move(field_);
        field_.clear();
        end_field(field, line_end, true);
    }
    [[noreturn]] void after_quote(char c) const {
        throw FormatError(where(column_) + concat("'", printable(std::string_view(&c, 1)),
                                                  "' after the closing quote of a field; expected "
                                                  "the delimiter or the line end"));
    }

    /// A whole line at its start: blank lines are skipped; the others must be as wide as the
    /// first data line. Delimiters inside quoted fields do not count; a line with a stray quote,
    /// or whose quoted field runs past its end, is left to the field that holds it (which names
    /// what is wrong there).
    void check_line(std::string_view line) {
        if (line.ends_with('\r')) line.remove_suffix(1);
        if (trim_field(line, delimiter_).empty()) return;
        std::size_t count = 1;
        if (line.find('"') == std::string_view::npos) {  // no quotes: count the delimiters
            count += std::size_t(std::count(line.begin(), line.end(), delimiter_));
        } else {
            CsvQuoteScan scan(delimiter_);
            for (const char c : line) {
                const auto event = scan.step(c);
                if (event == CsvQuoteScan::Event::stray_quote) return;
                if (event == CsvQuoteScan::Event::delimiter) ++count;
            }
            if (scan.inside()) return;
        }
        if (columns_ == 0) {
            first_line(count);
        } else if (count != columns_) {
            wrong_width(concat(count));
        }
    }

    /// The first 24 bytes of `bytes` for a message: printable ASCII as is, any other byte as \xNN.
    [[nodiscard]] static std::string printable(std::string_view bytes) {
        std::string start;
        for (const char c : bytes.substr(0, std::min<std::size_t>(bytes.size(), 24))) {
            if (c >= ' ' && c <= '~') {
                start += c;
            } else {
                constexpr std::string_view hex = "0123456789abcdef";
                const auto b = static_cast<unsigned char>(c);
                start += "\\x";
                start += hex[b >> 4];
                start += hex[b & 15];
            }
        }
        return start;
    }
    [[noreturn]] void too_long(std::string_view piece) const {
        std::string bytes = field_;
        bytes.append(piece.substr(0, std::min<std::size_t>(piece.size(), 24)));
        throw FormatError(where(column_) + concat("a field of more than ", csv_max_field_bytes,
                                                  " bytes (it begins '", printable(bytes),
                                                  "…'); expected a number"));
    }

    /// A field has ended, at a delimiter or at the end of its line; `quoted`: it is the text
    /// between the quotes of a quoted field (whose blanks are ignored as outside; "" is empty,
    /// not a blank line).
    void end_field(std::string_view field, bool line_end, bool quoted = false) {
        if (line_end && !quoted && field.ends_with('\r')) field.remove_suffix(1);
        field = trim_field(field, delimiter_);
        if (line_end && !quoted && column_ == 0 && field.empty()) {  // a blank line
            next_line();
            return;
        }
        const std::size_t column = column_;
        bool label = false;
        if (columns_ == 0) {
            // The first data line, longer than the bytes at hand: its width is known at its end.
            if (line_end) {
                first_line(column + 1);
                label = column == label_index_;
            } else {
                label = label_column_ >= 0 && column == std::size_t(label_column_);
            }
        } else {
            if (line_end ? column + 1 != columns_ : column + 1 >= columns_)
                wrong_width(line_end ? concat(column + 1) : concat("more than ", columns_));
            label = column == label_index_;
        }
        if (field.empty()) throw FormatError(where(column) + "empty field; expected a number");
        field_quoted_ = quoted;
        if (label) {
            parse_label(field, column);
        } else {
            parse_feature(field, column);
        }
        if (line_end) {
            next_line();
        } else {
            ++column_;
        }
    }

    void next_line() {
        column_ = 0;
        ++line_number_;
        line_start_ = true;
    }

    /// Throws FormatError if an unquoted field that is not a number holds a quote: a field
    /// may be quoted only whole. (Checked once the field fails to parse, so that reading a
    /// number costs nothing more.)
    void stray_quote(std::string_view field, std::size_t column) const {
        if (field_quoted_ || field.find('"') == std::string_view::npos) return;
        throw FormatError(where(column) + concat("a quote inside the unquoted field '",
                                                 printable(field),
                                                 "'; expected a number, or a field quoted "
                                                 "whole (\"1.5\")"));
    }

    /// A label field among CsvOptions::class_names: its index there.
    void parse_name(std::string_view field, std::size_t column) {
        const auto it = std::lower_bound(names_.begin(), names_.end(), field,
                                         [](const std::pair<std::string_view, int>& e,
                                            std::string_view f) { return e.first < f; });
        if (it == names_.end() || it->first != field) {
            stray_quote(field, column);
            std::string list;
            for (std::size_t i = 0; i < class_names_.size() && i < 10; ++i)
                list += concat(i > 0 ? ", " : "", "'", class_names_[i], "'");
            if (class_names_.size() > 10) list += concat(", … (", class_names_.size(), " in all)");
            throw FormatError(where(column) +
                              concat("label '", printable(field),
                                     "' is not one of CsvOptions::class_names; expected one of ",
                                     list));
        }
        labels_.push_back(it->second);
        max_label_ = std::max(max_label_, it->second);
    }

    void parse_label(std::string_view field, std::size_t column) {
        if (!names_.empty()) {
            parse_name(field, column);
            return;
        }
        // from_chars takes no '+'; skip one, but not in "+-1".
        const bool plus = field.size() > 1 && field[0] == '+' && field[1] != '-';
        const char* first = field.data() + (plus ? 1 : 0);
        const char* last = field.data() + field.size();
        long long label = 0;
        const auto [ptr, ec] = std::from_chars(first, last, label);
        if (ec == std::errc::result_out_of_range || (ptr == last && label > INT_MAX - 1)) {
            throw FormatError(
                where(column) +
                concat("label '", field, "' is too large; expected a class label below ", INT_MAX));
        }
        if (ec != std::errc() || ptr != last) {
            stray_quote(field, column);
            throw FormatError(
                where(column) +
                concat("label '", field, "' is not an integer; expected an integer class label"));
        }
        if (label < 0) {
            throw FormatError(where(column) +
                              concat("label ", label, " is negative; expected a class label >= 0"));
        }
        if (classes_ > 0 && label >= classes_) {
            throw FormatError(where(column) +
                              concat("label ", label, " is outside [0, ", classes_,
                                     "); expected labels below CsvOptions::classes = ", classes_));
        }
        labels_.push_back(int(label));
        max_label_ = std::max(max_label_, int(label));
    }

    void parse_feature(std::string_view field, std::size_t column) {
        const bool plus = field.size() > 1 && field[0] == '+' && field[1] != '-';
        const char* first = field.data() + (plus ? 1 : 0);
        const char* last = field.data() + field.size();
        Scalar value{};
        const char* name = sizeof(Scalar) == sizeof(float) ? "float" : "double";
        const auto [ptr, ec] = std::from_chars(first, last, value);
        if (ec == std::errc::result_out_of_range) {
            throw FormatError(where(column) + concat("'", field, "' is out of the range of ", name,
                                                     "; expected a number a ", name, " can hold"));
        }
        if (ec != std::errc() || ptr != last) {
            stray_quote(field, column);
            throw FormatError(
                where(column) +
                concat("'", field, "' is not a number; expected a finite decimal number"));
        }
        if (!allow_non_finite_ && !std::isfinite(value)) {
            throw FormatError(where(column) +
                              concat("'", field,
                                     "' is not finite; expected a finite decimal number "
                                     "(CsvOptions::allow_non_finite accepts nan and inf)"));
        }
        values_.push_back(value);
    }

    const InputFile& in_;
    int label_column_;
    char delimiter_;
    int classes_;
    bool allow_non_finite_;
    bool skipping_header_;  // in the header, with CsvOptions::header
    bool header_;
    CsvQuoteScan header_scan_;  // where the header's skip stands
    bool line_start_ = true;    // the next byte begins a line
    /// Where a quoted field stands: none (not in one), open (inside the quotes), closing (a
    /// quote seen inside: "" or the closing one, as the next byte tells), closed (after it).
    enum class Quote : unsigned char { none, open, closing, closed };
    Quote quote_ = Quote::none;
    bool after_cr_ = false;                                // closed, and a '\r' was the last byte
    bool field_quoted_ = false;                            // the field being parsed was quoted
    std::vector<std::pair<std::string_view, int>> names_;  // class_names sorted, with indices
    std::span<const std::string> class_names_;             // as given, for messages
    char stops_[2] = {',', '\n'};                          // the delimiter, the line end
    std::string field_;  // the current field's bytes so far, when it spans two reads (or quoted)
    std::size_t line_number_ = 1, column_ = 0;                    // from 1 and from 0
    std::size_t columns_ = 0, first_line_ = 0, label_index_ = 0;  // set by the first data line
    GrowingValues<Scalar> values_;
    std::vector<int> labels_;
    int max_label_ = -1;
};

}  // namespace chrysalis::inline CHRYSALIS_ISA_NAMESPACE::detail
