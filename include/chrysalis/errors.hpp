#pragma once
// chrysalis/errors.hpp — the exceptions for failures outside the program's control: files that
// cannot be read or written, and files whose contents are not what they should be. (Wrong
// arguments — a bad temperature, a batch of the wrong shape — are std::invalid_argument.)

#include <stdexcept>

namespace chrysalis {

/// The base of chrysalis's own exceptions; catch it to handle every file-related failure at once.
/// Each message names the function, the file and what was found against what was expected.
struct Error : std::runtime_error {
    using std::runtime_error::runtime_error;
};

/// A file's contents are wrong: not the expected format, an unsupported version, truncated,
/// corrupt (checksum), or holding a different architecture, scalar type or shape than asked for.
struct FormatError : Error {
    using Error::Error;
};

/// A file or directory could not be opened, read, written, synced or renamed (the message ends
/// with the operating system's reason).
struct IoError : Error {
    using Error::Error;
};

}  // namespace chrysalis
