// Checkpoints: a run stopped after two epochs and resumed from its checkpoint by fresh objects
// ends with the weights, optimizer state and epoch reports of an uninterrupted run, bit for bit
// (Sgd with Nesterov momentum, Adam, AdamW; shuffling, jitter and dropout all draw random
// numbers); and checkpoints of another architecture, scalar type or optimizer, truncated or
// corrupt ones, are refused with FormatError, leaving the network and the optimizer alone.

#include <catch2/catch.hpp>

#include <chrysalis/chrysalis.hpp>

#include "temp_dir.hpp"

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <random>
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

void write_bytes(const std::string& path, const std::string& bytes) {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out.write(bytes.data(), std::streamsize(bytes.size()));
}

/// Every parameter of a network as raw bytes: equal bytes mean bit-identical parameters.
template <class Net>
std::string parameter_bytes(Net& net) {
    std::string bytes;
    net.visit_parameters([&](auto& p, auto&) {
        using S = typename std::remove_cvref_t<decltype(p)>::Scalar;
        bytes.append(reinterpret_cast<const char*>(p.data()), std::size_t(p.size()) * sizeof(S));
    });
    return bytes;
}

/// An optimizer's state for networks of scalar S (float by default) and its step count, as raw
/// bytes.
template <class S = float>
std::string state_bytes(const detail::OptimizerState& state) {
    std::string bytes(reinterpret_cast<const char*>(&state.steps), sizeof state.steps);
    const auto& moments = state.get<S>();
    for (const auto* blocks : {&moments.first, &moments.second}) {
        for (const Matrix<S>& m : *blocks)
            bytes.append(reinterpret_cast<const char*>(m.data()),
                         std::size_t(m.size()) * sizeof(S));
        bytes += '|';
    }
    return bytes;
}

using Net = Sequential<Dense<16, 32>, ReLU, Dropout<20>, Dense<32, 4>>;

/// 4 classes of 4 × 4 "images": a class's pixels are bright in one quadrant, plus noise.
Dataset<float> quadrants(Eigen::Index n, Seed seed) {
    Rng rng(seed);
    Dataset<float> data;
    data.classes = 4;
    data.features.resize(16, n);
    for (Eigen::Index j = 0; j < n; ++j) {
        const int label = int(rng.below(4));
        data.labels.push_back(label);
        for (int r = 0; r < 4; ++r)
            for (int c = 0; c < 4; ++c) {
                const bool lit = (r / 2) * 2 + c / 2 == label;
                data.features(r * 4 + c, j) = float((lit ? 0.7 : 0.1) + 0.3 * rng.uniform());
            }
    }
    return data;
}

/// Names Sgd with plain momentum and dampening among the resume tests' optimizer types: its
/// momentum must come back from the checkpoint as it was, not start again with the whole
/// gradient as a block's first step does.
struct DampedSgd {};

/// The optimizers the resume tests run: Sgd with Nesterov momentum and weight decay, or with
/// dampening (DampedSgd), or Adam / AdamW; each with a step schedule, so that the resumed
/// epochs' rates depend on the epoch.
template <class O>
auto resumable_optimizer() {
    if constexpr (std::is_same_v<O, DampedSgd>)
        return Sgd{.lr = 0.05,
                   .momentum = 0.9,
                   .weight_decay = 1e-4,
                   .schedule = schedule::step(1, 0.7),
                   .dampening = 0.3};
    else if constexpr (std::is_same_v<O, Sgd>)
        return Sgd{.lr = 0.05,
                   .momentum = 0.9,
                   .nesterov = true,
                   .weight_decay = 1e-4,
                   .schedule = schedule::step(1, 0.7)};
    else
        return O{.lr = 0.01, .schedule = schedule::step(1, 0.7)};
}

template <class S = float>
TrainOptions<S> options(int epochs) {
    return {.epochs = epochs,
            .batch_size = 24,  // 200 samples: the last batch of an epoch holds 8
            .seed = Seed{11},
            .shuffle = true,
            .progress = false,
            .jitter = 1,
            .image_width = 4,
            .image_height = 4};
}

}  // namespace

