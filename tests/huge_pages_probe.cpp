// Whether a large anonymous mapping of this process is advised for transparent huge pages: the
// check of the library that the build preloads into GCC's compiler (cmake/compiler_huge_pages.cpp).
// It maps 8 MiB with mmap, as GCC's heap does, without advising anything itself, and prints
// "advised: yes" when the kernel's record of the mapping (/proc/self/smaps, VmFlags) carries
// MADV_HUGEPAGE's flag "hg", "advised: no" when it does not. The build compiles it twice, as
// huge_pages_probe and as cc1plus, the name the preloaded library acts in (tests/CMakeLists.txt).
// Exit status 1, with a message, when the mapping or its record cannot be found.
#include <sys/mman.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>

int main() {
    constexpr std::size_t bytes = std::size_t{8} << 20;
    void* mapped = mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (mapped == MAP_FAILED) {
        std::fprintf(stderr, "huge_pages_probe: mmap of %zu bytes failed\n", bytes);
        return 1;
    }
    const auto address = reinterpret_cast<std::uintptr_t>(mapped);
    std::ifstream smaps("/proc/self/smaps");
    std::string line;
    bool inside = false;
    while (std::getline(smaps, line)) {
        std::uintptr_t begin = 0;
        std::uintptr_t end = 0;
        char dash = 0;
        std::istringstream header(line);
        // A mapping's first line: "<begin>-<end> <permissions> ...", in hexadecimal.
        if (header >> std::hex >> begin >> dash >> end && dash == '-') {
            inside = begin <= address && address < end;
            continue;
        }
        if (inside && line.rfind("VmFlags:", 0) == 0) {
            std::istringstream flags(line.substr(8));
            std::string flag;
            bool advised = false;
            while (flags >> flag) advised = advised || flag == "hg";
            std::printf("advised: %s\n", advised ? "yes" : "no");
            return 0;
        }
    }
    std::fprintf(stderr,
                 "huge_pages_probe: no VmFlags for the mapping at %#zx in "
                 "/proc/self/smaps\n",
                 static_cast<std::size_t>(address));
    return 1;
}
