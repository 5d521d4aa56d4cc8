#pragma once
// chrysalis/detail/data_io.hpp — files read and written through zlib for the data loaders: a
// gzip stream (magic bytes 1f 8b) is decompressed, any other file is read as it is; a path ending
// in ".gz" is written compressed, any other path raw.

#include "chrysalis/isa.hpp"  // first: see its note on GCC bug 105593

#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include <Eigen/Core>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <new>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>

#include "chrysalis/config.hpp"
#include "chrysalis/detail/file_io.hpp"
#include "chrysalis/errors.hpp"
#include "chrysalis/tensor.hpp"

namespace chrysalis::inline CHRYSALIS_ISA_NAMESPACE::detail {

/// The operating system's reason for errno value `err`.
[[nodiscard]] inline std::string os_reason(int err) {
    return err != 0 ? std::generic_category().message(err) : std::string("unknown reason");
}

/// Whether `path` ends in ".gz".
[[nodiscard]] inline bool has_gz_suffix(std::string_view path) noexcept {
    return path.size() >= 3 && path.substr(path.size() - 3) == ".gz";
}

/// A file opened for reading through zlib (gzopen/gzread): gzip data is decompressed, a file
/// without the gzip magic is read as is (zlib's transparent mode). At most `max_bytes` bytes of
/// data are delivered (counted after decompression; `limit` names the parameter in the
/// message): a raw file larger than that is refused when it is opened, and decompression stops
/// one byte past the limit, so a gzip bomb costs no more than the limit's worth of inflating.
///
/// Throws: IoError when the file is missing, a directory or unreadable; FormatError when the gzip
/// data is corrupt or ends early (zlib's reason is quoted), or the data goes beyond the byte
/// limit. Every message begins "<what>: '<path>': ".
class InputFile {
  public:
    InputFile(std::string path, std::string_view what, std::uint64_t max_bytes = default_max_bytes,
              std::string_view limit = "max_bytes")
        : path_(std::move(path)), what_(what), limit_(limit), max_bytes_(max_bytes) {
        // A regular file only, checked on the open descriptor: a FIFO would block and a device
        // such as /dev/zero never ends (see open_regular_file).
        require_path_without_nul(path_, what_, "read");
        std::string why;
        int error = 0;
        const int fd = open_regular_file(path_, why, error);
        if (fd < 0) {
            throw IoError(prefix() + "cannot open for reading: " +
                          (error == ENOENT ? std::string("no such file") : why));
        }
        struct stat info {};
        size_ = ::fstat(fd, &info) == 0 ? std::uint64_t(info.st_size) : 0;
        errno = 0;
        file_ = gzdopen(fd, "rb");
        if (file_ == nullptr) {
            const int gz_error = errno;
            ::close(fd);
            throw IoError(prefix() + "cannot open for reading: " + os_reason(gz_error));
        }
        gzbuffer(file_, 1u << 17);
        compressed_ = gzdirect(file_) == 0;
        if (!compressed_ && size_ > max_bytes_) {
            gzclose(file_);
            file_ = nullptr;
            throw over_byte_limit(what_, path_, ": ", max_bytes_, limit_, "has", size_);
        }
    }
    InputFile(const InputFile&) = delete;
    InputFile& operator=(const InputFile&) = delete;
    ~InputFile() {
        if (file_ != nullptr) gzclose(file_);
    }

    /// "<what>: '<path>': ", the start of every message about this file.
    [[nodiscard]] std::string prefix() const { return concat(what_, ": '", path_, "': "); }
    [[nodiscard]] const std::string& path() const noexcept { return path_; }
    /// Whether the file is a gzip stream.
    [[nodiscard]] bool compressed() const noexcept { return compressed_; }
    /// The size of the file on disk, compressed or not.
    [[nodiscard]] std::uint64_t file_size() const noexcept { return size_; }
    /// The most bytes of data read() delivers (see the class comment).
    [[nodiscard]] std::uint64_t max_bytes() const noexcept { return max_bytes_; }
    /// What the limit is called in messages ("CsvOptions::max_bytes").
    [[nodiscard]] std::string_view limit_name() const noexcept { return limit_; }