TEMPLATE_TEST_CASE("a run resumed from its checkpoint ends bit-identical to an uninterrupted run",
                   "[checkpoint]", Sgd, DampedSgd, Adam, AdamW) {
    const auto make_optimizer = [] { return resumable_optimizer<TestType>(); };
    const auto data = quadrants(200, Seed{3});
    TempDir dir;
    const std::string path = dir.file("run.ckpt");

    Net straight(Seed{7});
    auto straight_optimizer = make_optimizer();
    const auto straight_reports =
        fit(straight, data, CrossEntropy{}, straight_optimizer, options(4));
    REQUIRE(straight_reports.size() == 4);

    {  // the first two epochs, then everything is destroyed
        Net first(Seed{7});
        auto optimizer = make_optimizer();
        fit(first, data, CrossEntropy{}, optimizer, options(2), Checkpointing{.path = path});
    }

    Net resumed(Seed{99});  // another initialization: the checkpoint must override all of it
    auto resumed_optimizer = make_optimizer();
    const auto o = options(4);
    const auto resumed_reports = fit(resumed, data, CrossEntropy{}, resumed_optimizer, o,
                                     Checkpointing{.resume_from = path});

    REQUIRE(resumed_reports.size() == 2);
    for (std::size_t k = 0; k < 2; ++k) {
        CHECK(resumed_reports[k].epoch == straight_reports[k + 2].epoch);
        CHECK(resumed_reports[k].loss == straight_reports[k + 2].loss);
        CHECK(resumed_reports[k].accuracy == straight_reports[k + 2].accuracy);
    }
    CHECK(parameter_bytes(resumed) == parameter_bytes(straight));
    CHECK(state_bytes(resumed_optimizer.state_) == state_bytes(straight_optimizer.state_));
    CHECK(resumed.layer<2>().rng_state().words[0] == straight.layer<2>().rng_state().words[0]);

    // The control: the same checkpoint with the training generator reset to the seed's (as if
    // it had not been stored) resumes into other shuffles and jitter, and other weights.
    Net control(Seed{99});
    auto control_optimizer = make_optimizer();
    const Checkpoint info = load_checkpoint(control, control_optimizer, path);
    CHECK(info.epoch == 2);
    save_checkpoint(control, control_optimizer, Checkpoint{info.epoch, Rng(Seed{11}).state()},
                    dir.file("reset.ckpt"));
    CHECK(fit(control, data, CrossEntropy{}, control_optimizer, o,
              Checkpointing{.resume_from = dir.file("reset.ckpt")})
              .size() == 2);
    CHECK(parameter_bytes(control) != parameter_bytes(straight));
}

namespace {

/// An observer that replaces a file with other bytes as training begins: passed before a
/// Checkpointing that resumes from that file, it runs between the checks of every observer and
/// the resume.
struct ReplacesFile {
    std::string path, bytes;
    int* began = nullptr;
    template <class N, class O>
    void on_train_begin(TrainingContext<N, O>&) const {
        write_bytes(path, bytes);
        ++*began;
    }
    template <class N, class O>
    void on_epoch_end(TrainingContext<N, O>&, const EpochReport&) const {}
};

}  // namespace

