#pragma once
// chrysalis/detail/npy.hpp — NumPy's .npy format: encoding a column-major array, parsing a
// header (format versions 1.0, 2.0 and 3.0) and decoding '<f4' / '<f8' data of either order.
//
// A .npy file is the magic "\x93NUMPY", a major and a minor version byte, the header length
// (uint16 little-endian in 1.0, uint32 in 2.0 and 3.0), the header — a Python dict literal like
// {'descr': '<f4', 'fortran_order': True, 'shape': (3, 4), } padded with spaces so the data
// starts at a multiple of 64 bytes, and ended by '\n' — then the raw elements.

#include "chrysalis/isa.hpp"  // first: see its note on GCC bug 105593

#include <Eigen/Core>

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include "chrysalis/config.hpp"
#include "chrysalis/detail/file_io.hpp"
#include "chrysalis/errors.hpp"
#include "chrysalis/tensor.hpp"

namespace chrysalis::inline CHRYSALIS_ISA_NAMESPACE::detail {

inline constexpr std::string_view npy_magic{"\x93NUMPY", 6};

/// The NumPy type string of a scalar: '<f4' for float, '<f8' for double.
template <class S>
constexpr std::string_view npy_descr() {
    static_assert(is_supported_scalar_v<S>, "chrysalis: .npy files hold float or double here");
    if constexpr (std::is_same_v<S, float>) return "<f4";
    return "<f8";
}

/// A shape as Python prints it: "(3, 4)", "(4,)", "()".
inline std::string npy_shape_text(const std::vector<std::uint64_t>& shape) {
    std::string text = "(";
    for (std::size_t i = 0; i < shape.size(); ++i) {
        if (i > 0) text += ", ";
        text += std::to_string(shape[i]);
    }
    return text + (shape.size() == 1 ? ",)" : ")");
}

/// The .npy bytes (format 1.0) of a rows × cols column-major array, written with
/// fortran_order True so the data is copied as is. `one_d` writes shape (rows,); cols must be 1.
template <class S>
std::string encode_npy(const S* data, std::size_t rows, std::size_t cols, bool one_d) {
    const std::vector<std::uint64_t> shape =
        one_d ? std::vector<std::uint64_t>{rows} : std::vector<std::uint64_t>{rows, cols};
    std::string header =
        concat("{'descr': '", npy_descr<S>(),
               "', 'fortran_order': True, 'shape': ", npy_shape_text(shape), ", }");
    const std::size_t unpadded = npy_magic.size() + 2 + 2 + header.size() + 1;
    header.append((64 - unpadded % 64) % 64, ' ');
    header += '\n';
    std::string out;
    out.reserve(npy_magic.size() + 4 + header.size() + rows * cols * sizeof(S));
    out += npy_magic;
    out += '\x01';
    out += '\x00';
    put_le(out, static_cast<std::uint16_t>(header.size()));
    out += header;
    put_le_values(out, data, rows * cols);
    return out;
}

/// The parts of a .npy file: the header's three entries and the bytes after the header.
struct NpyFile {
    std::string descr;
    bool fortran_order = false;
    std::vector<std::uint64_t> shape;
    std::string_view data;
};

/// Reads the header dict. Every error is a FormatError "<what>: '<path>' has a bad header: …".
class NpyHeaderParser {
  public:
    NpyHeaderParser(std::string_view text, std::string_view what, const std::string& path)
        : text_(text), what_(what), path_(path) {}

    void parse(NpyFile& file) {
        bool descr = false, order = false, shape = false;
        skip_space();
        expect('{');
        for (;;) {
            skip_space();
            if (peek() == '}') break;
            const std::string key = string_literal("a key in quotes");
            skip_space();
            expect(':');
            skip_space();
            if (key == "descr") {
                if (peek() != '\'' && peek() != '"')
                    fail("'descr' is not a simple type string (structured dtypes are not read)");
                file.descr = string_literal("the type string");
                descr = true;
            } else if (key == "fortran_order") {
                file.fortran_order = boolean();
                order = true;
            } else if (key == "shape") {
                file.shape = tuple();
                shape = true;
            } else {
                fail(concat("unexpected key '", key, "'"));
            }
            skip_space();
            if (peek() == ',') {
                ++pos_;
            } else if (peek() != '}') {
                fail("expected ',' or '}'");
            }
        }
        ++pos_;
        skip_space();
        if (pos_ != text_.size()) fail("unexpected text after '}'");
        if (!descr || !order || !shape)
            fail("it must have the keys 'descr', 'fortran_order' and 'shape'");
    }

