#pragma once
// chrysalis/output.hpp — what chrysalis prints, and the one switch that silences it.
//
// The only output chrysalis writes itself is the progress of fit, distill and distill_soft, on
// stderr (TrainOptions::progress says when; docs/distillation.md). set_quiet(true) silences it
// for the whole process, whatever a TrainOptions says: a program that owns its stderr (a server,
// a tool with its own log format) makes that one call. Errors are exceptions and are never
// printed.
//
// Unlike the rest of chrysalis, this header is not in the instruction-set namespace
// (chrysalis/isa.hpp): the switch must be one flag for the whole program, so that a set_quiet in
// a file compiled with -march=native also silences a training in a file compiled without. It
// holds no kernels, so its functions are the same in every translation unit.

#include <atomic>
#include <cstdio>

#if defined(_WIN32)
#include <io.h>
#elif __has_include(<unistd.h>)
#include <unistd.h>
#endif

namespace chrysalis {

// Not `detail`: a chrysalis::detail here would make chrysalis::detail ambiguous with the
// instruction-set namespace's own detail.
namespace output_detail {
/// The switch behind set_quiet and is_quiet: one per process (an inline variable), relaxed, since
/// it orders nothing else.
inline std::atomic<bool> quiet_flag{false};
}  // namespace output_detail

/// Silences everything chrysalis prints (true), or lets it print again (false), for the whole
/// process and every thread, from the next line on. Off at start. Safe to call at any time, also
/// while another thread trains.
inline void set_quiet(bool on = true) noexcept {
    output_detail::quiet_flag.store(on, std::memory_order_relaxed);
}

/// Whether set_quiet(true) is in force: chrysalis prints nothing.
[[nodiscard]] inline bool is_quiet() noexcept {
    return output_detail::quiet_flag.load(std::memory_order_relaxed);
}

namespace output_detail {
/// Whether stderr is a terminal (then a progress line may be redrawn in place with '\r'). False
/// when stderr is a file or a pipe, and on a platform with neither isatty nor _isatty, so a log
/// never receives a '\r'. Asked on every call: a program may redirect stderr (dup2) at any time.
[[nodiscard]] inline bool stderr_is_terminal() noexcept {
#if defined(_WIN32)
    return _isatty(_fileno(stderr)) != 0;
#elif __has_include(<unistd.h>)
    return ::isatty(::fileno(stderr)) != 0;
#else
    return false;
#endif
}
}  // namespace output_detail

}  // namespace chrysalis