TEST_CASE("a resume loads the checkpoint as it was checked, whatever becomes of the file after",
          "[checkpoint]") {
    const auto data = quadrants(200, Seed{3});
    TempDir dir;
    const std::string path = dir.file("run.ckpt");
    Net straight(Seed{7});
    auto straight_optimizer = resumable_optimizer<Sgd>();
    fit(straight, data, CrossEntropy{}, straight_optimizer, options(4));
    {
        Net first(Seed{7});
        auto optimizer = resumable_optimizer<Sgd>();
        fit(first, data, CrossEntropy{}, optimizer, options(2), Checkpointing{.path = path});
    }
    const std::string checkpoint = read_bytes(path);
    REQUIRE(checkpoint.size() > 1000);

    // The file is read once, by check_settings: an observer that overwrites it with bytes that
    // are no checkpoint at all, after every check and before the resume, changes nothing (a
    // second read would throw FormatError here).
    int began = 0;
    Net resumed(Seed{99});
    auto resumed_optimizer = resumable_optimizer<Sgd>();
    const auto reports =
        fit(resumed, data, CrossEntropy{}, resumed_optimizer, options(4),
            ReplacesFile{path, "not a checkpoint", &began}, Checkpointing{.resume_from = path});
    CHECK(began == 1);
    CHECK(read_bytes(path) == "not a checkpoint");
    REQUIRE(reports.size() == 2);
    CHECK(reports[0].epoch == 2);
    CHECK(parameter_bytes(resumed) == parameter_bytes(straight));
    CHECK(state_bytes(resumed_optimizer.state_) == state_bytes(straight_optimizer.state_));

    // The same observer object trains again: it reads the file anew (now no checkpoint), and
    // refuses it before any observer's on_train_begin.
    const Checkpointing resume{.resume_from = path};
    Net again(Seed{99});
    auto again_optimizer = resumable_optimizer<Sgd>();
    write_bytes(path, checkpoint);
    CHECK(fit(again, data, CrossEntropy{}, again_optimizer, options(4), resume).size() == 2);
    CHECK(parameter_bytes(again) == parameter_bytes(straight));
    write_bytes(path, "not a checkpoint");
    Net third(Seed{99});
    const std::string untouched = parameter_bytes(third);
    CHECK_THROWS_AS(fit(third, data, CrossEntropy{}, again_optimizer, options(4),
                        ReplacesFile{path, checkpoint, &began}, resume),
                    FormatError);
    CHECK(began == 1);  // the observer's on_train_begin never ran
    CHECK(parameter_bytes(third) == untouched);
}

TEMPLATE_TEST_CASE("a double network resumed from its checkpoint ends bit-identical too",
                   "[checkpoint]", Sgd, Adam) {
    // The float case above, for a double network (its parameters, momenta and moment estimates
    // are the optimizer state's double half): Nesterov momentum and weight decay, or Adam; a
    // step schedule, shuffling, jitter and dropout.
    using DoubleNet = Sequential<Dense<16, 32, double>, ReLU, Dropout<20>, Dense<32, 4, double>>;
    const auto make_optimizer = [] { return resumable_optimizer<TestType>(); };
    const auto floats = quadrants(200, Seed{3});
    Dataset<double> data;
    data.classes = floats.classes;
    data.labels = floats.labels;
    data.features = floats.features.cast<double>();
    const auto options_of = [](int epochs) { return options<double>(epochs); };
    TempDir dir;
    const std::string path = dir.file("run.ckpt");

    DoubleNet straight(Seed{7});
    auto straight_optimizer = make_optimizer();
    const auto straight_reports =
        fit(straight, data, CrossEntropy{}, straight_optimizer, options_of(4));
    {
        DoubleNet first(Seed{7});
        auto optimizer = make_optimizer();
        fit(first, data, CrossEntropy{}, optimizer, options_of(2), Checkpointing{.path = path});
    }
    DoubleNet resumed(Seed{99});
    auto resumed_optimizer = make_optimizer();
    const auto resumed_reports = fit(resumed, data, CrossEntropy{}, resumed_optimizer,
                                     options_of(4), Checkpointing{.resume_from = path});
    REQUIRE(resumed_reports.size() == 2);
    for (std::size_t k = 0; k < 2; ++k)
        CHECK(resumed_reports[k].loss == straight_reports[k + 2].loss);
    CHECK(parameter_bytes(resumed) == parameter_bytes(straight));
    CHECK(state_bytes<double>(resumed_optimizer.state_) ==
          state_bytes<double>(straight_optimizer.state_));
    CHECK(state_bytes<double>(resumed_optimizer.state_).size() > 1000);  // the double half
    // A fresh initialization trained for the last two epochs alone ends elsewhere.
    DoubleNet fresh(Seed{99});
    auto fresh_optimizer = make_optimizer();
    fit(fresh, data, CrossEntropy{}, fresh_optimizer, options_of(2));
    CHECK(parameter_bytes(fresh) != parameter_bytes(straight));
}

