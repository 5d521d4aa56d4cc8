// A shared library that the build's compiler launcher preloads into the compiler
// (cmake/compiler_huge_pages.cmake): it asks the kernel for transparent huge pages on the large
// anonymous mappings of GCC's compiler proper (cc1plus, cc1), which is where its garbage-collected
// heap lives (2 MiB at a time, 538 MB for one test file here). Where the kernel gives huge pages
// only to memory advised with MADV_HUGEPAGE ("madvise" in
// /sys/kernel/mm/transparent_hugepage/enabled, Debian's default), that heap is otherwise on 4 KiB
// pages: one page fault per 4 KiB, and a TLB miss for most of the compiler's pointer chasing.
//
// Contract: every call is forwarded unchanged to the next mmap (libc's); its result and errno are
// returned as they are. In a process named cc1plus or cc1, a successful anonymous mapping of at
// least 2 MiB is then advised with MADV_HUGEPAGE, whose own result is ignored (errno is kept).
// In any other process nothing else happens. Nothing of the library or of its programs uses it:
// it speeds up compiles only, and what the compiler computes does not depend on page sizes.
#include <dlfcn.h>
#include <sys/mman.h>
#include <sys/types.h>

#include <cerrno>
#include <cstddef>
#include <cstring>

namespace {

using MmapFunction = void* (*)(void*, std::size_t, int, int, int, off_t);

MmapFunction next_mmap = nullptr;
bool in_compiler = false;

// GNU: the name the process was started with, without its directory (errno.h, _GNU_SOURCE).
bool named_compiler() {
    const char* name = program_invocation_short_name;
    return name != nullptr && (std::strcmp(name, "cc1plus") == 0 || std::strcmp(name, "cc1") == 0);
}

__attribute__((constructor)) void resolve() {
    next_mmap = reinterpret_cast<MmapFunction>(dlsym(RTLD_NEXT, "mmap"));
    in_compiler = named_compiler();
}

constexpr std::size_t huge_page_bytes = std::size_t{2} << 20;

}  // namespace

extern "C" void* mmap(void* address, std::size_t length, int protection, int flags, int fd,
                      off_t offset) noexcept {
    if (next_mmap == nullptr) resolve();  // called before the constructor ran
    void* mapped = next_mmap(address, length, protection, flags, fd, offset);
    if (in_compiler && mapped != MAP_FAILED && (flags & MAP_ANONYMOUS) != 0 &&
        length >= huge_page_bytes) {
        const int saved = errno;
        madvise(mapped, length, MADV_HUGEPAGE);
        errno = saved;
    }
    return mapped;
}