  private:
    [[noreturn]] void fail(const std::string& problem) const {
        std::string_view shown = text_.substr(0, 120);
        while (!shown.empty() && (shown.back() == ' ' || shown.back() == '\n'))
            shown.remove_suffix(1);
        throw FormatError(concat(what_, ": '", path_, "' has a bad .npy header: ", problem,
                                 " at offset ", pos_, " of \"", shown, "\""));
    }
    [[nodiscard]] char peek() const { return pos_ < text_.size() ? text_[pos_] : '\0'; }
    void skip_space() {
        while (pos_ < text_.size() && (text_[pos_] == ' ' || text_[pos_] == '\t' ||
                                       text_[pos_] == '\n' || text_[pos_] == '\r'))
            ++pos_;
    }
    void expect(char c) {
        if (peek() != c) fail(concat("expected '", c, "'"));
        ++pos_;
    }
    std::string string_literal(std::string_view expected) {
        const char quote = peek();
        if (quote != '\'' && quote != '"') fail(concat("expected ", expected));
        const std::size_t end = text_.find(quote, pos_ + 1);
        if (end == std::string_view::npos) fail("unterminated string");
        std::string value(text_.substr(pos_ + 1, end - pos_ - 1));
        if (value.find('\\') != std::string::npos) fail("escapes in strings are not read");
        pos_ = end + 1;
        return value;
    }
    bool boolean() {
        if (text_.substr(pos_, 4) == "True") {
            pos_ += 4;
            return true;
        }
        if (text_.substr(pos_, 5) == "False") {
            pos_ += 5;
            return false;
        }
        fail("'fortran_order' must be True or False");
    }
    std::vector<std::uint64_t> tuple() {
        std::vector<std::uint64_t> dims;
        expect('(');
        for (;;) {
            skip_space();
            if (peek() == ')') break;
            if (peek() < '0' || peek() > '9') fail("a dimension must be a non-negative integer");
            std::uint64_t value = 0;
            while (peek() >= '0' && peek() <= '9') {
                if (value > (std::uint64_t(1) << 56)) fail("a dimension is too large");
                value = value * 10 + std::uint64_t(text_[pos_++] - '0');
            }
            if (peek() == 'L') ++pos_;  // Python 2 long literals: (3L, 4L)
            dims.push_back(value);
            skip_space();
            if (peek() == ',') {
                ++pos_;
            } else if (peek() != ')') {
                fail("expected ',' or ')' in the shape");
            }
        }
        ++pos_;
        return dims;
    }