TEST_CASE("distill resumes from a checkpoint like fit", "[checkpoint]") {
    const auto data = quadrants(120, Seed{4});
    Net teacher(Seed{1});
    Sgd teacher_sgd{.lr = 0.1, .momentum = 0.9};
    fit(teacher, data, CrossEntropy{}, teacher_sgd, options(2));
    const Matrix<float> logits = predict_logits(teacher, data);
    const Distillation kd{.temperature = 3, .alpha = 0.8};
    auto o = options(3);
    o.jitter = 0;  // cached logits belong to the unjittered inputs
    TempDir dir;

    Net straight(Seed{2});
    Adam straight_adam{.lr = 0.01};
    distill(straight, data, logits, kd, straight_adam, o);

    Net first(Seed{2});
    Adam first_adam{.lr = 0.01};
    auto part = o;
    part.epochs = 1;
    distill(first, data, logits, kd, first_adam, part, Checkpointing{.path = dir.file("kd.ckpt")});
    Net resumed(Seed{5});
    Adam resumed_adam{.lr = 0.01};
    CHECK(distill(resumed, data, logits, kd, resumed_adam, o,
                  Checkpointing{.resume_from = dir.file("kd.ckpt")})
              .size() == 2);
    CHECK(parameter_bytes(resumed) == parameter_bytes(straight));
    CHECK(resumed_adam.steps() == straight_adam.steps());
}

TEST_CASE("Checkpointing::every writes after every n-th epoch and after the last", "[checkpoint]") {
    const auto data = quadrants(48, Seed{5});
    TempDir dir;
    const std::string path = dir.file("every.ckpt");
    Net net(Seed{1});
    Sgd sgd{.lr = 0.05};
    std::vector<int> seen;  // the checkpoint's epoch after each epoch, -1 for none
    auto o = options(5);
    Checkpointing every_second{.path = path, .every = 2};
    o.on_epoch = [&](const EpochReport&) {
        if (!fs::exists(path)) {
            seen.push_back(-1);
            return;
        }
        Net probe;
        Sgd probe_sgd;
        seen.push_back(load_checkpoint(probe, probe_sgd, path).epoch);
    };
    fit(net, data, CrossEntropy{}, sgd, o, every_second);
    CHECK(seen == std::vector<int>{-1, 2, 2, 4, 5});

    every_second.every = 0;
    CHECK_THROWS_AS(fit(net, data, CrossEntropy{}, sgd, o, every_second), ValueError);

    // Resuming a finished run has nothing left to do, and leaves the network as saved.
    Net finished(Seed{3});
    Sgd finished_sgd{.lr = 0.05};
    CHECK(fit(finished, data, CrossEntropy{}, finished_sgd, options(5),
              Checkpointing{.resume_from = path})
              .empty());
    CHECK(parameter_bytes(finished) == parameter_bytes(net));
}

TEST_CASE("a call refused for an observer's setting has not resumed into the network",
          "[checkpoint][observers]") {
    // Checkpointing's resume (in on_train_begin) comes before EarlyStopping in the list, and
    // EarlyStopping refuses a run without validation data: every observer's check_settings runs
    // before any on_train_begin, so the refusal comes before the resume replaces the weights.
    const auto data = quadrants(48, Seed{6});
    TempDir dir;
    const std::string path = dir.file("refused.ckpt");
    Net saved(Seed{1});
    Sgd saved_sgd{.lr = 0.05};
    fit(saved, data, CrossEntropy{}, saved_sgd, options(1), Checkpointing{.path = path});
    Net net(Seed{2});
    Sgd sgd{.lr = 0.05};
    const std::string before = parameter_bytes(net);
    REQUIRE(before != parameter_bytes(saved));
    CHECK_THROWS_WITH(fit(net, data, CrossEntropy{}, sgd, options(3),
                          Checkpointing{.resume_from = path}, EarlyStopping{}),
                      Catch::Matchers::Contains("set TrainOptions::validation"));
    CHECK(parameter_bytes(net) == before);
    CHECK_THROWS_WITH(
        fit(net, data, CrossEntropy{}, sgd, options(3), Checkpointing{.resume_from = path},
            Checkpointing{.path = dir.file("never.ckpt"), .every = 0}),
        Catch::Matchers::Contains("Checkpointing::every must be >= 1, got 0"));
    CHECK(parameter_bytes(net) == before);
}

