// fuzz_model — the model loaders: chrysalis::load of a small network,
// Sequential<Dense<4,3>, LeakyReLU, Dropout<20>, Dense<3,2>> (hyperparameters and four parameter
// blocks), in float or double, and chrysalis::load_int8 of an int8 model file:
//
//   byte 0    flags: bit 0 load into the double network (else float); bit 1 "fix up": the rest
//             is a model file without its CRC-32 trailer, and the harness writes the file-size
//             field and appends the right checksum, so the fuzzer reaches the body's checks
//             (which random bytes behind a random checksum never would); bit 2 load it with
//             load_int8 instead (bit 0 then unused)
//   then      the file
//
// On success the file must be exactly what save writes for the loaded network (both formats are
// canonical), and a failed load must leave the network as it was. A network load_int8 returns
// must also run: its forward on a batch of two samples (when its layers are small enough for
// that to be quick) returns without a crash or a sanitizer report.

#include <chrysalis/int8_file.hpp>
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

void load_int8(const std::string& path, const std::string& bytes) {
    chrysalis_fuzz::expect_clean([&] {
        chrysalis::Int8Network net = chrysalis::load_int8(path);
        if (chrysalis::detail::encode_int8_model(net) != bytes)
            chrysalis_fuzz::finding("load_int8: the file is not what save writes");
        std::size_t weights = 0;
        for (std::size_t i = 0; i < net.dense_count(); ++i)
            weights += std::size_t(net.layer(i).output_size * net.layer(i).input_size);
        if (weights <= 1 << 16) {
            Eigen::MatrixXf x(net.input_size(), 2);
            x.col(0).setLinSpaced(-3.0f, 5.0f);
            x.col(1).setZero();
            (void)net.forward(x);
        }
    });
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
    if (flags & 4)
        load_int8(path, bytes);
    else if (flags & 1)
        load<double>(path, bytes);
    else
        load<float>(path, bytes);
    return 0;
}
