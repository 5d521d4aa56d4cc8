#pragma once
// chrysalis/detail/file_io.hpp — what the file formats share: reading a whole file, replacing a
// file atomically (POSIX), little-endian numbers, and CRC-32.

#include "chrysalis/isa.hpp"  // first: see its note on GCC bug 105593

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
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
#include <utility>

#include "chrysalis/config.hpp"
#include "chrysalis/errors.hpp"

namespace chrysalis {
// Not in the instruction-set namespace (chrysalis/isa.hpp), and not `detail` (which would make
// chrysalis::detail ambiguous with that namespace's own): one counter for the whole program, so
// that files of one program compiled with different -march flags, saving at once, never pick
// the same temporary name. A variable, not code: the same in every translation unit.
namespace file_io_detail {
/// The number of temporaries AtomicFile has named in this process (see temporary_name).
inline std::atomic<unsigned long> temporaries{0};
}  // namespace file_io_detail
}  // namespace chrysalis

namespace chrysalis::inline CHRYSALIS_ISA_NAMESPACE::detail {

/// The operating system's text for an errno value ("No such file or directory").
inline std::string errno_text(int error) {
    return std::generic_category().message(error);
}

/// What a file of this mode is, for messages: "a directory", "a FIFO (named pipe)", …
inline const char* file_kind(mode_t mode) {
    if (S_ISREG(mode)) return "a regular file";
    if (S_ISDIR(mode)) return "a directory";
    if (S_ISFIFO(mode)) return "a FIFO (named pipe)";
    if (S_ISCHR(mode)) return "a character device";
    if (S_ISBLK(mode)) return "a block device";
    if (S_ISSOCK(mode)) return "a socket";
    if (S_ISLNK(mode)) return "a symbolic link";
    return "not a regular file";
}

/// Refuses a path holding a NUL byte before the operating system sees it: every system call
/// reads the path only up to the NUL, so another file (the prefix) would be read, or a save
/// would truncate and write that file in place (its temporary's name cut at the NUL is the file
/// itself). Throws IoError "<what>: cannot <verb> '<path, the NUL as \0>': the path contains a
/// NUL byte at offset <k>, which no file name can hold" (the message holds no NUL, which would
/// end what()).
inline void require_path_without_nul(const std::string& path, std::string_view what,
                                     std::string_view verb) {
    const std::size_t k = path.find('\0');
    if (k == std::string::npos) return;
    std::string shown;
    for (const char c : path) {
        if (c == '\0')
            shown += "\\0";
        else
            shown += c;
    }
    throw IoError(concat(what, ": cannot ", verb, " '", shown,
                         "': the path contains a NUL byte at offset ", k,
                         ", which no file name can hold"));
}

/// Opens `path` (symbolic links followed) for reading if it is a regular file, at once: the open
/// does not block (a FIFO would wait for a writer) and anything but a regular file — a FIFO, a
/// device such as /dev/zero that never ends, a directory, a socket — is refused before a byte is
/// read. Returns the descriptor, in blocking mode; on failure returns -1 with `why` set: the
/// operating system's reason (then `error` is its errno, else 0), "it is a directory, not a
/// file" or "it is a FIFO (named pipe), not a regular file" and the like.
inline int open_regular_file(const std::string& path, std::string& why, int& error) {
    error = 0;
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
    if (fd < 0) {
        error = errno;
        why = errno_text(error);
        return -1;
    }
    struct stat info {};
    if (::fstat(fd, &info) != 0) {
        error = errno;
        why = errno_text(error);
        ::close(fd);
        return -1;
    }
    if (!S_ISREG(info.st_mode)) {
        why = S_ISDIR(info.st_mode)
                  ? std::string("it is a directory, not a file")
                  : concat("it is ", file_kind(info.st_mode), ", not a regular file");
        ::close(fd);
        return -1;
    }
    const int flags = ::fcntl(fd, F_GETFL);
    if (flags >= 0) (void)::fcntl(fd, F_SETFL, flags & ~O_NONBLOCK);
    return fd;
}

/// The FormatError of a file whose data goes beyond the byte limit `max_bytes`, named `limit` in
/// the message ("max_bytes", "CsvOptions::max_bytes"). With `size` > 0 (known before reading):
/// "<what>: '<path>'<sep>has <size> bytes, more than the byte limit of <max_bytes> bytes
/// (<limit>); refused before reading it …"; else "<what>: '<path>'<sep><verb> more than
/// <max_bytes> bytes, the byte limit (<limit>); reading stopped there …", `verb` "has" or
/// "decompresses to". `sep` follows the path: ": " in the data loaders' messages, " " in the
/// model, .npy and checkpoint formats'.
inline FormatError over_byte_limit(std::string_view what, const std::string& path,
                                   std::string_view sep, std::uint64_t max_bytes,
                                   std::string_view limit, std::string_view verb,
                                   std::uint64_t size = 0) {
    const std::string raise = concat(" (raise ", limit, " to load a larger file)");
    if (size > 0) {
        return FormatError(concat(what, ": '", path, "'", sep, "has ", size,
                                  " bytes, more than the byte limit of ", max_bytes, " bytes (",
                                  limit, "); refused before reading it", raise));
    }
    return FormatError(concat(what, ": '", path, "'", sep, verb, " more than ", max_bytes,
                              " bytes, the byte limit (", limit, "); reading stopped there",
                              raise));
}

/// Reads the whole file at `path`: at most `max_bytes` bytes (default_max_bytes; `limit` names
/// the parameter in the message). The buffer grows geometrically as the bytes arrive (doubling,
/// from 64 KiB, never beyond the file's size + 1), so what is allocated is at most about twice
/// what was read, whatever the file's size claims (a sparse file).
/// Throws IoError "<what>: cannot read '<path>': <reason>" if it cannot be opened or read, or is
/// not a regular file (see open_regular_file: a FIFO or a device is refused at once);
/// FormatError "<what>: '<path>' has <size> bytes, more than the byte limit of <max_bytes> bytes
/// (<limit>); …" before reading a file larger than the limit, and "… has more than <max_bytes>
/// bytes …" as soon as more than that has been read (a file that grows while it is read).
inline std::string read_file(const std::string& path, std::string_view what,
                             std::uint64_t max_bytes = default_max_bytes,
                             std::string_view limit = "max_bytes") {
    require_path_without_nul(path, what, "read");
    std::string why;
    int open_error = 0;
    const int fd = open_regular_file(path, why, open_error);
    if (fd < 0) throw IoError(concat(what, ": cannot read '", path, "': ", why));
    struct stat info {};
    const std::uint64_t size =
        ::fstat(fd, &info) == 0 && info.st_size > 0 ? std::uint64_t(info.st_size) : 0;
    if (size > max_bytes) {
        ::close(fd);
        throw over_byte_limit(what, path, " ", max_bytes, limit, "has", size);
    }
    std::string bytes;
    std::size_t used = 0;
    for (;;) {
        if (used == bytes.size()) {
            // Room for one byte more than the file's size (which shows its end) while the file
            // is no longer than fstat said, else for one byte more than the limit (which shows
            // that it goes beyond).
            const std::uint64_t last = used <= size ? size : max_bytes;
            const std::uint64_t most = last == UINT64_MAX ? last : last + 1;
            bytes.resize(std::size_t(
                std::min(std::max<std::uint64_t>(2 * std::uint64_t{used}, 1 << 16), most)));
        }
        const ::ssize_t n = ::read(fd, bytes.data() + used, bytes.size() - used);
        if (n > 0) {
            used += std::size_t(n);
            if (used > max_bytes) {
                ::close(fd);
                throw over_byte_limit(what, path, " ", max_bytes, limit, "has");
            }
        } else if (n == 0) {
            break;
        } else if (errno != EINTR) {
            const int error = errno;
            ::close(fd);
            throw IoError(concat(what, ": cannot read '", path, "': ", errno_text(error)));
        }
    }
    ::close(fd);
    bytes.resize(used);
    return bytes;
}

namespace test_hooks {

/// Fault injection for the crash-safety tests, never set by the library itself. When not null,
/// every atomic file write (save, save_npy, export_npy, save_checkpoint, save_idx, save_csv)
/// calls it once per file with the temporary's path, after part of the data has reached the
/// temporary and before the rest is written; tests make it kill the process there. A plain
/// pointer always compiled in, rather than a macro-gated one, so that every translation unit
/// sees the same definition (no ODR trap); its cost is one load and branch per file written,
/// next to an fsync. Set it only while no other thread is saving.
inline void (*after_partial_write)(const std::string& temporary) = nullptr;

}  // namespace test_hooks

/// Where a save to `path` lands: `path` itself, or — when it is a symbolic link — the file the
/// chain of links ends at (relative links resolved from their own directory), so that saving
/// through a link replaces its target and keeps the link. Returns the target; throws IoError
/// "<what>: cannot write '<path>': it is <kind>; only a regular file is replaced" when the
/// target exists and is not a regular file (a directory, a FIFO, a device: replacing a device
/// node by a regular file would break it), and for a loop of links.
inline std::string save_target(const std::string& path, std::string_view what) {
    require_path_without_nul(path, what, "write");
    std::string target = path;
    for (int hops = 0; hops < 40; ++hops) {
        struct stat info {};
        if (::lstat(target.c_str(), &info) != 0) {
            if (errno == ENOENT) return target;  // a new file (or a dangling link's target)
            throw IoError(concat(what, ": cannot write '", path, "': ", errno_text(errno)));
        }
        if (S_ISREG(info.st_mode)) return target;
        if (!S_ISLNK(info.st_mode)) {
            throw IoError(concat(what, ": cannot write '", path, "': it is ",
                                 file_kind(info.st_mode), "; only a regular file is replaced"));
        }
        std::string link(std::size_t(info.st_size > 0 ? info.st_size : 255) + 1, '\0');
        const ::ssize_t n = ::readlink(target.c_str(), link.data(), link.size());
        if (n < 0) throw IoError(concat(what, ": cannot write '", path, "': ", errno_text(errno)));
        link.resize(std::size_t(n));
        const std::filesystem::path next(link);
        target = next.is_absolute() ? link
                                    : (std::filesystem::path(target).parent_path() / next).string();
    }
    throw IoError(concat(what, ": cannot write '", path, "': ", errno_text(ELOOP)));
}

/// What a save of several files checks for each of them before writing the first: save_target's
/// checks, and that the target's directory exists and is a directory. Throws IoError
/// "<what>: cannot write '<path>': …" naming what is wrong; changes nothing.
inline void check_save_target(const std::string& path, std::string_view what) {
    const std::filesystem::path target(save_target(path, what));
    const std::filesystem::path dir = target.has_parent_path() ? target.parent_path() : ".";
    struct stat info {};
    if (::stat(dir.c_str(), &info) != 0) {
        throw IoError(concat(what, ": cannot write '", path, "': cannot open its directory '",
                             dir.string(), "': ", errno_text(errno)));
    }
    if (!S_ISDIR(info.st_mode)) {
        throw IoError(
            concat(what, ": cannot write '", path, "': '", dir.string(), "' is not a directory"));
    }
}

/// The name of a temporary beside `target`: "<name>.tmp-<pid>-<n>", with <name> shortened so
/// that the whole fits NAME_MAX (255 bytes) whenever the target's own name does.
inline std::string temporary_name(const std::string& target, unsigned long n) {
    const std::filesystem::path p(target);
    const std::string suffix = concat(".tmp-", ::getpid(), "-", n);
    std::string name = p.filename().string();
    constexpr std::size_t name_max = 255;
    if (name.size() + suffix.size() > name_max) name.resize(name_max - suffix.size());
    return (p.parent_path() / (name + suffix)).string();
}

/// A file replaced atomically: the bytes go to a new temporary "<name>.tmp-<pid>-<n>" in the same
/// directory (n counts this process's temporaries, one counter for the whole program, so
/// threads never share one; a name already taken is skipped, never truncated; <name> is
/// shortened if the whole would exceed NAME_MAX); commit() fsyncs it, renames it over the target
/// (atomic on POSIX file systems) and fsyncs the directory. The target is `path`, or the file a
/// symbolic link at `path` points to (the link is kept; see save_target); anything but a
/// regular file there is refused before a byte is written. A crash at any moment leaves either
/// the old file or the new one, never a mixture; it may leave the temporary behind, which is
/// harmless: no loader reads it and no later save writes to it (a reused pid skips its name).
/// Destroyed without commit() (an exception, an abandoned write), it removes the temporary and
/// leaves `path` untouched.
/// Throws IoError "<what>: cannot write '<path>': <step>: <reason>" on any failure, after removing
/// the temporary; `path` is then untouched.
class AtomicFile {
  public:
    AtomicFile(std::string path, std::string_view what)
        : path_(std::move(path)), what_(what), target_(save_target(path_, what_)) {
        // O_EXCL: a file already at the name (a temporary a crashed process of the same pid
        // left, or one a file of this program built for another instruction set is writing if
        // the counters ever disagreed) is never truncated; the next number is tried instead.
        constexpr int attempts = 64;
        for (int attempt = 0; attempt < attempts; ++attempt) {
            temporary_ = temporary_name(target_, file_io_detail::temporaries.fetch_add(1));
            fd_ = ::open(temporary_.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
            if (fd_ >= 0 || errno != EEXIST) break;
        }
        if (fd_ < 0) {
            throw IoError(concat(what_, ": cannot write '", path_, "': cannot create '", temporary_,
                                 "': ", errno_text(errno)));
        }
        // Replacing a file keeps its permission bits, so a private (0600) model stays private; a
        // new file gets 0666 less the umask, as open() gives it.
        struct stat info {};
        if (::stat(target_.c_str(), &info) == 0 && S_ISREG(info.st_mode) &&
            ::fchmod(fd_, info.st_mode & 0777) != 0) {
            const int error = errno;
            ::close(fd_);
            ::unlink(temporary_.c_str());
            throw IoError(concat(what_, ": cannot write '", path_, "': cannot give '", temporary_,
                                 "' the permissions of the file it replaces: ", errno_text(error)));
        }
    }
    AtomicFile(const AtomicFile&) = delete;
    AtomicFile& operator=(const AtomicFile&) = delete;
    ~AtomicFile() {
        if (committed_) return;
        if (fd_ >= 0) ::close(fd_);
        ::unlink(temporary_.c_str());
    }

    /// The temporary's descriptor (open for writing until commit).
    [[nodiscard]] int fd() const noexcept { return fd_; }
    [[nodiscard]] const std::string& temporary() const noexcept { return temporary_; }

    /// Appends `bytes` to the temporary.
    void write(std::string_view bytes) {
        for (std::size_t done = 0; done < bytes.size();) {
            const ::ssize_t n = ::write(fd_, bytes.data() + done, bytes.size() - done);
            if (n >= 0) {
                done += std::size_t(n);
            } else if (errno != EINTR) {
                fail("write");
            }
        }
    }

    /// Makes the temporary the file at `path`: fsync, close, rename, fsync of the directory.
    void commit() {
        if (::fsync(fd_) != 0) fail("fsync");
        const int closing = fd_;
        fd_ = -1;
        if (::close(closing) != 0) fail("close");
        if (::rename(temporary_.c_str(), target_.c_str()) != 0) fail("rename");
        committed_ = true;
        // Make the rename itself durable. The new file is complete either way, so a directory
        // that cannot be opened or synced (some file systems refuse) is not an error.
        // (Built without assigning to a string: GCC 12 reports a false -Wrestrict /
        // -Wstringop-overflow for `directory = "."` once this is inlined into its callers.)
        const std::string parent = std::filesystem::path(target_).parent_path().string();
        const std::string directory = parent.empty() ? std::string(".") : parent;
        const int dir = ::open(directory.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dir >= 0) {
            (void)::fsync(dir);
            ::close(dir);
        }
    }

  private:
    [[noreturn]] void fail(std::string_view step) {
        const int error = errno;
        if (fd_ >= 0) ::close(fd_);
        fd_ = -1;
        ::unlink(temporary_.c_str());
        committed_ = true;  // nothing left for the destructor to do
        throw IoError(
            concat(what_, ": cannot write '", path_, "': ", step, ": ", errno_text(error)));
    }

    std::string path_;
    std::string what_;
    std::string target_;  // path_, or where its chain of symbolic links ends
    std::string temporary_;
    int fd_ = -1;
    bool committed_ = false;
};

/// Replaces the file at `path` by `bytes`, atomically (see AtomicFile: temporary in the same
/// directory, fsync, rename over `path`, fsync of the directory). A crash at any moment leaves
/// either the old file or the new one, never a mixture.
/// Throws IoError "<what>: cannot write '<path>': <step>: <reason>" on any failure, after removing
/// the temporary file; `path` is then untouched.
inline void write_file_atomically(const std::string& path, std::string_view bytes,
                                  std::string_view what) {
    AtomicFile file(path, what);
    const std::size_t half = bytes.size() / 2;
    file.write(bytes.substr(0, half));
    if (test_hooks::after_partial_write != nullptr)
        test_hooks::after_partial_write(file.temporary());
    file.write(bytes.substr(half));
    file.commit();
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

}  // namespace chrysalis::inline CHRYSALIS_ISA_NAMESPACE::detail