    /// Reads up to n bytes into buffer; returns how many were read (fewer than n only at the end
    /// of the data). Throws FormatError once the data read goes beyond max_bytes().
    std::size_t read(void* buffer, std::size_t n) {
        // Never more than one byte past the limit: that byte shows the data goes on.
        const std::uint64_t room = max_bytes_ - consumed_;
        const std::size_t want = room < n ? std::size_t(room) + 1 : n;
        const std::size_t got = read_some(buffer, want);
        consumed_ += got;
        if (consumed_ > max_bytes_) {
            throw over_byte_limit(what_, path_, ": ", max_bytes_, limit_,
                                  compressed_ ? "decompresses to" : "has");
        }
        return got;
    }

    /// True when no byte is left (reading on reaches the end of a gzip stream, so its checksum is
    /// verified: a mismatch throws FormatError). The one byte it reads is not held against the
    /// byte limit, so that data after what a header announces is reported as such.
    bool at_end() {
        unsigned char byte;
        return read_some(&byte, 1) == 0;
    }

  private:
    std::size_t read_some(void* buffer, std::size_t n) {
        auto* out = static_cast<unsigned char*>(buffer);
        std::size_t got = 0;
        while (got < n) {
            const auto chunk = unsigned(std::min<std::size_t>(n - got, std::size_t(1) << 30));
            const int r = gzread(file_, out + got, chunk);
            if (r < 0) fail();
            got += std::size_t(r);
            if (unsigned(r) < chunk) {
                int errnum = Z_OK;
                gzerror(file_, &errnum);
                if (errnum != Z_OK) fail();
                break;
            }
        }
        return got;
    }

    [[noreturn]] void fail() const {
        const int saved_errno = errno;
        int errnum = Z_OK;
        std::string message = gzerror(file_, &errnum);
        // zlib's messages begin with the path; ours already names it.
        if (message.starts_with(path_ + ": ")) message.erase(0, path_.size() + 2);
        if (errnum == Z_ERRNO) throw IoError(prefix() + "read error: " + os_reason(saved_errno));
        if (errnum == Z_MEM_ERROR) throw std::bad_alloc();
        if (errnum == Z_BUF_ERROR) {
            throw FormatError(prefix() + "truncated gzip stream (zlib: " + message +
                              "); expected a complete gzip file");
        }
        throw FormatError(prefix() + "corrupt gzip data (zlib: " + message +
                          "); expected a valid gzip stream");
    }

    std::string path_;
    std::string what_;
    std::string limit_;
    gzFile file_ = nullptr;
    std::uint64_t size_ = 0;
    std::uint64_t max_bytes_;
    std::uint64_t consumed_ = 0;  // bytes delivered by read(), at most max_bytes_
    bool compressed_ = false;
};

/// Values appended as a loader reads them, kept in one allocation that grows geometrically
/// (doubling, through realloc, which on most systems moves no data) and never beyond a given
/// most: what a loader holds is at most about twice what it has read, whatever a header
/// announced. take() hands the values over as a matrix without copying them.
template <class T>
class GrowingValues {
  public:
    /// Room for `more` values after size(), returned as a pointer to the first; the capacity
    /// grows to at least twice itself (and at least 1024 values), but not beyond `most` values
    /// in all unless more are needed.
    T* extend(std::size_t more, std::uint64_t most = UINT64_MAX) {
        const std::size_t needed = size_ + more;
        if (needed > capacity()) {
            std::uint64_t next = std::max<std::uint64_t>(2 * std::uint64_t(capacity()), 1024);
            next = std::max<std::uint64_t>(std::min(next, most), needed);
            storage_.conservativeResize(1, Eigen::Index(next));
        }
        T* at = storage_.data() + size_;
        size_ = needed;
        return at;
    }
    void push_back(T value) { *extend(1) = value; }
    [[nodiscard]] std::size_t size() const noexcept { return size_; }
    [[nodiscard]] std::size_t capacity() const noexcept { return std::size_t(storage_.cols()); }

