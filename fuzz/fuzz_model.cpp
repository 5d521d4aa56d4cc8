// fuzz_model — chrysalis::load of a small network, Sequential<Dense<4,3>, LeakyReLU, Dropout<20>,
// Dense<3,2>> (hyperparameters and four parameter blocks), in float or double:
//
//   byte 0    flags: bit 0 load into the double network (else float); bit 1 "fix up": the rest
//             is a model file without its CRC-32 trailer, and the harness writes the file-size
//             field and appends the right checksum, so the fuzzer reaches the body's checks
//             (which random bytes behind a random checksum never would)
//   then      the file
//
// On success the file must be exactly what save writes for the loaded network (the format is
// canonical), and a failed load must leave the network as it was.

#include <chrysalis/layers/dropout.hpp>
#include <chrysalis/serialize.hpp>

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "fuzz_common.hpp"

namespace {

template <class S>
using Net = chrysalis::Sequential<chrysalis::Dense<4, 3, S>, chrysalis::LeakyReLU,
                                  chrysalis::Dropout<20>, chrysalis::Dense<3, 2, S>>;

template <class S>
void load(const std::string& path, const std::string& bytes) {
    Net<S> net(chrysalis::Seed{1});
    const std::string before = chrysalis::detail::encode_model(net);
    const bool ok = chrysalis_fuzz::expect_clean([&] { chrysalis::load(net, path); });
    const std::string after = chrysalis::detail::encode_model(net);
    if (ok && after != bytes) chrysalis_fuzz::finding("load: the file is not what save writes");
    if (!ok && after != before) chrysalis_fuzz::finding("load: a failed load changed the network");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    static const chrysalis_fuzz::TempFile file("model");
    if (size < 1) return 0;
    const std::uint8_t flags = data[0];
    std::string bytes(reinterpret_cast<const char*>(data) + 1, size - 1);
    if ((flags & 2) && bytes.size() >= chrysalis::detail::container_header_size) {
        std::string declared;
        chrysalis::detail::put_le(declared, std::uint64_t(bytes.size() + 4));
        bytes.replace(12, 8, declared);
        chrysalis::detail::put_le(bytes, chrysalis::detail::crc32(bytes));
    }
    const std::string& path = file.write(bytes);
    if (flags & 1)
        load<double>(path, bytes);
    else
        load<float>(path, bytes);
    return 0;
}