    std::string_view text_;
    std::string_view what_;
    const std::string& path_;
    std::size_t pos_ = 0;
};

/// Splits a .npy file into header entries and data. Throws FormatError naming `path` for a file
/// that is not .npy, of another format version, truncated inside the header, or whose header
/// does not parse.
inline NpyFile parse_npy(std::string_view bytes, std::string_view what, const std::string& path) {
    if (bytes.substr(0, npy_magic.size()) != npy_magic.substr(0, bytes.size())) {
        throw FormatError(
            concat(what, ": '", path, "' is not a .npy file: it does not begin with \\x93NUMPY"));
    }
    if (bytes.size() < 10) {
        throw FormatError(concat(what, ": '", path, "' is truncated: ", bytes.size(),
                                 " bytes, shorter than a .npy header"));
    }
    const auto major = static_cast<unsigned char>(bytes[6]);
    const auto minor = static_cast<unsigned char>(bytes[7]);
    std::size_t header_size = 0, header_start = 0;
    if (major == 1) {
        header_size = get_le<std::uint16_t>(bytes.data() + 8);
        header_start = 10;
    } else if ((major == 2 || major == 3) && bytes.size() >= 12) {
        header_size = get_le<std::uint32_t>(bytes.data() + 8);
        header_start = 12;
    } else if (major == 2 || major == 3) {
        throw FormatError(concat(what, ": '", path, "' is truncated: ", bytes.size(),
                                 " bytes, shorter than a .npy header"));
    } else {
        throw FormatError(concat(what, ": '", path, "' is .npy format version ", int(major), ".",
                                 int(minor), "; versions 1.0, 2.0 and 3.0 are supported"));
    }
    if (bytes.size() - header_start < header_size) {
        throw FormatError(concat(what, ": '", path, "' is truncated: its header needs ",
                                 header_start + header_size, " bytes, the file has ",
                                 bytes.size()));
    }
    NpyFile file;
    NpyHeaderParser(bytes.substr(header_start, header_size), what, path).parse(file);
    file.data = bytes.substr(header_start + header_size);
    return file;
}

/// Throws FormatError naming `path` and the first element (row, column, value) of m that is
/// finite but becomes ±∞ when converted to S: '<f8' data beyond float's range (about ±3.4e38)
/// read as float. Values that round to ±FLT_MAX are kept (round to nearest, as the cast does);
/// NaN and ±∞ stored in the file are read as they are, in float as in double.
template <class S, class M>
void check_fits_in(const M& m, std::string_view what, const std::string& path) {
    if constexpr (sizeof(typename M::Scalar) > sizeof(S)) {
        for (Eigen::Index i = 0; i < m.rows(); ++i)
            for (Eigen::Index j = 0; j < m.cols(); ++j) {
                const auto v = m(i, j);
                if (std::isfinite(v) && std::isinf(static_cast<S>(v)))
                    throw FormatError(concat(what, ": '", path, "' holds ", v, " at row ", i,
                                             ", column ", j, ", beyond the range of ",
                                             scalar_name<S>(),
                                             " (|x| <= ", double(std::numeric_limits<S>::max()),
                                             "); load it as double"));
            }
    }
}

/// The rows × cols elements of type T in `data` (row-major when c_order) as a Matrix<S>.
/// Throws as check_fits_in when T is wider than S and a finite value does not fit.
template <class S, class T>
Matrix<S> decode_npy_data(std::string_view data, std::size_t rows, std::size_t cols, bool c_order,
                          std::string_view what, const std::string& path) {
    const auto r = static_cast<Eigen::Index>(rows), c = static_cast<Eigen::Index>(cols);
    if (c_order) {
        Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor> m(r, c);
        get_le_values(data.data(), rows * cols, m.data());
        check_fits_in<S>(m, what, path);
        return m.template cast<S>();
    }
    Matrix<T> m(r, c);
    get_le_values(data.data(), rows * cols, m.data());
    check_fits_in<S>(m, what, path);
    return m.template cast<S>();
}

/// Decodes a whole .npy file into a Matrix<S>: '<f4' or '<f8' (converted to S), C or Fortran
/// order, 1-D (as one column) or 2-D. Throws FormatError naming `path` and what was found for
/// any other type, byte order or number of dimensions, and for data of the wrong length.
template <class S>
Matrix<S> decode_npy(std::string_view bytes, std::string_view what, const std::string& path) {
    const NpyFile file = parse_npy(bytes, what, path);
    const bool f4 = file.descr == "<f4", f8 = file.descr == "<f8";
    if (file.descr == ">f4" || file.descr == ">f8") {
        throw FormatError(concat(what, ": '", path, "' holds big-endian data ('", file.descr,
                                 "'); only little-endian '<f4' and '<f8' are read (convert with "
                                 "a.astype('<f",
                                 file.descr[2], "'))"));
    }
    if (!f4 && !f8) {
        throw FormatError(concat(what, ": '", path, "' holds dtype '", file.descr,
                                 "'; only '<f4' (float32) and '<f8' (float64) are read (convert "
                                 "with a.astype(np.float32))"));
    }
    const std::string shape = npy_shape_text(file.shape);
    if (file.shape.empty() || file.shape.size() > 2) {
        throw FormatError(concat(what, ": '", path, "' holds a ", file.shape.size(),
                                 "-D array of shape ", shape,
                                 "; only 1-D and 2-D arrays are read"));
    }
    const std::uint64_t rows = file.shape[0], cols = file.shape.size() == 2 ? file.shape[1] : 1;
    const std::size_t item = f4 ? 4 : 8;
    const auto limit = std::uint64_t(std::numeric_limits<Eigen::Index>::max()) / item;
    if (cols != 0 && rows > limit / cols) {
        throw FormatError(concat(what, ": '", path, "' has shape ", shape, ", too large to load"));
    }
    const std::uint64_t needed = rows * cols * item;
    if (file.data.size() != needed) {
        throw FormatError(concat(what, ": '", path, "' ",
                                 file.data.size() < needed ? "is truncated: it holds " : "holds ",
                                 file.data.size(), " bytes of data but shape ", shape, " of '",
                                 file.descr, "' needs ", needed));
    }
    const bool c_order = !file.fortran_order;
    return f4 ? decode_npy_data<S, float>(file.data, rows, cols, c_order, what, path)
              : decode_npy_data<S, double>(file.data, rows, cols, c_order, what, path);
}

}  // namespace chrysalis::inline CHRYSALIS_ISA_NAMESPACE::detail