TEST_CASE("a resume file that is missing or damaged is refused before any observer starts",
          "[checkpoint][observers]") {
    // The resume ran in Checkpointing's on_train_begin, after EarlyStopping's had reset its
    // record: a call refused for a typo in the path left the caller's EarlyStopping emptied.
    const auto data = quadrants(48, Seed{6});
    TempDir dir;
    Net net(Seed{2});
    Sgd sgd{.lr = 0.05};
    TrainOptions<float> o = options(2);
    o.validation = &data;
    EarlyStopping stop{.patience = 5};
    fit(net, data, CrossEntropy{}, sgd, o, stop);
    const int best = stop.best_epoch();
    REQUIRE(best >= 0);
    const std::string before = parameter_bytes(net);
    CHECK_THROWS_AS(fit(net, data, CrossEntropy{}, sgd, o, stop,
                        Checkpointing{.resume_from = dir.file("missing.ckpt")}),
                    IoError);
    CHECK(stop.best_epoch() == best);
    const std::string damaged = dir.file("damaged.ckpt");
    std::ofstream(damaged, std::ios::binary) << "not a checkpoint";
    CHECK_THROWS_AS(
        fit(net, data, CrossEntropy{}, sgd, o, stop, Checkpointing{.resume_from = damaged}),
        FormatError);
    CHECK(stop.best_epoch() == best);
    CHECK(parameter_bytes(net) == before);
}

TEST_CASE("save_checkpoint and load_checkpoint round-trip a double network and its Adam state",
          "[checkpoint]") {
    using DoubleNet = Sequential<Dense<3, 5, double>, Tanh, Dropout<10>, Dense<5, 2, double>>;
    Dataset<double> data;
    data.classes = 2;
    data.features = Matrix<double>::Random(3, 30);
    for (int j = 0; j < 30; ++j) data.labels.push_back(j % 2);
    DoubleNet net(Seed{1});
    Adam adam{.lr = 0.01};
    fit(net, data, CrossEntropy{}, adam, {.epochs = 2, .batch_size = 7, .progress = false});
    TempDir dir;
    const Checkpoint info{7, Rng(Seed{42}).state()};
    save_checkpoint(net, adam, info, dir.file("d.ckpt"));

    DoubleNet back(Seed{2});
    Adam back_adam;
    const Checkpoint got = load_checkpoint(back, back_adam, dir.file("d.ckpt"));
    CHECK(got.epoch == 7);
    for (int i = 0; i < 4; ++i) CHECK(got.rng.words[i] == info.rng.words[i]);
    CHECK(parameter_bytes(back) == parameter_bytes(net));
    CHECK(back_adam.steps() == 10);  // 2 epochs of ceil(30 / 7) = 5 batches
    REQUIRE(back_adam.state_.d.first.size() == 4);
    for (std::size_t k = 0; k < 4; ++k) {
        CHECK(back_adam.state_.d.first[k] == adam.state_.d.first[k]);
        CHECK(back_adam.state_.d.second[k] == adam.state_.d.second[k]);
    }
    CHECK(back.layer<2>().rng_state().words[3] == net.layer<2>().rng_state().words[3]);
}

