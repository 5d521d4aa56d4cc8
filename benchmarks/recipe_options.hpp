// recipe_options.hpp — the options compare_pytorch.py passes to every engine's half of its
// recipe (epoch_bench for chrysalis, peers/libtorch_epoch for LibTorch): one parser, so that each
// half accepts exactly the flags the driver sends. Standard C++ only: the peers do not link
// chrysalis.
#pragma once

#include <cstdint>
#include <stdexcept>
#include <string>

namespace recipe {

struct Options {
    std::string data = "/usr/share/datasets/fashion-mnist";  // Debian's dataset-fashion-mnist
    std::uint64_t seed = 1;
    int epochs = 3;
    int threads = 2;
    std::int64_t limit = 0;  // 0: every training image
    int inference_calls = 2000;
};

/// Parses the recipe's flags (--data, --seed, --epochs, --threads, --limit, --inference-calls);
/// any other flag goes to own(flag), which returns false for one it does not know either.
template <class Own>
Options parse(int argc, char** argv, Own&& own, const std::string& hint) {
    Options o;
    for (int i = 1; i < argc; ++i) {
        const std::string a = argv[i];
        auto value = [&]() -> std::string {
            if (i + 1 >= argc) throw std::invalid_argument("option " + a + " needs a value");
            return argv[++i];
        };
        if (a == "--data")
            o.data = value();
        else if (a == "--seed")
            o.seed = std::stoull(value());
        else if (a == "--epochs")
            o.epochs = std::stoi(value());
        else if (a == "--threads")
            o.threads = std::stoi(value());
        else if (a == "--limit")
            o.limit = std::stoll(value());
        else if (a == "--inference-calls")
            o.inference_calls = std::stoi(value());
        else if (!own(a))
            throw std::invalid_argument("unknown option " + a + " (" + hint + ")");
    }
    if (o.epochs < 1) throw std::invalid_argument("--epochs must be >= 1");
    if (o.threads < 1) throw std::invalid_argument("--threads must be >= 1");
    if (o.limit < 0) throw std::invalid_argument("--limit must be >= 0");
    if (o.inference_calls < 1) throw std::invalid_argument("--inference-calls must be >= 1");
    return o;
}

}  // namespace recipe
