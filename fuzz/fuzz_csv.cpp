// fuzz_csv — chrysalis::load_csv on a file made from one input:
//
//   byte 0      flags: bit 0 gzip the file, bit 1 load as double (else float), bit 2
//               CsvOptions::header, bits 3–4 the delimiter (',' ';' '\t' ' '), bits 5–7 − 1 =
//               CsvOptions::label_column (−1..6)
//   byte 1      CsvOptions::classes (0 = the largest label + 1), or with its top bit set, the
//               class names "a", "b,c" and "d\"e" (classes 0): labels are read as names
//   then        the file
//
// On success the data set must have the documented shape and pass Dataset::validate() (labels
// in range, every feature finite).

#include <chrysalis/data.hpp>

#include <cstddef>
#include <cstdint>
#include <string>

#include "fuzz_common.hpp"

namespace {

template <class Scalar>
void load(const std::string& path, const chrysalis::CsvOptions& options) {
    const auto data = chrysalis::load_csv<Scalar>(path, options);
    if (data.size() < 1 || data.feature_count() < 1)
        chrysalis_fuzz::finding("load_csv: a data set without samples or features");
    if (options.classes > 0 && data.classes != options.classes)
        chrysalis_fuzz::finding("load_csv: classes differ from CsvOptions::classes");
    if (!options.class_names.empty() && data.classes != int(options.class_names.size()))
        chrysalis_fuzz::finding("load_csv: classes differ from the number of class names");
    try {
        data.validate();
    } catch (const chrysalis::Error&) {
        // load_csv validates what it returns; a data set it accepted must pass validate().
        chrysalis_fuzz::finding("load_csv: the loaded data set fails validate()");
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    static const chrysalis_fuzz::TempFile file("csv");
    if (size < 2) return 0;
    const std::uint8_t flags = data[0];
    std::string text(reinterpret_cast<const char*>(data) + 2, size - 2);
    if (flags & 1) text = chrysalis_fuzz::gzip(text);
    chrysalis::CsvOptions options;
    options.header = (flags & 4) != 0;
    options.delimiter = ",;\t "[(flags >> 3) & 3];
    options.label_column = (flags >> 5) - 1;
    if (data[1] & 0x80)
        options.class_names = {"a", "b,c", "d\"e"};
    else
        options.classes = data[1];
    const std::string& path = file.write(text);
    chrysalis_fuzz::expect_clean([&] {
        if (flags & 2)
            load<double>(path, options);
        else
            load<float>(path, options);
    });
    return 0;
}