TEST_CASE("a checkpoint of another network, scalar type or optimizer is refused by name",
          "[checkpoint]") {
    TempDir dir;
    const std::string path = dir.file("run.ckpt");
    Net net(Seed{1});
    Sgd sgd{.lr = 0.05, .momentum = 0.9};
    fit(net, quadrants(40, Seed{2}), CrossEntropy{}, sgd, {.epochs = 1, .progress = false});
    save_checkpoint(net, sgd, Checkpoint{1}, path);

    SECTION("another architecture") {
        Sequential<Dense<16, 8>, ReLU, Dense<8, 4>> other(Seed{3});
        Sgd other_sgd;
        const std::string before = parameter_bytes(other);
        CHECK_THROWS_WITH(
            load_checkpoint(other, other_sgd, path),
            StartsWith("chrysalis::load_checkpoint: '" + path +
                       "' holds Sequential<Dense<16,32,") &&
                Contains("but the network is Sequential<Dense<16,8,float>,ReLU,Dense<8,4,float>>"));
        CHECK(parameter_bytes(other) == before);
        CHECK(other_sgd.state_.steps == 0);
    }
    SECTION("another scalar type") {
        Sequential<Dense<16, 32, double>, ReLU, Dropout<20>, Dense<32, 4, double>> other;
        Sgd other_sgd;
        CHECK_THROWS_WITH(load_checkpoint(other, other_sgd, path),
                          Contains("holds float parameters but the network's scalar type is "
                                   "double"));
    }
    SECTION("another optimizer type, also through fit's Checkpointing::resume_from") {
        Net other(Seed{3});
        Adam adam;
        const std::string before = parameter_bytes(other);
        const std::string message =
            "chrysalis::load_checkpoint: '" + path +
            "' holds the state of a Sgd optimizer but the optimizer is Adam; resume with the "
            "optimizer type it was saved with";
        CHECK_THROWS_WITH(load_checkpoint(other, adam, path), message);
        CHECK_THROWS_AS(fit(other, quadrants(40, Seed{2}), CrossEntropy{}, adam, options(3),
                            Checkpointing{.resume_from = path}),
                        FormatError);
        CHECK(parameter_bytes(other) == before);
        CHECK(adam.steps() == 0);
    }
    SECTION("a model file, or a missing file") {
        save(net, dir.file("model.bin"));
        Net other;
        CHECK_THROWS_WITH(load_checkpoint(other, sgd, dir.file("model.bin")),
                          Contains("is a model file (written by save), not a checkpoint"));
        CHECK_THROWS_AS(load_checkpoint(other, sgd, dir.file("absent.ckpt")), IoError);
    }
}

TEST_CASE("a truncated or corrupt checkpoint throws FormatError and changes nothing",
          "[checkpoint]") {
    TempDir dir;
    const std::string path = dir.file("run.ckpt"), damaged = dir.file("damaged.ckpt");
    Net net(Seed{1});
    Adam adam{.lr = 0.01};
    fit(net, quadrants(40, Seed{2}), CrossEntropy{}, adam, {.epochs = 1, .progress = false});
    save_checkpoint(net, adam, Checkpoint{1}, path);
    const std::string good = read_bytes(path);

    Net other(Seed{5});
    Adam other_adam;
    const std::string before = parameter_bytes(other);
    for (const std::size_t keep :
         {std::size_t(0), std::size_t(5), std::size_t(19), good.size() / 2, good.size() - 1}) {
        INFO("first " << keep << " of " << good.size() << " bytes");
        write_bytes(damaged, good.substr(0, keep));
        CHECK_THROWS_WITH(load_checkpoint(other, other_adam, damaged),
                          StartsWith("chrysalis::load_checkpoint: '" + damaged + "' is truncated"));
    }
    std::string flipped = good;
    flipped[good.size() / 3] = char(flipped[good.size() / 3] ^ 0x10);
    write_bytes(damaged, flipped);
    CHECK_THROWS_WITH(load_checkpoint(other, other_adam, damaged),
                      Contains("is corrupt: its CRC-32 checksum is"));
    std::string versioned = good;
    versioned[8] = char(checkpoint_format_version + 1);
    write_bytes(damaged, versioned);
    CHECK_THROWS_WITH(
        load_checkpoint(other, other_adam, damaged),
        Contains(detail::concat("has checkpoint format version ", checkpoint_format_version + 1,
                                "; this version of chrysalis reads format version ",
                                checkpoint_format_version, " only")));
    CHECK(parameter_bytes(other) == before);
    CHECK(other_adam.steps() == 0);
    CHECK(other_adam.state_.f.first.empty());
}

