#pragma once
// chrysalis/errors.hpp — the exceptions chrysalis throws for anything a caller can get wrong:
// files that cannot be read or written, files whose contents are not what they should be,
// argument values outside their domain and arguments of the wrong shape. All derive from
// chrysalis::Error, so `catch (const chrysalis::Error&)` handles every one of them; the full
// list of what throws what is in docs/errors.md.

#include <cstddef>
#include <cstdio>
#include <stdexcept>
#include <string>
#include <string_view>

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
/// input width (or, with jitter, from the images' width × height) or with more classes than the
/// network has outputs, teacher logits with the wrong number of rows (classes) or columns
/// (samples), a label count other than the sample count, an output matrix of the wrong size, an
/// empty data set where samples are needed.
struct ShapeError : Error {
    using Error::Error;
};

/// Thrown when training diverges — the loss, a layer's output or, at the end of an epoch, a
/// parameter becomes NaN or infinite: training stops and says where. The message reads
/// "chrysalis::fit: training diverged at epoch 1, batch 2: the loss is nan (…)"; epoch and batch
/// count from 0 in the members, from 1 in the message.
struct TrainingDiverged : Error {
    int epoch;             ///< from 0
    std::ptrdiff_t batch;  ///< from 0, within the epoch
    /// `what_happened` says what stopped being finite; `function` names the training function.
    TrainingDiverged(int e, std::ptrdiff_t b, std::string_view what_happened,
                     std::string_view function = "chrysalis")
        : Error(message(e, b, what_happened, function)), epoch(e), batch(b) {}
    /// A non-finite loss ("the loss is nan").
    TrainingDiverged(int e, std::ptrdiff_t b, double loss, std::string_view function = "chrysalis")
        : TrainingDiverged(e, b, loss_text(loss), function) {}

  private:
    // Built in one buffer, out of line and cold: a chain of operator+ compiled its temporaries
    // and their clean-up into every training program (about 4 KB of machine code).
    [[gnu::cold, gnu::noinline]] static std::string message(int e, std::ptrdiff_t b,
                                                            std::string_view what_happened,
                                                            std::string_view function) {
        char where[96];
        const int n =
            std::snprintf(where, sizeof where, ": training diverged at epoch %lld, batch %lld: ",
                          static_cast<long long>(e) + 1, static_cast<long long>(b) + 1);
        constexpr std::string_view advice = " (lower the learning rate, or check the inputs)";
        std::string text;
        text.reserve(function.size() + sizeof where + what_happened.size() + advice.size());
        text.append(function).append(where, std::size_t(n > 0 ? n : 0));
        text.append(what_happened).append(advice);
        return text;
    }
    static std::string loss_text(double loss) {
        char buffer[48];
        const int n = std::snprintf(buffer, sizeof buffer, "the loss is %.17g", loss);
        return std::string(buffer, std::size_t(n > 0 ? n : 0));
    }
};

}  // namespace chrysalis
