// fuzz_idx — chrysalis::load_idx on an image file and a label file made from one input:
//
//   byte 0      flags: bit 0 gzip the image file, bit 1 gzip the label file, bit 2 load as double
//               (else float), bit 3 IdxOptions::scale; bits 4–7 + 1 = IdxOptions::classes (1..16)
//   bytes 1–2   L, the label file's length (little-endian; cut to what is left)
//   then        L bytes of label file, the rest is the image file
//
// Gzip is applied by the harness so the IDX parser is reached through the .gz path too; corrupt
// gzip itself is fuzz_gz's subject. On success the data set must have the documented shape and
// values.

#include <chrysalis/data.hpp>

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "fuzz_common.hpp"

namespace {

template <class Scalar>
void load(const std::string& images, const std::string& labels, const chrysalis::IdxOptions& o) {
    const auto data = chrysalis::load_idx<Scalar>(images, labels, o);
    if (data.classes != o.classes || Eigen::Index(data.labels.size()) != data.size())
        chrysalis_fuzz::finding("load_idx: labels or classes do not match the features");
    for (const int label : data.labels)
        if (label < 0 || label >= o.classes)
            chrysalis_fuzz::finding("load_idx: label out of range");
    for (Eigen::Index i = 0; i < data.features.size(); ++i) {
        const double v = double(data.features.data()[i]);
        const bool ok = o.scale ? v >= 0 && v <= 1 : v >= 0 && v <= 255 && v == std::round(v);
        if (!ok) chrysalis_fuzz::finding("load_idx: a pixel outside the documented values");
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    static const chrysalis_fuzz::TempFile images_file("idx-images"), labels_file("idx-labels");
    if (size < 3) return 0;
    const std::uint8_t flags = data[0];
    const std::size_t label_size = std::min<std::size_t>(data[1] | (data[2] << 8), size - 3);
    const std::string_view rest(reinterpret_cast<const char*>(data) + 3, size - 3);
    std::string labels(rest.substr(0, label_size)), images(rest.substr(label_size));
    if (flags & 1) images = chrysalis_fuzz::gzip(images);
    if (flags & 2) labels = chrysalis_fuzz::gzip(labels);
    chrysalis::IdxOptions options;
    options.scale = (flags & 8) != 0;
    options.classes = 1 + (flags >> 4);
    const std::string& images_path = images_file.write(images);
    const std::string& labels_path = labels_file.write(labels);
    chrysalis_fuzz::expect_clean([&] {
        if (flags & 4)
            load<double>(images_path, labels_path, options);
        else
            load<float>(images_path, labels_path, options);
    });
    return 0;
}
