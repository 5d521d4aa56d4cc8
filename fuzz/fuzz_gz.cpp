// fuzz_gz — the gzip layer every data loader reads through (chrysalis::detail::InputFile: zlib's
// gzread, with the gzip magic deciding between decompression and a raw read):
//
//   byte 0 & 3 == 0   the rest is the file, as is (random bytes, corrupt gzip, raw data)
//   byte 0 & 3 == 1   the rest, gzip-compressed at level (byte 0 >> 2) % 10, must read back
//                     exactly
//   byte 0 & 3 >= 2   bytes 1–2 a position p, byte 3 a mask m; the rest is compressed, then the
//                     byte at p (mod the compressed size) is xor-ed with m, or the file is cut at
//                     p when m is 0. Reading must then fail with a FormatError, or give the
//                     original bytes (damage to a header field that the data does not depend
//                     on), or — when the gzip magic itself was damaged — the file's own bytes,
//                     read raw. Anything else is data corruption passed off as success.

#include <chrysalis/data.hpp>

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "fuzz_common.hpp"

namespace {

/// The whole content through InputFile::read, in chunks of a few odd sizes (the loaders' buffers
/// of 64 KiB to 1 MiB would make each run slower under ASan, for no more coverage).
std::string read_back(const std::string& path) {
    chrysalis::detail::InputFile in(path, "fuzz_gz");
    std::string text;
    char buffer[4099];
    for (std::size_t chunk = 1;; chunk = chunk * 7 % sizeof buffer + 1) {
        const std::size_t got = in.read(buffer, chunk);
        text.append(buffer, got);
        if (got < chunk) break;
    }
    if (!in.at_end()) chrysalis_fuzz::finding("InputFile: bytes left after a short read");
    return text;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    static const chrysalis_fuzz::TempFile file("gz");
    if (size < 1) return 0;
    const std::uint8_t mode = data[0] & 3;
    const std::string_view bytes(reinterpret_cast<const char*>(data), size);
    if (mode == 0) {
        const std::string& path = file.write(bytes.substr(1));
        chrysalis_fuzz::expect_clean([&] { (void)read_back(path); });
        return 0;
    }
    if (mode == 1) {
        const std::string_view original = bytes.substr(1);
        const std::string& path = file.write(chrysalis_fuzz::gzip(original, (data[0] >> 2) % 10));
        std::string text;
        if (!chrysalis_fuzz::expect_clean([&] { text = read_back(path); }))
            chrysalis_fuzz::finding("InputFile: a valid gzip file was rejected");
        if (text != original) chrysalis_fuzz::finding("InputFile: gzip round trip differs");
        return 0;
    }
    if (size < 4) return 0;
    const std::string_view original = bytes.substr(4);
    std::string damaged = chrysalis_fuzz::gzip(original, (data[0] >> 2) % 10);
    const std::size_t p = std::size_t(data[1] | (data[2] << 8)) % damaged.size();
    if (data[3] == 0)
        damaged.resize(p);
    else
        damaged[p] = char(damaged[p] ^ char(data[3]));
    const std::string& path = file.write(damaged);
    std::string text;
    if (chrysalis_fuzz::expect_clean([&] { text = read_back(path); })) {
        const bool magic = damaged.size() >= 2 && damaged[0] == '\x1f' && damaged[1] == '\x8b';
        if (text != original && (magic || text != damaged))
            chrysalis_fuzz::finding("InputFile: damaged gzip data read as different bytes");
    }
    return 0;
}
