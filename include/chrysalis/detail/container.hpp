#pragma once
// chrysalis/detail/container.hpp — the envelope every chrysalis file format shares: an 8-byte
// magic, a format version, the file's size, a body, and a CRC-32 of everything before it. The
// model format (serialize.hpp) and the checkpoint format (checkpoint.hpp) both write and read
// it here, together with the bounds-checked reader of the body.
//
// Layout (little-endian):
//   offset 0   magic        8 bytes (e.g. "CHRYSLS\0")
//   offset 8   version      u32
//   offset 12  file size    u64, the whole file including the checksum
//   offset 20  body         …
//   last 4     CRC-32       of every byte before it

#include "chrysalis/isa.hpp"  // first: see its note on GCC bug 105593

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <string>
#include <string_view>

#include "chrysalis/config.hpp"
#include "chrysalis/detail/file_io.hpp"
#include "chrysalis/errors.hpp"

namespace chrysalis::inline CHRYSALIS_ISA_NAMESPACE::detail {

/// What identifies one file format in the envelope, and how its errors name it.
struct ContainerFormat {
    std::string_view magic;   ///< exactly 8 bytes
    std::uint32_t version;    ///< the only version written and read
    std::string_view noun;    ///< "model file": "is not a chrysalis model file"
    std::string_view format;  ///< "model": "has model format version 3"
};

/// Bytes of magic, version and file size before the body.
inline constexpr std::size_t container_header_size = 8 + 4 + 8;

/// Appends a length-prefixed (u32) string.
inline void put_text(std::string& out, std::string_view text) {
    put_le(out, static_cast<std::uint32_t>(text.size()));
    out += text;
}

/// A new file of `format`: its header, with the size left to finish_container. Append the body.
inline std::string begin_container(const ContainerFormat& format) {
    std::string out(format.magic);
    put_le(out, format.version);
    put_le(out, std::uint64_t{0});  // the file size, filled in by finish_container
    return out;
}

/// Completes a file begun by begin_container: writes its size and appends the CRC-32.
inline void finish_container(std::string& out) {
    std::string size;
    put_le(size, std::uint64_t{out.size() + 4});
    out.replace(12, 8, size);
    put_le(out, crc32(out));
}

/// The magic as text, "\0" spelled out: "CHRYSLS\\0".
inline std::string magic_text(std::string_view magic) {
    std::string text;
    for (const char c : magic) text += c == '\0' ? std::string("\\0") : std::string(1, c);
    return text;
}

/// Verifies the envelope of `bytes` against `format` and returns the file without its checksum
/// (header included: the body starts at container_header_size).
/// Throws FormatError "<what>: '<path>' …" if the magic differs ("is not a chrysalis <noun>"),
/// the version differs, the file is shorter than its header or its declared size, longer than
/// its declared size, or its checksum does not match.
inline std::string_view open_container(std::string_view bytes, const ContainerFormat& format,
                                       const std::string& path, std::string_view what) {
    const auto error = [&](const auto&... parts) {
        return FormatError(concat(what, ": '", path, "' ", parts...));
    };
    if (bytes.substr(0, format.magic.size()) != format.magic.substr(0, bytes.size())) {
        throw error("is not a chrysalis ", format.noun, ": it does not begin with \"",
                    magic_text(format.magic), "\"");
    }
    const auto truncated = [&] {
        return error("is truncated: ", bytes.size(), " bytes, shorter than a ", format.noun,
                     "'s header");
    };
    if (bytes.size() < 12) throw truncated();
    const auto version = get_le<std::uint32_t>(bytes.data() + 8);
    if (version != format.version) {
        throw error("has ", format.format, " format version ", version,
                    "; this version of chrysalis reads format version ", format.version, " only");
    }
    if (bytes.size() < container_header_size + 4) throw truncated();
    const auto declared = get_le<std::uint64_t>(bytes.data() + 12);
    if (bytes.size() < declared)
        throw error("is truncated: it has ", bytes.size(), " bytes, its header says ", declared);
    if (bytes.size() > declared) {
        throw error("has ", bytes.size(), " bytes but its header says ", declared,
                    " (trailing data or a corrupt header)");
    }
    const std::string_view body = bytes.substr(0, bytes.size() - 4);
    const auto stored = get_le<std::uint32_t>(bytes.data() + body.size());
    if (const std::uint32_t computed = crc32(body); computed != stored) {
        throw error("is corrupt: its CRC-32 checksum is ", hex32(stored), " but its contents give ",
                    hex32(computed));
    }
    return body;
}

/// Bounds-checked reading of a body whose size and checksum open_container has verified:
/// running out of bytes here means a file crafted inconsistently, reported as corrupt
/// (FormatError "<what>: '<path>' is corrupt: …").
class ContainerReader {
  public:
    /// Reads `bytes` from offset `start`; `path` must outlive the reader.
    ContainerReader(std::string_view bytes, std::size_t start, const std::string& path,
                    std::string_view what)
        : bytes_(bytes), pos_(start), path_(path), what_(what) {}

    /// The next sizeof(T) bytes as a little-endian T; `field` names it in the error.
    template <class T>
    T number(std::string_view field) {
        need(sizeof(T), field);
        const T value = get_le<T>(bytes_.data() + pos_);
        pos_ += sizeof(T);
        return value;
    }
    /// The next length-prefixed string (put_text).
    std::string_view text(std::string_view field) {
        const std::size_t n = number<std::uint32_t>(field);
        need(n, field);
        pos_ += n;
        return bytes_.substr(pos_ - n, n);
    }
    /// The next n bytes.
    const char* take(std::size_t n, std::string_view field) {
        need(n, field);
        pos_ += n;
        return bytes_.data() + pos_ - n;
    }
    [[nodiscard]] std::size_t remaining() const { return bytes_.size() - pos_; }
    [[noreturn]] void corrupt(std::string_view problem) const {
        throw FormatError(concat(what_, ": '", path_, "' is corrupt: ", problem));
    }
    /// A FormatError "<what>: '<path>' <parts…>", for mismatches that are not corruption.
    template <class... Parts>
    [[nodiscard]] FormatError error(const Parts&... parts) const {
        return FormatError(concat(what_, ": '", path_, "' ", parts...));
    }

  private:
    void need(std::size_t n, std::string_view field) const {
        if (remaining() < n)
            corrupt(
                concat(field, " at byte ", pos_, " needs ", n, " bytes, ", remaining(), " remain"));
    }
    std::string_view bytes_;
    std::size_t pos_;
    const std::string& path_;
    std::string_view what_;
};

}  // namespace chrysalis::inline CHRYSALIS_ISA_NAMESPACE::detail
