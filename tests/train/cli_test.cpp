// The command line: error paths exit non-zero with one line naming the field or file.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <array>
#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>

#include "cli_runner.h"
#include "run_helpers.h"

namespace octrain::train {
namespace fs = std::filesystem;
namespace {

using testing::run_cli;

TEST(Cli, HelpAndVersion) {
  EXPECT_EQ(run_cli("--help").code, 0);
  EXPECT_EQ(run_cli("train --help").code, 0);
  const auto v = run_cli("version");
  EXPECT_EQ(v.code, 0);
  EXPECT_NE(v.output.find("octrain "), std::string::npos);
}

TEST(Cli, VersionFlagAndTyposNameTheNearestCommand) {
  const auto v = run_cli("--version");
  EXPECT_EQ(v.code, 0) << v.output;
  EXPECT_EQ(v.output.rfind("octrain ", 0), 0u) << v.output;
  EXPECT_FAILS_WITH(run_cli("trian"), 2, "unknown command 'trian'; did you mean 'train'?");
  EXPECT_FAILS_WITH(run_cli("compair -d wine"), 2, "did you mean 'compare'?");
  EXPECT_FAILS_WITH(run_cli("frobnicate"), 2, "unknown command 'frobnicate' (commands: train,");
}

TEST(Cli, HelpShowsTypesAndExistingConfigs) {
  const auto help = run_cli("train --help");
  ASSERT_EQ(help.code, 0);
  for (const char* typed : {"--epochs INT", "--batch-size INT", "--weight-decay REAL",
                            "--progress-every SECONDS", "--early-stop PATIENCE"})
    EXPECT_NE(help.output.find(typed), std::string::npos) << typed << "\n" << help.output;
  // No command leaves a value untyped ("TEXT" says nothing about what to give).
  for (const char* command : {"train", "compare", "eval", "export", "predict", "plot", "report",
                              "model", "bench", "meanfield", "datasets", "methods"}) {
    const auto text = run_cli(std::string(command) + " --help");
    EXPECT_EQ(text.code, 0) << command;
    EXPECT_EQ(text.output.find(" TEXT"), std::string::npos) << command << "\n" << text.output;
  }
  // Every config the help cites exists.
  for (size_t at = help.output.find("configs/"); at != std::string::npos;
       at = help.output.find("configs/", at + 1)) {
    const auto end = help.output.find_first_of(" \n", at);
    const auto path = std::string(OCTRAIN_SOURCE_DIR) + "/" + help.output.substr(at, end - at);
    EXPECT_TRUE(fs::exists(path)) << path;
  }
}

size_t lines_starting(const std::string& text, const std::string& prefix) {
  size_t n = 0, at = 0;
  while (at < text.size()) {
    if (text.compare(at, prefix.size(), prefix) == 0) ++n;
    at = text.find('\n', at);
    if (at == std::string::npos) break;
    ++at;
  }
  return n;
}

// On a pipe: one line per epoch, plain progress lines at --progress-every, no table unless
// asked; -q: only the final result.
TEST(Cli, TrainOutputOnAPipe) {
  const auto out = testing::fresh_dir("run");
  const std::string run =
      "train -d toy-sin -m mlp:1-8-1:tanh -e 3 -b 20 --validation-fraction 0.2 ";
  const auto normal = run_cli(run + "-o '" + (out / "a").string() + "' --progress-every 1e-9");
  ASSERT_EQ(normal.code, 0) << normal.output;
  EXPECT_EQ(lines_starting(normal.output, "epoch   "), 3u) << normal.output;
  EXPECT_GT(lines_starting(normal.output, "epoch 1/3  step "), 1u) << normal.output;
  EXPECT_NE(normal.output.find("val loss"), std::string::npos) << normal.output;
  EXPECT_EQ(normal.output.find("| epoch |"), std::string::npos) << normal.output;
  const auto quiet = run_cli(run + "-q --table -o '" + (out / "b").string() + "'");
  ASSERT_EQ(quiet.code, 0) << quiet.output;
  EXPECT_EQ(lines_starting(quiet.output, "epoch"), 0u) << quiet.output;
  EXPECT_NE(quiet.output.find("| epoch | train loss | train acc (%) | val loss |"),
            std::string::npos)
      << quiet.output;
  const auto only = run_cli(run + "-q -o '" + (out / "c").string() + "'");
  ASSERT_EQ(only.code, 0) << only.output;
  EXPECT_EQ(std::count(only.output.begin(), only.output.end(), '\n'), 3) << only.output;
  EXPECT_EQ(only.output.rfind("validation loss ", 0), 0u) << only.output;
}

TEST(Cli, ValidationFlagsAreCheckedUpFront) {
  const auto out = testing::fresh_dir();
  const std::string base = "train -q -d toy-sin -m mlp:1-4-1 -o '" + out.string() + "' ";
  EXPECT_FAILS_WITH(run_cli(base + "--early-stop 3"), 2, "--validation-fraction");
  EXPECT_FAILS_WITH(run_cli(base + "--keep best"), 2, "--validation-fraction");
  EXPECT_FAILS_WITH(run_cli(base + "--keep most"), 2, "'keep'");
  EXPECT_FAILS_WITH(run_cli(base + "--lr-schedule linear"), 2, "lr_schedule");
  EXPECT_FAILS_WITH(run_cli(base + "--progress-every -1"), 2, "--progress-every");
}

// The checkpoint zip's records sit under the final file's name, not the temporary one's.
TEST(Cli, CheckpointRecordsCarryTheFinalName) {
  const auto out = testing::fresh_dir("run");
  ASSERT_EQ(run_cli("train -q -d toy-sin -m mlp:1-4-1 -e 1 -o '" + out.string() + "'").code, 0);
  std::ifstream in(out / "checkpoint.pt", std::ios::binary);
  const std::string bytes((std::istreambuf_iterator<char>(in)), {});
  EXPECT_NE(bytes.find("checkpoint/data.pkl"), std::string::npos);
  EXPECT_EQ(bytes.find(".tmp"), std::string::npos);
}

TEST(Cli, CompareRefusesANonEmptyOutWithoutResume) {
  const auto out = testing::fresh_dir("grid");
  const std::string grid =
      "compare -q --no-report -d toy-sin -m mlp:1-4-1 -e 1 --methods sgd -o '" + out.string() + "'";
  ASSERT_EQ(run_cli(grid).code, 0);
  EXPECT_FAILS_WITH(run_cli(grid), 2, "pass --resume");
  const auto resumed = run_cli(grid + " --resume");
  EXPECT_EQ(resumed.code, 0) << resumed.output;
}

TEST(Cli, BadNamesAndValuesAreUsageErrors) {
  const auto out = testing::fresh_dir();
  const std::string base = "train -q -o '" + out.string() + "' ";
  EXPECT_FAILS_WITH(run_cli(base + "-d no-such-data"), 2, "no-such-data");
  EXPECT_FAILS_WITH(run_cli(base + "-d toy-sin -m mlp:1-4-1 --method adamw"), 2,
                    "unknown method 'adamw'");
  EXPECT_FAILS_WITH(run_cli(base + "-d toy-sin -m mlp:1-4-1 --method adam:lr=abc"), 2, "'lr'");
  EXPECT_FAILS_WITH(run_cli(base + "-d toy-sin -m mlp:1-4-1 --epochs -3"), 2, "'epochs'");
  EXPECT_FAILS_WITH(run_cli(base + "-d toy-sin -m mlp:3-4-1"), 2, "does not match");
  EXPECT_FAILS_WITH(run_cli(base + "-d toy-sin -m mlp:1-4-1 --loss cross-entropy"), 2,
                    "classification");
  EXPECT_FAILS_WITH(run_cli(base + "--config /nonexistent.toml"), 2, "/nonexistent.toml");
  EXPECT_FAILS_WITH(run_cli(base + "-d toy-sin -m mlp:1-4-1 --device tpu"), 2, "'device'");
  EXPECT_FAILS_WITH(run_cli("train --resume /nonexistent-run"), 2, "/nonexistent-run");
  EXPECT_FAILS_WITH(run_cli(base + "-d toy-sin -m mlp:1-4-1 --method adam:lr=1,lr=2"), 2,
                    "option 'lr' is given twice");
}

// A batch larger than the data set is the whole set, once per epoch (the step count used to
// overflow and train nothing).
TEST(Cli, HugeBatchIsTheWholeTrainingSet) {
  const auto out = testing::fresh_dir();
  const auto o = run_cli("train -q -d toy-sin -m mlp:1-4-1 -e 2 -b 9223372036854775807 -o '" +
                         out.string() + "/run'");
  ASSERT_EQ(o.code, 0) << o.output;
  std::ifstream result(out / "run" / "result.json");
  EXPECT_EQ(nlohmann::json::parse(result)["steps"], 2);
}

TEST(Cli, TruncatedFashionMnistNamesTheFile) {
  if (!testing::installed("fashion-mnist")) GTEST_SKIP() << "fashion-mnist is not installed";
  const auto data = testing::fresh_dir("data");
  const auto dir = data / "fashion-mnist";
  fs::create_directories(dir);
  const fs::path system = "/usr/share/datasets/fashion-mnist";
  for (const auto& entry : fs::directory_iterator(system))
    fs::copy(entry.path(), dir / entry.path().filename());
  const auto victim = dir / "train-images-idx3-ubyte.gz";
  ASSERT_TRUE(fs::exists(victim));
  fs::resize_file(victim, fs::file_size(victim) / 2);
  const auto o = run_cli("train -q -d fashion-mnist -o '" + (data / "run").string() + "'",
                         "OCTRAIN_DATA_DIR='" + data.string() + "'");
  EXPECT_FAILS_WITH(o, 3, victim.string());
}

TEST(Cli, TrainThenEvalReproducesTheTestAccuracy) {
  const auto out = testing::fresh_dir("run");
  fs::remove_all(out);
  const auto train =
      run_cli("train -q -d toy-sin -m mlp:1-8-1:tanh -e 3 -b 20 -o '" + out.string() + "'");
  ASSERT_EQ(train.code, 0) << train.output;
  const auto at = train.output.rfind("test loss ");
  ASSERT_NE(at, std::string::npos) << train.output;
  const double trained = std::stod(train.output.substr(at + 10));
  const auto eval = run_cli("eval '" + out.string() + "'");
  ASSERT_EQ(eval.code, 0) << eval.output;
  const auto at2 = eval.output.find("loss ");
  ASSERT_NE(at2, std::string::npos) << eval.output;
  EXPECT_NEAR(std::stod(eval.output.substr(at2 + 5)), trained, 1e-5);
  EXPECT_FAILS_WITH(run_cli("eval /nonexistent-run"), 2, "/nonexistent-run");
  EXPECT_FAILS_WITH(run_cli("train -q --resume '" + out.string() + "' --seed 3"), 2, "--seed");
  const auto more = run_cli("train -q --resume '" + out.string() + "' --epochs 4");
  EXPECT_EQ(more.code, 0) << more.output;
}

TEST(Cli, DiscreteRunsExportAPackedModelThatEvaluatesIdentically) {
  if (!testing::installed("digits")) GTEST_SKIP() << "digits is not installed";
  for (const std::string model : {"tmlp:64-64-10", "bmlp:64-64-10"}) {
    SCOPED_TRACE(model);
    const auto dir = testing::fresh_dir(model.substr(0, 4));
    const auto run = dir / "run";
    const auto train =
        run_cli("train -q -d digits -m " + model +
                " --loss squared-hinge -e 1 -b 50 --method msa-discrete -o '" + run.string() + "'");
    ASSERT_EQ(train.code, 0) << train.output;
    std::ifstream metrics(run / "metrics.jsonl");
    const std::string records((std::istreambuf_iterator<char>(metrics)),
                              std::istreambuf_iterator<char>());
    EXPECT_NE(records.find("\"nonzero\""), std::string::npos);       // per-epoch sparsity
    EXPECT_NE(records.find("\"stage0.flips\""), std::string::npos);  // per-step flips
    const auto epoch_at = records.rfind("\"kind\":\"epoch\"");
    ASSERT_NE(epoch_at, std::string::npos) << records;
    const auto line_start = records.rfind('\n', epoch_at) + 1;  // npos + 1 = 0 on the first line
    const std::string epoch = records.substr(line_start, records.find('\n', epoch_at) - line_start);
    EXPECT_NE(epoch.find("\"alpha\""), std::string::npos) << epoch;  // α per epoch
    const std::string packed = (dir / "model.octpack").string();
    const auto exported =
        run_cli("export '" + run.string() + "' --format packed -o '" + packed + "'");
    ASSERT_EQ(exported.code, 0) << exported.output;
    for (const char* row : {"| float32 |", "| 2 bits/weight |", "1 bit/binary weight", "(written)"})
      EXPECT_NE(exported.output.find(row), std::string::npos) << exported.output;
    const auto from_checkpoint = run_cli("eval '" + run.string() + "'");
    const auto from_packed = run_cli("eval '" + packed + "'");
    ASSERT_EQ(from_packed.code, 0) << from_packed.output;
    EXPECT_EQ(from_checkpoint.output, from_packed.output);
    // The packed model exports to TorchScript and predicts as the run does.
    const std::string script = (dir / "model.pt").string();
    ASSERT_EQ(run_cli("export '" + packed + "' --format torchscript -o '" + script + "'").code, 0);
    const auto predicted_by_run = run_cli("predict '" + run.string() + "' -i digits");
    ASSERT_EQ(predicted_by_run.code, 0) << predicted_by_run.output;
    EXPECT_EQ(predicted_by_run.output, run_cli("predict '" + script + "' -i digits").output);
    EXPECT_NE(predicted_by_run.output.find("index,label,class,output_0"), std::string::npos);
    const auto bad_format =
        run_cli("export '" + run.string() + "' --format zip -o '" + packed + "'");
    EXPECT_EQ(bad_format.code, 2) << bad_format.output;  // CLI11's own message (and its help hint)
    EXPECT_NE(bad_format.output.find("--format: zip"), std::string::npos) << bad_format.output;
    std::ofstream(dir / "junk.octpack") << "OCTPACK1 but nothing else";
    EXPECT_FAILS_WITH(run_cli("eval '" + (dir / "junk.octpack").string() + "'"), 3, "junk.octpack");
  }
}

}  // namespace
}  // namespace octrain::train