    /// The values as a rows × cols matrix, column-major in the order appended (rows · cols must
    /// be size()); the spare capacity is given back and the values are not copied. Leaves this
    /// empty.
    Matrix<T> take(Eigen::Index rows, Eigen::Index cols) {
        storage_.conservativeResize(1, Eigen::Index(size_));
        storage_.resize(rows, cols);  // as many values: Eigen keeps the data, allocates nothing
        size_ = 0;
        return std::move(storage_);
    }

  private:
    Matrix<T> storage_;  // 1 × capacity; column-major, so take() reads it as columns
    std::size_t size_ = 0;
};

/// A file written through zlib and replaced atomically: gzip-compressed when the path ends in
/// ".gz", raw otherwise (zlib's "T" mode). The data goes to a temporary in the same directory
/// (AtomicFile) that close() fsyncs and renames over the path, so a crash or an error never
/// leaves a partial file and never destroys the previous one; a file not closed successfully
/// leaves the path as it was.
///
/// Throws: IoError naming the file and the operating system's reason when it cannot be created,
/// written, closed or renamed.
class OutputFile {
  public:
    OutputFile(const std::string& path, std::string_view what) try
        : path_(path), what_(what), file_(path, what) {
        const int fd = ::dup(file_.fd());  // zlib closes its descriptor; AtomicFile keeps its own
        errno = 0;
        gz_ = fd < 0 ? nullptr : gzdopen(fd, has_gz_suffix(path_) ? "wb6" : "wbT");
        if (gz_ == nullptr) {
            const int saved_errno = errno;
            if (fd >= 0) ::close(fd);
            throw IoError(prefix() + "cannot open for writing: " + os_reason(saved_errno));
        }
    } catch (const IoError& e) {
        // The data writers' style, "<what>: '<path>': cannot open for writing: <why>", with
        // AtomicFile's "cannot create '<temporary>': <reason>" as the why.
        std::string_view why = e.what();
        if (const std::string head = concat(what, ": cannot write '", path, "': ");
            why.starts_with(head))
            why.remove_prefix(head.size());
        else if (why.starts_with(concat(what, ": '", path, "': ")))
            throw;
        throw IoError(concat(what, ": '", path, "': cannot open for writing: ", why));
    }
    OutputFile(const OutputFile&) = delete;
    OutputFile& operator=(const OutputFile&) = delete;
    ~OutputFile() {
        if (gz_ != nullptr) gzclose(gz_);
    }

    [[nodiscard]] std::string prefix() const { return concat(what_, ": '", path_, "': "); }

    void write(const void* buffer, std::size_t n) {
        const auto* in = static_cast<const unsigned char*>(buffer);
        while (n > 0) {
            const auto chunk = unsigned(std::min<std::size_t>(n, std::size_t(1) << 30));
            errno = 0;
            if (gzwrite(gz_, in, chunk) != int(chunk)) {
                const int saved_errno = errno;
                int errnum = Z_OK;
                const std::string message = gzerror(gz_, &errnum);
                throw IoError(prefix() + "write error: " +
                              (errnum == Z_ERRNO ? os_reason(saved_errno) : message));
            }
            in += chunk;
            n -= chunk;
        }
        if (!hooked_ && test_hooks::after_partial_write != nullptr) {
            hooked_ = true;
            gzflush(gz_, Z_SYNC_FLUSH);  // so that the temporary really holds part of the data
            test_hooks::after_partial_write(file_.temporary());
        }
    }
    void write(std::string_view text) { write(text.data(), text.size()); }

    /// Flushes and closes the stream, then replaces the file at the path by it; throws IoError
    /// if that fails (the path is then left as it was).
    void close() {
        errno = 0;
        const int r = gzclose(gz_);
        const int saved_errno = errno;
        gz_ = nullptr;
        if (r != Z_OK) {
            throw IoError(prefix() + "error while closing: " +
                          (r == Z_ERRNO ? os_reason(saved_errno) : concat("zlib error ", r)));
        }
        file_.commit();
    }

  private:
    std::string path_;
    std::string what_;
    AtomicFile file_;
    gzFile gz_ = nullptr;
    bool hooked_ = false;
};

}  // namespace chrysalis::inline CHRYSALIS_ISA_NAMESPACE::detail
