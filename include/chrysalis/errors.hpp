#pragma once
// chrysalis/errors.hpp — the exceptions chrysalis throws for anything a caller can get wrong:
// files that cannot be read or written, files whose contents are not what they should be,
// argument values outside their domain and arguments of the wrong shape. All derive from
// chrysalis::Error, so `catch (const chrysalis::Error&)` handles every one of them; the full
// list of what throws what is in docs/errors.md.

#include <stdexcept>

namespace chrysalis {

/// The base of chrysalis's exceptions: catch it to handle every error a caller can trigger at
/// once. Each message names the function, the file or parameter, what was found and what was
/// expected ("chrysalis::Sgd: learning rate lr must be a finite number > 0, got -1").
struct Error : std::runtime_error {
    using std::runtime_error::runtime_error;
};

/// A file's contents are wrong: not the expected format, an unsupported version, truncated,
/// corrupt (checksum, gzip data), or holding a different architecture, scalar type, dtype or
/// shape than asked for.
struct FormatError : Error {
    using Error::Error;
};

/// A file or directory could not be opened, read, written, synced or renamed (the message ends
/// with the operating system's reason).
struct IoError : Error {
    using Error::Error;
};

/// An argument's value is outside its domain: a hyperparameter (learning rate, momentum, betas,
/// eps, temperature, alpha, dropout rate, batch size, epochs, schedule parameters), an option,
/// a label outside [0, classes), or a NaN or infinite input where finite numbers are required.
struct ValueError : Error {
    using Error::Error;
};

/// Arguments whose shapes do not fit: a data set whose feature count differs from the network's
/// input width, teacher logits with the wrong number of rows (classes) or columns (samples), a
/// label count other than the sample count, an output matrix of the wrong size, an empty data
/// set where samples are needed.
struct ShapeError : Error {
    using Error::Error;
};

}  // namespace chrysalis
