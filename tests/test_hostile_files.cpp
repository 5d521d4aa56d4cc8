// Files that are not regular files (issue "Hostile inputs II"): every loader refuses a FIFO, a
// character device and a directory at once with IoError naming the function, the path and the
// kind of file — a FIFO must not block and /dev/zero must not be read until memory runs out;
// every save refuses to replace anything but a regular file, follows symbolic links to their
// target (keeping the link), and saves under names as long as the file system allows.

#include <catch2/catch.hpp>

#include <chrysalis/checkpoint.hpp>
#include <chrysalis/data.hpp>
#include <chrysalis/network.hpp>
#include <chrysalis/optim.hpp>
#include <chrysalis/serialize.hpp>

#include "temp_dir.hpp"

#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#include <csignal>
#include <filesystem>
#include <fstream>
#include <functional>
#include <random>
#include <string>
#include <vector>
#include "test_file_namespace.hpp"

namespace CHRYSALIS_TEST_FILE {

using namespace chrysalis;
using Catch::Matchers::Contains;
namespace fs = std::filesystem;

namespace {

using Net = Sequential<Dense<4, 3>, ReLU, Dense<3, 2>>;

using chrysalis::test::TempDir;

/// The IoError message f throws; fails the test if it throws nothing or something else. A
/// watchdog alarm turns a hang (a loader blocked on a FIFO) into a failed test within 20 s.
std::string io_error_of(const std::function<void()>& f) {
    ::alarm(20);
    try {
        f();
    } catch (const IoError& e) {
        ::alarm(0);
        return e.what();
    } catch (const std::exception& e) {
        ::alarm(0);
        FAIL("expected chrysalis::IoError, got another exception: " << e.what());
    }
    ::alarm(0);
    FAIL("expected chrysalis::IoError, nothing was thrown");
    return {};
}

Dataset<float> tiny_data() {
    Dataset<float> d;
    d.features = Matrix<float>::Constant(4, 3, 0.5f);
    d.labels = {0, 1, 0};
    d.classes = 2;
    return d;
}

/// Every loader, each given `path` (the IDX loader as its images and as its labels).
std::vector<std::pair<std::string, std::function<void(const std::string&)>>> loaders(
    const std::string& valid_idx_images, const std::string& valid_idx_labels) {
    return {
        {"chrysalis::load",
         [](const std::string& p) {
             Net net;
             load(net, p);
         }},
        {"chrysalis::load_npy", [](const std::string& p) { (void)load_npy<float>(p); }},
        {"chrysalis::load_checkpoint",
         [](const std::string& p) {
             Net net;
             Sgd sgd{};
             (void)load_checkpoint(net, sgd, p);
         }},
        {"chrysalis::load_csv", [](const std::string& p) { (void)load_csv<float>(p); }},
        {"chrysalis::load_idx",
         [valid_idx_labels](const std::string& p) { (void)load_idx<float>(p, valid_idx_labels); }},
        {"chrysalis::load_idx",
         [valid_idx_images](const std::string& p) { (void)load_idx<float>(valid_idx_images, p); }},
    };
}

}  // namespace

TEST_CASE("every loader refuses a FIFO at once instead of waiting for a writer", "[files]") {
    TempDir dir;
    save_idx(tiny_data(), 2, 2, dir.file("images.idx"), dir.file("labels.idx"));
    const std::string fifo = dir.file("pipe");
    REQUIRE(::mkfifo(fifo.c_str(), 0600) == 0);
    for (const auto& [name, load_from] : loaders(dir.file("images.idx"), dir.file("labels.idx"))) {
        INFO(name);
        const std::string message = io_error_of([&, &f = load_from] { f(fifo); });
        CHECK_THAT(message, Contains(name) && Contains(fifo) && Contains("FIFO") &&
                                Contains("not a regular file"));
    }
}

TEST_CASE("every loader refuses a character device such as /dev/zero, which never ends",
          "[files]") {
    TempDir dir;
    save_idx(tiny_data(), 2, 2, dir.file("images.idx"), dir.file("labels.idx"));
    for (const std::string device : {"/dev/zero", "/dev/null", "/dev/urandom"}) {
        if (!fs::exists(device)) continue;
        for (const auto& [name, load_from] :
             loaders(dir.file("images.idx"), dir.file("labels.idx"))) {
            INFO(name << " on " << device);
            const std::string message = io_error_of([&, &f = load_from] { f(device); });
            CHECK_THAT(message,
                       Contains(name) && Contains(device) && Contains("a character device"));
        }
    }
}

TEST_CASE("every loader refuses a directory, naming it", "[files]") {
    TempDir dir;
    save_idx(tiny_data(), 2, 2, dir.file("images.idx"), dir.file("labels.idx"));
    fs::create_directory(dir.file("folder"));
    for (const auto& [name, load_from] : loaders(dir.file("images.idx"), dir.file("labels.idx"))) {
        INFO(name);
        const std::string message = io_error_of([&, &f = load_from] { f(dir.file("folder")); });
        CHECK_THAT(message, Contains(name) && Contains("folder") && Contains("a directory"));
    }
}

TEST_CASE("a save refuses to replace a FIFO or a directory and leaves it as it was", "[files]") {
    TempDir dir;
    const std::string fifo = dir.file("pipe");
    REQUIRE(::mkfifo(fifo.c_str(), 0600) == 0);
    fs::create_directory(dir.file("folder"));
    const Net net(Seed{1});
    const std::vector<std::pair<std::string, std::function<void(const std::string&)>>> savers{
        {"chrysalis::save", [&](const std::string& p) { save(net, p); }},
        {"chrysalis::save_npy",
         [](const std::string& p) { save_npy(Matrix<float>(Matrix<float>::Ones(2, 2)), p); }},
        {"chrysalis::save_checkpoint",
         [&](const std::string& p) { save_checkpoint(net, Sgd{}, Checkpoint{}, p); }},
        {"chrysalis::save_csv", [](const std::string& p) { save_csv(tiny_data(), p); }},
        {"chrysalis::save_idx",
         [&](const std::string& p) { save_idx(tiny_data(), 2, 2, p, dir.file("l.idx")); }},
    };
    for (const auto& [name, save_to] : savers) {
        for (const std::string& target : {fifo, dir.file("folder")}) {
            INFO(name << " onto " << target);
            const std::string message = io_error_of([&, &f = save_to] { f(target); });
            CHECK_THAT(message, Contains(name) && Contains(target) &&
                                    Contains("only a regular file is replaced"));
        }
        CHECK(fs::is_fifo(fifo));
        CHECK(fs::is_directory(dir.file("folder")));
    }
    // Nothing was left behind: no temporaries beside the FIFO (l.idx from save_idx's labels is
    // not written either: the images file is checked first).
    const std::vector<std::string> left = dir.entries();
    CHECK(left == std::vector<std::string>{"folder", "pipe"});
}

TEST_CASE("saving through a symbolic link replaces its target and keeps the link", "[files]") {
    TempDir dir;
    const Net first(Seed{1}), second(Seed{2});
    save(first, dir.file("real.model"));
    fs::create_symlink("real.model", dir.file("relative.link"));  // relative to its folder
    fs::create_symlink(dir.file("relative.link"), dir.file("chain.link"));  // a link to a link
    save(second, dir.file("chain.link"));
    CHECK(fs::is_symlink(dir.file("relative.link")));
    CHECK(fs::is_symlink(dir.file("chain.link")));
    Net back;
    load(back, dir.file("real.model"));
    CHECK(back.layer<0>().weights() == second.layer<0>().weights());
    load(back, dir.file("chain.link"));
    CHECK(back.layer<0>().weights() == second.layer<0>().weights());

    // A dangling link: the save creates its target.
    fs::create_symlink("later.model", dir.file("dangling.link"));
    save(first, dir.file("dangling.link"));
    CHECK(fs::is_symlink(dir.file("dangling.link")));
    REQUIRE(fs::is_regular_file(dir.file("later.model")));
    load(back, dir.file("later.model"));
    CHECK(back.layer<0>().weights() == first.layer<0>().weights());

    // A loop of links is an IoError, not a hang.
    fs::create_symlink("loop.b", dir.file("loop.a"));
    fs::create_symlink("loop.a", dir.file("loop.b"));
    const std::string message = io_error_of([&] { save(first, dir.file("loop.a")); });
    CHECK_THAT(message, Contains("chrysalis::save") && Contains("loop.a"));
    CHECK(fs::is_symlink(dir.file("loop.a")));
}

TEST_CASE("a file name as long as the file system allows can be saved: the temporary fits",
          "[files]") {
    TempDir dir;
    const Net net(Seed{3});
    for (const std::size_t length : {200u, 240u, 255u}) {
        INFO("name of " << length << " bytes");
        const std::string name(length, 'm');
        save(net, dir.file(name));
        save(net, dir.file(name));  // replacing it too
        Net back;
        load(back, dir.file(name));
        CHECK(back.layer<0>().weights() == net.layer<0>().weights());
        save_csv(tiny_data(), dir.file(name));
        CHECK(load_csv<float>(dir.file(name)).size() == 3);
        fs::remove(dir.file(name));
    }
    CHECK(dir.entries().empty());  // no temporary left behind
}

}  // namespace CHRYSALIS_TEST_FILE
