// make_corpus — writes the seed corpus of the fuzz targets: a few valid files of each format,
// made with chrysalis's own encoders where it has them, and a few malformed ones, each with the
// option bytes its target reads first (see the comment at the top of each fuzz_*.cpp).
//
//   make_corpus <fuzz/corpus directory>
//
// Run it again after a format changes; it overwrites the files it writes and leaves others
// (crash inputs added as regression seeds) alone.

#include <chrysalis/data.hpp>
#include <chrysalis/int8_file.hpp>
#include <chrysalis/layers/dropout.hpp>
#include <chrysalis/quantize.hpp>
#include <chrysalis/serialize.hpp>

#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "fuzz_common.hpp"

namespace fs = std::filesystem;
namespace cy = chrysalis;

namespace {

fs::path root;

void put(const std::string& target, const std::string& name, const std::string& bytes) {
    fs::create_directories(root / target);
    std::ofstream out(root / target / name, std::ios::binary | std::ios::trunc);
    out.write(bytes.data(), std::streamsize(bytes.size()));
    if (!out) {
        std::fprintf(stderr, "make_corpus: cannot write %s/%s\n", target.c_str(), name.c_str());
        std::exit(1);
    }
}

std::string be32(std::uint32_t v) {
    std::string s(4, '\0');
    cy::detail::put_be32(reinterpret_cast<unsigned char*>(s.data()), v);
    return s;
}

/// An IDX image file of n images of rows × cols pixels (pixel values from a simple pattern).
std::string idx_images(std::uint32_t n, std::uint32_t rows, std::uint32_t cols) {
    std::string s = be32(0x803) + be32(n) + be32(rows) + be32(cols);
    for (std::uint32_t i = 0; i < n * rows * cols; ++i) s += char((i * 37) & 0xFF);
    return s;
}

std::string idx_labels(std::uint32_t n, int classes) {
    std::string s = be32(0x801) + be32(n);
    for (std::uint32_t i = 0; i < n; ++i) s += char(i % std::uint32_t(classes));
    return s;
}

/// A fuzz_idx input: flags, the label file's length, the label file, the image file.
std::string idx_input(std::uint8_t flags, const std::string& labels, const std::string& images) {
    std::string s(1, char(flags));
    s += char(labels.size() & 0xFF);
    s += char(labels.size() >> 8);
    return s + labels + images;
}

/// A .npy file of format major.0 with header dict `dict` (padded as NumPy pads) and `data`.
std::string npy_file(int major, const std::string& dict, const std::string& data) {
    const std::size_t start = major == 1 ? 10 : 12;
    std::string header = dict;
    header.append((64 - (start + header.size() + 1) % 64) % 64, ' ');
    header += '\n';
    std::string out = std::string("\x93NUMPY", 6) + char(major) + '\0';
    cy::detail::put_le(out, std::uint16_t(header.size()));
    if (major != 1) out.append(2, '\0');  // the upper half of the uint32 length
    return out + header + data;
}

template <class S>
using Net = cy::Sequential<cy::Dense<4, 3, S>, cy::LeakyReLU, cy::Dropout<20>, cy::Dense<3, 2, S>>;

void idx() {
    const std::uint8_t classes10 = 9 << 4;
    put("idx", "valid_2x3x2", idx_input(classes10 | 8, idx_labels(2, 10), idx_images(2, 3, 2)));
    put("idx", "valid_3x4x4_double_unscaled",
        idx_input(classes10 | 4, idx_labels(3, 10), idx_images(3, 4, 4)));
    put("idx", "valid_gzip_both",
        idx_input(classes10 | 8 | 2 | 1, idx_labels(4, 10), idx_images(4, 2, 2)));
    put("idx", "valid_empty", idx_input(classes10, idx_labels(0, 10), idx_images(0, 28, 28)));
    put("idx", "bad_magic", idx_input(classes10, idx_labels(1, 10), be32(0x802) + be32(1)));
    put("idx", "bad_count_mismatch", idx_input(classes10, idx_labels(3, 10), idx_images(2, 2, 2)));
    put("idx", "bad_truncated_images",
        idx_input(classes10, idx_labels(2, 10), idx_images(2, 3, 3).substr(0, 30)));
    put("idx", "bad_label_too_large", idx_input(1 << 4, idx_labels(3, 10), idx_images(3, 1, 1)));
    put("idx", "bad_huge_sizes",
        idx_input(classes10 | 1, idx_labels(1, 10),
                  be32(0x803) + be32(0xFFFFFFFF) + be32(0xFFFFFFFF) + be32(0x10)));
}

void csv() {
    // flags: bit 0 gzip, bit 1 double, bit 2 header, bits 3–4 delimiter, bits 5–7 label column+1
    const auto input = [](std::uint8_t flags, std::uint8_t classes, const std::string& text) {
        return std::string(1, char(flags)) + char(classes) + text;
    };
    put("csv", "valid_last_label", input(0, 0, "0.5,1,2\n1.5,-2e3,0\n-0.25,+7,1\n"));
    put("csv", "valid_header_semicolon_first_label",
        input(4 | (1 << 3) | (1 << 5), 3, "label;a;b\n2;1.0;2.5\r\n0; 3 ;\t4\n\n1;5;6\n"));
    put("csv", "valid_gzip_double",
        input(1 | 2, 0,
              "\xEF\xBB\xBF"
              "1e-300,0.1,3\n2,4,1\n"));
    put("csv", "valid_tab", input(2 << 3, 0, "1\t2\t0\n3\t4\t1\n"));
    put("csv", "valid_quoted",
        input(4, 0, "\"a, \"\"b\"\"\",\"c\nd\",label\r\n\"1.5\" , \"2\",\"0\"\r\n3,4,\"1\""));
    put("csv", "bad_unclosed_quote", input(0, 0, "1,2,0\n\"3,4,1\n"));
    put("csv", "valid_class_names", input(0, 0x80, "1,2,a\n3,4,\"b,c\"\n5,6,\"d\"\"e\"\n"));
    put("csv", "bad_class_name", input(0, 0x80, "1,2,a\n3,4,b\n"));
    put("csv", "bad_ragged", input(0, 0, "1,2,0\n3,1\n"));
    put("csv", "bad_not_a_number", input(0, 0, "1,abc,0\n"));
    put("csv", "bad_nan", input(2, 0, "nan,1,0\n"));
    put("csv", "bad_empty", input(0, 0, ""));
    put("csv", "bad_negative_label", input(0, 0, "1,2,-1\n"));
    put("csv", "bad_out_of_range", input(0, 0, "1e39,2,0\n"));
}

void gz() {
    const std::string text = "0.5,1,2\n1.5,-2e3,0\n" + idx_images(2, 3, 2);
    const std::string packed = chrysalis_fuzz::gzip(text);
    put("gz", "raw_gzip_file", std::string(1, '\0') + packed);
    put("gz", "raw_plain_file", std::string(1, '\0') + text);
    put("gz", "raw_truncated_gzip", std::string(1, '\0') + packed.substr(0, packed.size() - 6));
    std::string bad_crc = packed;
    bad_crc[bad_crc.size() - 6] = char(bad_crc[bad_crc.size() - 6] ^ 0x55);
    put("gz", "raw_bad_crc", std::string(1, '\0') + bad_crc);
    put("gz", "round_trip_level6", std::string(1, char(1 | (6 << 2))) + text);
    put("gz", "round_trip_level0", std::string(1, char(1)) + text);
    // Damage: xor byte 20 of the compressed data with 0x01; cut it after 15 bytes.
    put("gz", "damage_flip", std::string("\x1a\x14\x00\x01", 4) + text);
    put("gz", "damage_cut", std::string("\x1a\x0f\x00\x00", 4) + text);
}

void npy() {
    const std::vector<float> f{1.5f, -2, 0, 3.25f, 1e-3f, 7};
    const std::vector<double> d{0.1, -0.2, 1e300, 4};
    put("npy", "valid_float_3x2", cy::detail::encode_npy(f.data(), 3, 2, false));
    put("npy", "valid_double_2x2", cy::detail::encode_npy(d.data(), 2, 2, false));
    put("npy", "valid_vector_4", cy::detail::encode_npy(d.data(), 4, 1, true));
    put("npy", "valid_empty_0x3", cy::detail::encode_npy(f.data(), 0, 3, false));
    // As NumPy writes a C-order float32 array (format 1.0), and the same in format 2.0.
    const std::string dict = "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }";
    const std::string values(reinterpret_cast<const char*>(f.data()), f.size() * sizeof(float));
    const std::string c_order = npy_file(1, dict, values);
    put("npy", "valid_c_order", c_order);
    put("npy", "valid_version2", npy_file(2, dict, values));
    std::string i8 = c_order;
    i8.replace(i8.find("<f4"), 3, "<i8");
    put("npy", "bad_dtype_i8", i8);
    std::string big = c_order;
    big.replace(big.find("<f4"), 3, ">f4");
    put("npy", "bad_big_endian", big);
    std::string three_d = c_order;
    three_d.replace(three_d.find("(2, 3)"), 6, "(1,2,3)");
    put("npy", "bad_3d", three_d);
    put("npy", "bad_truncated", c_order.substr(0, c_order.size() - 5));
    std::string huge = c_order;
    huge.replace(huge.find("(2, 3)"), 6, "(99999999999999, 9999)");
    put("npy", "bad_huge_shape", huge);
}

void model() {
    // flags: bit 0 the double network, bit 1 fix up the size and checksum (file without CRC),
    // bit 2 load_int8
    const std::string f = cy::detail::encode_model(Net<float>(cy::Seed{7}));
    const std::string d = cy::detail::encode_model(Net<double>(cy::Seed{7}));
    put("model", "valid_float", std::string(1, '\0') + f);
    put("model", "valid_double", std::string(1, '\1') + d);
    put("model", "fixup_float", std::string(1, '\2') + f.substr(0, f.size() - 4));
    put("model", "fixup_double", std::string(1, '\3') + d.substr(0, d.size() - 4));
    put("model", "bad_scalar_type", std::string(1, '\1') + f);
    std::string crc = f;
    crc[40] = char(crc[40] ^ 1);
    put("model", "bad_checksum", std::string(1, '\0') + crc);
    put("model", "bad_truncated", std::string(1, '\0') + f.substr(0, f.size() / 2));
    std::string version = f;
    version[8] = 2;
    put("model", "bad_version", std::string(1, '\2') + version.substr(0, version.size() - 4));
    std::string rate = f.substr(0, f.size() - 4);  // a Dropout rate of 1.5 (rejected)
    const std::size_t at = rate.find(std::string("\x9a\x99\x99\x99\x99\x99\xc9\x3f", 8));  // 0.2
    if (at == std::string::npos) {
        std::fprintf(stderr, "make_corpus: the Dropout rate 0.2 is not in the model file\n");
        std::exit(1);
    }
    rate.replace(at, 8, std::string("\0\0\0\0\0\0\xf8\x3f", 8));
    put("model", "bad_dropout_rate", std::string(1, '\2') + rate);

    // int8 model files (flag bit 2: load_int8) of the same network, dynamic and static. Layer 0
    // of the dynamic file: sizes at 25, activation count at 41, LeakyReLU's code at 45, its slope
    // at 46, the weight scales at 54.
    const Net<float> net(cy::Seed{7});
    Eigen::MatrixXf calibration(4, 3);
    calibration << 1, -2, 0.5f, 0, 3, -1, 2, 2, 2, -0.25f, 1, 4;
    const std::string q = cy::detail::encode_int8_model(cy::quantize(net));
    const std::string qs = cy::detail::encode_int8_model(cy::quantize(net, calibration));
    const std::string q_body = q.substr(0, q.size() - 4);
    if (q_body[45] != 2) {
        std::fprintf(stderr, "make_corpus: LeakyReLU's code is not at byte 45 of the int8 file\n");
        std::exit(1);
    }
    put("model", "int8_valid_dynamic", std::string(1, '\4') + q);
    put("model", "int8_valid_static", std::string(1, '\4') + qs);
    put("model", "int8_fixup_dynamic", std::string(1, '\6') + q_body);
    put("model", "int8_fixup_static", std::string(1, '\6') + qs.substr(0, qs.size() - 4));
    put("model", "int8_given_fp32", std::string(1, '\4') + f);
    put("model", "fp32_given_int8", std::string(1, '\0') + q);
    std::string flipped = q;
    flipped[60] = char(flipped[60] ^ 1);
    put("model", "int8_bad_checksum", std::string(1, '\4') + flipped);
    const auto edited = [&](std::size_t offset, const std::string& value) {
        std::string body = q_body;
        body.replace(offset, value.size(), value);
        return std::string(1, '\6') + body;
    };
    put("model", "int8_bad_scale_mode", edited(24, std::string(1, '\2')));
    put("model", "int8_bad_activation_code", edited(45, std::string(1, '\7')));
    put("model", "int8_bad_nan_scale", edited(54, std::string("\0\0\xc0\x7f", 4)));
    put("model", "int8_bad_huge_layer", edited(33, std::string(8, '\xff')));
}

}  // namespace

int main(int argc, char** argv) {
    if (argc != 2) {
        std::fprintf(stderr, "usage: make_corpus <fuzz/corpus directory>\n");
        return 2;
    }
    root = argv[1];
    idx();
    csv();
    gz();
    npy();
    model();
    std::printf("make_corpus: wrote the seed corpus under %s\n", root.string().c_str());
    return 0;
}
