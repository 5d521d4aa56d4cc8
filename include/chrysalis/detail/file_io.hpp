#pragma once
// chrysalis/detail/file_io.hpp — what the file formats share: reading a whole file, replacing a
// file atomically (POSIX), little-endian numbers, and CRC-32.

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <bit>
#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <string>
#include <string_view>
#include <system_error>
#include <type_traits>

#include "chrysalis/config.hpp"
#include "chrysalis/errors.hpp"

namespace chrysalis::detail {

/// The operating system's text for an errno value ("No such file or directory").
inline std::string errno_text(int error) {
    return std::generic_category().message(error);
}

/// Reads the whole file at `path`.
/// Throws IoError "<what>: cannot read '<path>': <reason>" if it cannot be opened or read.
inline std::string read_file(const std::string& path, std::string_view what) {
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) throw IoError(concat(what, ": cannot read '", path, "': ", errno_text(errno)));
    std::string bytes;
    struct stat info {};
    if (::fstat(fd, &info) == 0 && info.st_size > 0) bytes.reserve(std::size_t(info.st_size));
    char buffer[1 << 16];
    for (;;) {
        const ::ssize_t n = ::read(fd, buffer, sizeof buffer);
        if (n > 0) {
            bytes.append(buffer, std::size_t(n));
        } else if (n == 0) {
            break;
        } else if (errno != EINTR) {
            const int error = errno;
            ::close(fd);
            throw IoError(concat(what, ": cannot read '", path, "': ", errno_text(error)));
        }
    }
    ::close(fd);
    return bytes;
}

/// Replaces the file at `path` by `bytes`, atomically: writes "<path>.tmp-<pid>" in the same
/// directory, fsyncs it, renames it over `path` (atomic on POSIX file systems) and fsyncs the
/// directory. A crash at any moment leaves either the old file or the new one, never a mixture.
/// Throws IoError "<what>: cannot write '<path>': <step>: <reason>" on any failure, after removing
/// the temporary file; `path` is then untouched. Not for concurrent writes to one path from
/// several threads of one process (they would share the temporary name).
inline void write_file_atomically(const std::string& path, std::string_view bytes,
                                  std::string_view what) {
    const std::string temporary = path + ".tmp-" + std::to_string(::getpid());
    int fd = ::open(temporary.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
    if (fd < 0) {
        throw IoError(concat(what, ": cannot write '", path, "': cannot create '", temporary,
                             "': ", errno_text(errno)));
    }
    const auto fail = [&](std::string_view step) {
        const int error = errno;
        if (fd >= 0) ::close(fd);
        ::unlink(temporary.c_str());
        throw IoError(concat(what, ": cannot write '", path, "': ", step, ": ", errno_text(error)));
    };
    for (std::size_t done = 0; done < bytes.size();) {
        const ::ssize_t n = ::write(fd, bytes.data() + done, bytes.size() - done);
        if (n >= 0) {
            done += std::size_t(n);
        } else if (errno != EINTR) {
            fail("write");
        }
    }
    if (::fsync(fd) != 0) fail("fsync");
    const int closing = fd;
    fd = -1;
    if (::close(closing) != 0) fail("close");
    if (::rename(temporary.c_str(), path.c_str()) != 0) fail("rename");
    // Make the rename itself durable. The new file is complete either way, so a directory that
    // cannot be opened or synced (some file systems refuse) is not an error.
    std::string directory = std::filesystem::path(path).parent_path().string();
    if (directory.empty()) directory = ".";
    const int dir = ::open(directory.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dir >= 0) {
        (void)::fsync(dir);
        ::close(dir);
    }
}

/// The unsigned integer of the same size as T (T arithmetic, 1 to 8 bytes).
template <class T>
using bits_of = std::conditional_t<
    sizeof(T) == 1, std::uint8_t,
    std::conditional_t<sizeof(T) == 2, std::uint16_t,
                       std::conditional_t<sizeof(T) == 4, std::uint32_t, std::uint64_t>>>;

/// Appends `value` as sizeof(T) little-endian bytes (floating point as its IEEE 754 bits).
template <class T>
void put_le(std::string& out, T value) {
    static_assert(std::is_arithmetic_v<T> && sizeof(T) <= 8);
    const auto bits = std::bit_cast<bits_of<T>>(value);
    char bytes[sizeof(T)];
    for (std::size_t i = 0; i < sizeof(T); ++i) bytes[i] = char((bits >> (8 * i)) & 0xFF);
    out.append(bytes, sizeof(T));
}

/// Reads a T from sizeof(T) little-endian bytes at p.
template <class T>
T get_le(const char* p) {
    static_assert(std::is_arithmetic_v<T> && sizeof(T) <= 8);
    bits_of<T> bits = 0;
    for (std::size_t i = 0; i < sizeof(T); ++i)
        bits =
            bits_of<T>(bits | bits_of<T>(bits_of<T>(static_cast<unsigned char>(p[i])) << (8 * i)));
    return std::bit_cast<T>(bits);
}

/// Appends n values as little-endian bytes (one copy on little-endian machines).
template <class T>
void put_le_values(std::string& out, const T* values, std::size_t n) {
    if constexpr (std::endian::native == std::endian::little) {
        out.append(reinterpret_cast<const char*>(values), n * sizeof(T));
    } else {
        for (std::size_t i = 0; i < n; ++i) put_le(out, values[i]);
    }
}

/// Reads n little-endian values from p into `values`.
template <class T>
void get_le_values(const char* p, std::size_t n, T* values) {
    if constexpr (std::endian::native == std::endian::little) {
        if (n != 0) std::memcpy(values, p, n * sizeof(T));
    } else {
        for (std::size_t i = 0; i < n; ++i) values[i] = get_le<T>(p + i * sizeof(T));
    }
}

inline constexpr std::array<std::uint32_t, 256> crc32_table = [] {
    std::array<std::uint32_t, 256> table{};
    for (std::uint32_t i = 0; i < 256; ++i) {
        std::uint32_t c = i;
        for (int k = 0; k < 8; ++k) c = (c & 1) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
        table[i] = c;
    }
    return table;
}();

/// CRC-32 (IEEE 802.3, reflected, polynomial 0xEDB88320): the checksum of zlib, gzip and PNG, so
/// Python's zlib.crc32(bytes) gives the same number.
inline std::uint32_t crc32(std::string_view bytes) noexcept {
    std::uint32_t c = 0xFFFFFFFFu;
    for (const char byte : bytes)
        c = crc32_table[(c ^ static_cast<unsigned char>(byte)) & 0xFF] ^ (c >> 8);
    return c ^ 0xFFFFFFFFu;
}

}  // namespace chrysalis::detail
