// Nothing lost: a process killed in the middle of a save (through the test hook
// detail::test_hooks::after_partial_write) leaves the previous file, which still loads
// bit-exactly; saves that fail (a missing or unwritable directory, an exception half-way) throw
// and leave the previous file as it was. Covers every writer: save (of a Sequential and of an
// Int8Network), save_npy, save_checkpoint, save_csv and save_idx (raw and gzip).

#include <catch2/catch.hpp>

#include <chrysalis/chrysalis.hpp>

#include "temp_dir.hpp"

#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>
#include "test_file_namespace.hpp"

namespace CHRYSALIS_TEST_FILE {

using namespace chrysalis;
using Catch::Matchers::Contains;
using Catch::Matchers::StartsWith;
namespace fs = std::filesystem;

namespace {

using chrysalis::test::TempDir;

std::string read_bytes(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

template <class Net>
std::string parameter_bytes(Net& net) {
    std::string bytes;
    net.visit_parameters([&](auto& p, auto&) {
        using S = typename std::remove_cvref_t<decltype(p)>::Scalar;
        bytes.append(reinterpret_cast<const char*>(p.data()), std::size_t(p.size()) * sizeof(S));
    });
    return bytes;
}

using Net = Sequential<Dense<6, 9>, ReLU, Dropout<25>, Dense<9, 3>>;

Dataset<float> small_dataset(Seed seed, Eigen::Index n) {
    Rng rng(seed);
    Dataset<float> data;
    data.features.resize(16, n);
    for (Eigen::Index i = 0; i < data.features.size(); ++i)
        data.features.data()[i] = float(rng.below(256)) / 255.0f;  // exact IDX pixels
    data.classes = 4;
    for (Eigen::Index j = 0; j < n; ++j) data.labels.push_back(int(rng.below(4)));
    return data;
}

/// Runs `save` in a forked child whose test hook kills it with SIGKILL once part of the data has
/// reached the temporary file. Returns the child's pid; fails the test unless the child died of
/// that signal (a child that finishes the save exits with status 3 instead).
pid_t kill_child_during(const std::function<void()>& save) {
    const pid_t child = ::fork();
    REQUIRE(child >= 0);
    if (child == 0) {
        detail::test_hooks::after_partial_write = [](const std::string&) { ::raise(SIGKILL); };
        try {
            save();
        } catch (...) {
            ::_exit(4);
        }
        ::_exit(3);
    }
    int status = 0;
    REQUIRE(::waitpid(child, &status, 0) == child);
    INFO("wait status " << status);
    REQUIRE(WIFSIGNALED(status));
    REQUIRE(WTERMSIG(status) == SIGKILL);
    return child;
}

/// The files the killed child left beside `name`: its temporary "<name>.tmp-<pid>-<n>".
std::vector<std::string> strays_of(const TempDir& dir, const std::string& name, pid_t child) {
    std::vector<std::string> strays;
    for (const std::string& e : dir.entries())
        if (e.starts_with(name + ".tmp-" + std::to_string(child) + "-")) strays.push_back(e);
    return strays;
}

/// Makes the hook throw, for saves that fail half-way inside this process.
struct ThrowingHook {
    ThrowingHook() {
        detail::test_hooks::after_partial_write = [](const std::string&) {
            throw std::runtime_error("injected failure");
        };
    }
    ~ThrowingHook() { detail::test_hooks::after_partial_write = nullptr; }
    ThrowingHook(const ThrowingHook&) = delete;
    ThrowingHook& operator=(const ThrowingHook&) = delete;
};

}  // namespace

TEST_CASE("a save never writes into a file already at its temporary's name", "[crash]") {
    // A temporary left by a crashed process whose pid this one reuses, or one another save is
    // writing: the next temporaries' names are taken in advance, and the save must go around
    // them (O_EXCL), leaving each as it was, rather than truncate and rename one of them.
    TempDir dir;
    const std::string path = dir.file("model.bin");
    const unsigned long next = chrysalis::file_io_detail::temporaries.load();
    std::vector<std::string> taken;
    for (unsigned long n = next; n < next + 3; ++n) {
        taken.push_back(path + ".tmp-" + std::to_string(::getpid()) + "-" + std::to_string(n));
        std::ofstream(taken.back(), std::ios::binary) << "someone else's bytes";
    }
    Net net(Seed{4});
    save(net, path);
    for (const std::string& t : taken) {
        INFO(t);
        CHECK(read_bytes(t) == "someone else's bytes");
    }
    Net loaded(Seed{5});
    load(loaded, path);
    CHECK(parameter_bytes(loaded) == parameter_bytes(net));
    CHECK(chrysalis::file_io_detail::temporaries.load() == next + 4);  // three skipped, one used
}

TEST_CASE("a save killed half-way leaves the previous model, which loads bit-exactly", "[crash]") {
    TempDir dir;
    const std::string path = dir.file("model.bin");
    Net first(Seed{1});
    first.layer<2>().set_rate(0.4);
    save(first, path);
    const std::string before = read_bytes(path);

    Net second(Seed{2});
    const pid_t child = kill_child_during([&] { save(second, path); });

    CHECK(read_bytes(path) == before);
    Net loaded(Seed{3});
    load(loaded, path);
    CHECK(parameter_bytes(loaded) == parameter_bytes(first));
    CHECK(loaded.layer<2>().rate() == 0.4);

    // The killed save left its temporary, half written: the hook fired mid-write.
    const auto strays = strays_of(dir, "model.bin", child);
    REQUIRE(strays.size() == 1);
    CHECK(dir.entries().size() == 2);
    const std::string partial = read_bytes(dir.file(strays[0]));
    const std::string full = detail::encode_model(second);
    CHECK(partial.size() == full.size() / 2);
    CHECK(partial == full.substr(0, partial.size()));

    // ... and it is harmless: no loader takes it for the model, and a later save by another
    // process (another pid, so another temporary name) replaces the model without touching it.
    CHECK_THROWS_AS(load(loaded, dir.file(strays[0])), FormatError);
    save(second, path);
    load(loaded, path);
    CHECK(parameter_bytes(loaded) == parameter_bytes(second));
    CHECK(read_bytes(dir.file(strays[0])) == partial);
}

TEST_CASE("an int8 model save killed half-way leaves the previous one, which loads bit-exactly",
          "[crash]") {
    TempDir dir;
    const std::string path = dir.file("model.int8");
    Int8Network first = quantize(Net(Seed{1}));
    save(first, path);
    const std::string before = read_bytes(path);

    const Int8Network second = quantize(Net(Seed{2}), Matrix<float>::Ones(6, 4));
    const pid_t child = kill_child_during([&] { save(second, path); });

    CHECK(read_bytes(path) == before);
    Int8Network loaded = load_int8(path);
    const Matrix<float> x = Matrix<float>::Random(6, 5);
    CHECK(loaded.predict_logits(x) == first.predict_logits(x));
    CHECK_FALSE(loaded.calibrated());

    const auto strays = strays_of(dir, "model.int8", child);
    REQUIRE(strays.size() == 1);
    const std::string partial = read_bytes(dir.file(strays[0]));
    const std::string full = detail::encode_int8_model(second);
    CHECK(partial.size() == full.size() / 2);
    CHECK(partial == full.substr(0, partial.size()));
    CHECK_THROWS_AS(load_int8(dir.file(strays[0])), FormatError);
}

TEST_CASE("a checkpoint save killed half-way leaves the previous checkpoint", "[crash]") {
    TempDir dir;
    const std::string path = dir.file("run.ckpt");
    Net net(Seed{4});
    Adam adam{.lr = 0.01};
    const auto data = small_dataset(Seed{5}, 40);
    Dataset<float> six;  // the first six features of each sample: the network's input width
    six.features = data.features.topRows(6);
    six.labels = data.labels;
    six.classes = 3;
    for (int& label : six.labels) label %= 3;
    fit(net, six, CrossEntropy{}, adam, {.epochs = 1, .batch_size = 8, .progress = false},
        Checkpointing{.path = path});
    const std::string before = read_bytes(path);
    const std::string weights = parameter_bytes(net);

    fit(net, six, CrossEntropy{}, adam, {.epochs = 1, .batch_size = 8, .progress = false});
    kill_child_during([&] {
        save_checkpoint(net, adam, Checkpoint{2, Rng(Seed{9}).state()}, path);
    });

    CHECK(read_bytes(path) == before);
    Net loaded(Seed{6});
    Adam fresh;
    const Checkpoint info = load_checkpoint(loaded, fresh, path);
    CHECK(info.epoch == 1);
    CHECK(parameter_bytes(loaded) == weights);
    CHECK(fresh.steps() == 5);  // 40 samples in batches of 8
}

TEST_CASE("an .npy save killed half-way leaves the previous array", "[crash]") {
    TempDir dir;
    const std::string path = dir.file("w.npy");
    const Matrix<double> old = Matrix<double>::Random(5, 4);
    save_npy(old, path);
    const Matrix<double> replacement = Matrix<double>::Random(7, 3);
    kill_child_during([&] { save_npy(replacement, path); });
    const Matrix<double> loaded = load_npy<double>(path);
    CHECK(loaded == old);
}

TEST_CASE("CSV and IDX saves killed half-way leave the previous files, raw and gzip", "[crash]") {
    TempDir dir;
    const auto old = small_dataset(Seed{7}, 30);
    const auto replacement = small_dataset(Seed{8}, 3000);
    for (const std::string suffix : {"", ".gz"}) {
        INFO("suffix '" << suffix << "'");
        const std::string csv = dir.file("data.csv" + suffix);
        save_csv(old, csv);
        const std::string before = read_bytes(csv);
        kill_child_during([&] { save_csv(replacement, csv); });
        CHECK(read_bytes(csv) == before);
        const auto back = load_csv<float>(csv);
        CHECK(back.features == old.features);
        CHECK(back.labels == old.labels);

        const std::string images = dir.file("images" + suffix),
                          labels = dir.file("labels" + suffix);
        save_idx(old, 4, 4, images, labels);
        const std::string images_before = read_bytes(images);
        kill_child_during([&] { save_idx(replacement, 4, 4, images, labels); });
        CHECK(read_bytes(images) == images_before);
        const auto idx = load_idx<float>(images, labels);
        CHECK(idx.features == old.features);
        CHECK(idx.labels == old.labels);
    }
}

TEST_CASE("a save that fails half-way removes its temporary and keeps the previous file",
          "[crash]") {
    TempDir dir;
    const std::string model = dir.file("model.bin"), csv = dir.file("data.csv.gz");
    const std::string int8 = dir.file("model.int8");
    save(Net(Seed{1}), model);
    save(quantize(Net(Seed{1})), int8);
    const auto data = small_dataset(Seed{2}, 50);
    save_csv(data, csv);
    const std::string model_before = read_bytes(model), csv_before = read_bytes(csv);
    const std::string int8_before = read_bytes(int8);
    {
        ThrowingHook hook;
        CHECK_THROWS_WITH(save(Net(Seed{2}), model), "injected failure");
        CHECK_THROWS_WITH(save(quantize(Net(Seed{2})), int8), "injected failure");
        CHECK_THROWS_WITH(save_csv(small_dataset(Seed{3}, 60), csv), "injected failure");
    }
    CHECK(read_bytes(model) == model_before);
    CHECK(read_bytes(int8) == int8_before);
    CHECK(read_bytes(csv) == csv_before);
    CHECK(dir.entries() == std::vector<std::string>{"data.csv.gz", "model.bin", "model.int8"});
}

TEST_CASE("saving where no file can be created throws IoError and leaves the old file alone",
          "[crash]") {
    TempDir dir;
    const auto data = small_dataset(Seed{2}, 20);
    const std::string blocker = dir.file("plain-file");
    save(Net(Seed{1}), blocker);
    const std::string blocker_bytes = read_bytes(blocker);

    SECTION("a directory that does not exist") {
        const std::string path = dir.file("missing/model.bin");
        CHECK_THROWS_WITH(save(Net{}, path),
                          StartsWith("chrysalis::save: cannot write '" + path + "'") &&
                              Contains("No such file or directory"));
        CHECK_THROWS_WITH(save_checkpoint(Net{}, Sgd{}, Checkpoint{}, path),
                          StartsWith("chrysalis::save_checkpoint: cannot write '" + path + "'") &&
                              Contains("No such file or directory"));
        CHECK_THROWS_AS(save_csv(data, dir.file("missing/data.csv")), IoError);
        CHECK(dir.entries() == std::vector<std::string>{"plain-file"});
    }
    SECTION("a parent that is a file, not a directory") {
        const std::string path = blocker + "/model.bin";
        CHECK_THROWS_WITH(save(Net{}, path), Contains("Not a directory"));
        CHECK_THROWS_AS(save_npy(Matrix<float>::Zero(2, 2).eval(), path), IoError);
        CHECK_THROWS_AS(save_idx(data, 4, 4, path, path + "-labels"), IoError);
        CHECK(read_bytes(blocker) == blocker_bytes);
    }
    SECTION("a directory without write permission") {
        const std::string sub = dir.file("read-only");
        fs::create_directory(sub);
        const std::string path = sub + "/model.bin";
        save(Net(Seed{5}), path);
        const std::string before = read_bytes(path);
        fs::permissions(sub, fs::perms::owner_read | fs::perms::owner_exec | fs::perms::group_read |
                                 fs::perms::group_exec | fs::perms::others_read |
                                 fs::perms::others_exec);
        // root may write anywhere: then the saves run in a child that drops to user "nobody".
        const auto attempt = [&] {
            int refused = 0;
            try {
                save(Net(Seed{6}), path);
            } catch (const IoError& e) {
                refused += std::string(e.what()).find("Permission denied") != std::string::npos;
            }
            try {
                save_checkpoint(Net(Seed{6}), Adam{}, Checkpoint{}, path);
            } catch (const IoError&) {
                ++refused;
            }
            return refused;
        };
        if (::geteuid() != 0) {
            CHECK(attempt() == 2);
        } else {
            const pid_t child = ::fork();
            REQUIRE(child >= 0);
            if (child == 0) {
                if (::setgid(65534) != 0 || ::setuid(65534) != 0) ::_exit(10);
                ::_exit(attempt());
            }
            int status = 0;
            REQUIRE(::waitpid(child, &status, 0) == child);
            REQUIRE(WIFEXITED(status));
            CHECK(WEXITSTATUS(status) == 2);  // 10: could not drop privileges
        }
        fs::permissions(sub, fs::perms::owner_all);
        CHECK(read_bytes(path) == before);
        CHECK(std::distance(fs::directory_iterator(sub), fs::directory_iterator{}) == 1);
    }
}

}  // namespace CHRYSALIS_TEST_FILE