namespace {

/// Sgd under its own name, restoring its state with a record layout chosen by the test: what a
/// user's optimizer whose load_state disagrees with its save_state looks like.
template <int Layout>
struct SgdReadingOtherRecords : Sgd {
    static std::string name() { return "Sgd"; }
    template <class S>
    void load_state(StateReader<S>& in) {
        if constexpr (Layout == 0) {
            marker = in.integer("velocity");  // the file's first record is "steps"
        } else {
            marker = in.integer("steps");  // and never reads "momentum"
        }
    }
    std::int64_t marker = -1;
};

}  // namespace

TEST_CASE("optimizer state records are checked by name and number, changing nothing",
          "[checkpoint]") {
    TempDir dir;
    const std::string path = dir.file("run.ckpt");
    Net net(Seed{1});
    Sgd sgd{.lr = 0.05, .momentum = 0.9};
    fit(net, quadrants(40, Seed{2}), CrossEntropy{}, sgd, {.epochs = 1, .progress = false});
    save_checkpoint(net, sgd, Checkpoint{1}, path);

    Net other(Seed{3});
    const std::string before = parameter_bytes(other);
    SgdReadingOtherRecords<0> renamed;
    CHECK_THROWS_WITH(load_checkpoint(other, renamed, path),
                      "chrysalis::load_checkpoint: '" + path +
                          "' holds optimizer state record 'steps' (kind 1) where Sgd expects "
                          "'velocity' (kind 1)");
    SgdReadingOtherRecords<1> short_reader;
    CHECK_THROWS_WITH(load_checkpoint(other, short_reader, path),
                      "chrysalis::load_checkpoint: '" + path +
                          "' holds 2 optimizer state records but Sgd::load_state read 1");
    CHECK(parameter_bytes(other) == before);
    CHECK(renamed.marker == -1);
    CHECK(short_reader.marker == -1);  // it read the count into a copy that was dropped
}

TEST_CASE("a step count the optimizer rejects is a FormatError naming the file and the optimizer",
          "[checkpoint]") {
    TempDir dir;
    const std::string path = dir.file("run.ckpt");
    Net net(Seed{1});
    Adam adam{.lr = 0.01};
    fit(net, quadrants(40, Seed{2}), CrossEntropy{}, adam, {.epochs = 1, .progress = false});
    save_checkpoint(net, adam, Checkpoint{1}, path);

    // The "steps" record: its name, its kind (4 bytes), then the count (8 bytes); set it to −1
    // and recompute the checksum, as a crafted file would.
    std::string bytes = read_bytes(path);
    const std::size_t at = bytes.find("steps");
    REQUIRE(at != std::string::npos);
    std::string negative;
    detail::put_le(negative, std::int64_t{-1});
    bytes.replace(at + 5 + 4, 8, negative);
    bytes.resize(bytes.size() - 4);
    detail::put_le(bytes, detail::crc32(bytes));
    write_bytes(path, bytes);

    Net other(Seed{3});
    Adam other_adam;
    const std::string before = parameter_bytes(other);
    CHECK_THROWS_WITH(load_checkpoint(other, other_adam, path),
                      "chrysalis::load_checkpoint: '" + path +
                          "' holds optimizer state that Adam rejects: the saved step count is -1; "
                          "expected a count >= 0");
    CHECK(parameter_bytes(other) == before);
    CHECK(other_adam.steps() == 0);
}

}  // namespace CHRYSALIS_TEST_FILE
