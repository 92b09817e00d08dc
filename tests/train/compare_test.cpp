#include "octrain/train/compare.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <fstream>
#include <sstream>

#include "octrain/control/model_builder.h"
#include "octrain/control/network.h"
#include "octrain/util/error.h"
#include "octrain/util/file_name.h"
#include "run_helpers.h"

namespace octrain::train {
namespace fs = std::filesystem;
namespace {

TEST(Compare, GridWritesRunsAndSummary) {
  const auto dir = testing::fresh_dir();
  CompareConfig config;
  config.base = testing::toy_config(dir);
  config.base.epochs = 2;
  config.add_method_spec("sgd:lr=0.05");
  config.add_method_spec("adam:lr=0.01");
  config.seeds = {0, 1};
  std::FILE* sink = std::tmpfile();
  const auto rows = run_compare(config, false, sink);
  std::fclose(sink);
  ASSERT_EQ(rows.size(), 2u);
  for (const auto& r : rows) {
    EXPECT_EQ(r.runs, 2);
    EXPECT_EQ(r.diverged, 0);
    EXPECT_TRUE(std::isfinite(r.train_loss_mean));
    EXPECT_GT(r.train_loss_std, 0.0);  // different seeds, different runs
  }
  EXPECT_TRUE(fs::exists(dir / "sgd_lr_0.05" / "seed-1" / "metrics.jsonl"));
  std::stringstream md;
  md << std::ifstream(dir / "summary.md").rdbuf();
  EXPECT_NE(md.str().find("| adam:lr=0.01 |"), std::string::npos) << md.str();
  EXPECT_TRUE(fs::exists(dir / "summary.csv"));
}

TEST(Compare, DivergedRunsAreCountedNotFatal) {
  const auto dir = testing::fresh_dir();
  CompareConfig config;
  config.base = testing::toy_config(dir);
  config.base.epochs = 1;
  config.add_method_spec("sgd:lr=1e30");
  const auto rows = run_compare(config, true);
  EXPECT_EQ(rows[0].diverged, 1);
}

TEST(Compare, BadEntriesFailBeforeAnyRun) {
  const auto dir = testing::fresh_dir();
  CompareConfig config;
  config.base = testing::toy_config(dir / "grid");
  config.add_method_spec("adam");
  config.add_method_spec("sgd:lr=-1");
  EXPECT_THROW(run_compare(config, true), UsageError);
  EXPECT_FALSE(fs::exists(dir / "grid" / "adam"));
  CompareConfig twice;
  twice.base = config.base;
  twice.add_method_spec("adam");
  twice.add_method_spec("adam");
  EXPECT_THROW(run_compare(twice, true), UsageError);
}

TEST(Compare, TomlGrid) {
  const auto dir = testing::fresh_dir();
  const auto path = (dir / "grid.toml").string();
  std::ofstream(path) << "dataset = \"toy-sin\"\nmodel = \"mlp:1-4-1\"\nseeds = [3, 4]\n"
                         "[[run]]\nmethod = \"sgd\"\nlr = 0.1\nmomentum = 0.9\n"
                         "[[run]]\nlabel = \"Adam\"\nmethod = \"adam\"\n";
  CompareConfig config;
  config.merge_toml_file(path);
  ASSERT_EQ(config.entries.size(), 2u);
  EXPECT_EQ(config.entries[0].options.at("momentum"), "0.9");
  EXPECT_EQ(config.entries[1].label, "Adam");
  EXPECT_EQ(config.seeds, (std::vector<uint64_t>{3, 4}));
  std::ofstream(path) << "[[run]]\nlr = 0.1\n";
  CompareConfig bad;
  EXPECT_THROW(bad.merge_toml_file(path), UsageError);
}

TEST(Compare, TomlSweepsExpandToRunsNamedByTheirOptions) {
  const auto dir = testing::fresh_dir();
  const auto path = (dir / "grid.toml").string();
  std::ofstream(path) << "[[run]]\nmethod = \"sgd\"\nlr = [0.01, 0.1]\nmomentum = [0, 0.9]\n"
                         "[[run]]\nlabel = \"Adam\"\nmethod = \"adam\"\nlr = [1e-3, 3e-3]\n"
                         "[[run]]\nmethod = \"rmsprop\"\n";
  CompareConfig config;
  config.merge_toml_file(path);
  std::vector<std::string> labels;
  for (const auto& e : config.entries) labels.push_back(e.label);
  EXPECT_EQ(labels, (std::vector<std::string>{"sgd:lr=0.01,momentum=0", "sgd:lr=0.01,momentum=0.9",
                                              "sgd:lr=0.1,momentum=0", "sgd:lr=0.1,momentum=0.9",
                                              "Adam lr=0.001", "Adam lr=0.003", "rmsprop"}));
  EXPECT_EQ(config.entries[5].options.at("lr"), "0.003");
  for (const char* bad :
       {"[[run]]\nmethod = \"sgd\"\nlr = []\n", "[[run]]\nmethod = [\"sgd\", \"adam\"]\n"}) {
    std::ofstream(path) << bad;
    CompareConfig refused;
    EXPECT_THROW(refused.merge_toml_file(path), UsageError) << bad;
  }
}

// Run settings in a [[run]] table (and sweeps over them) apply to that entry's runs only; keys
// that change the data stay grid-wide.
TEST(Compare, RunTablesSetAndSweepRunSettings) {
  const auto dir = testing::fresh_dir();
  const auto path = (dir / "grid.toml").string();
  std::ofstream(path) << "dataset = \"toy-sin\"\nmodel = \"mlp:1-4-1\"\nepochs = 1\n"
                         "batch_size = 25\nout = \""
                      << (dir / "out").string()
                      << "\"\n"
                         "[[run]]\nmethod = \"sgd\"\nlr = 0.1\nbatch_size = [10, 50]\n"
                         "[[run]]\nlabel = \"Adam\"\nmethod = \"adam\"\nepochs = 2\n"
                         "lr_schedule = \"cosine\"\n";
  CompareConfig config;
  config.merge_toml_file(path);
  std::vector<std::string> labels;
  for (const auto& e : config.entries) labels.push_back(e.label);
  EXPECT_EQ(labels, (std::vector<std::string>{"sgd:lr=0.1 batch_size=10",
                                              "sgd:lr=0.1 batch_size=50", "Adam"}));
  EXPECT_EQ(config.entries[0].options.count("batch_size"), 0u);
  EXPECT_EQ(config.entries[1].settings.at("batch_size"), "50");
  config.base.threads = 1;
  run_compare(config, true);
  auto recorded = [&](const std::string& label) {
    RunConfig c;
    c.merge_toml_file((dir / "out" / safe_file_name(label) / "seed-0" / "config.toml").string());
    return c;
  };
  EXPECT_EQ(recorded("sgd:lr=0.1 batch_size=10").batch_size, 10);
  EXPECT_EQ(recorded("sgd:lr=0.1 batch_size=50").batch_size, 50);
  EXPECT_EQ(recorded("Adam").batch_size, 25);
  EXPECT_EQ(recorded("Adam").epochs, 2);
  EXPECT_EQ(recorded("Adam").lr_schedule, "cosine");
  for (const char* bad :
       {"[[run]]\nmethod = \"sgd\"\ndataset = \"wine\"\n", "[[run]]\nmethod = \"sgd\"\nseed = 3\n",
        "[[run]]\nmethod = \"sgd\"\nbatch_size = [0, 4]\n"}) {
    std::ofstream(path) << bad;
    CompareConfig refused;
    EXPECT_THROW(refused.merge_toml_file(path), UsageError) << bad;
  }
}

// The DeepOBS problems as shipped: DeepOBS's layer shapes and parameter counts (logreg 784·10+10;
// mlp 784·1000+1000 + 1000·500+500 + 500·100+100 + 100·10+10; 2c2d 5·5·32+32 + 5·5·32·64+64 +
// 7·7·64·1024+1024 + 1024·10+10), batch 128, 50 epochs for logreg and 100 for the others, a
// sixth of the training split for validation (10 000 Fashion-MNIST images), a split fixed across
// seeds, the problem's name for the exported run files.
TEST(Compare, DeepObsProblemsHaveTheirDefinedShapes) {
  struct Problem {
    const char* name;
    int64_t parameters, epochs;
    std::vector<std::vector<int64_t>> weight_shapes;
  };
  const std::vector<std::vector<int64_t>> mlp = {{1000, 784}, {500, 1000}, {100, 500}, {10, 100}};
  const std::vector<std::vector<int64_t>> c2d2 = {
      {32, 1, 5, 5}, {64, 32, 5, 5}, {1024, 3136}, {10, 1024}};
  for (const auto& p : std::vector<Problem>{{"fmnist_logreg", 7850, 50, {{10, 784}}},
                                            {"mnist_logreg", 7850, 50, {{10, 784}}},
                                            {"fmnist_mlp", 1336610, 100, mlp},
                                            {"mnist_mlp", 1336610, 100, mlp},
                                            {"fmnist_2c2d", 3274634, 100, c2d2},
                                            {"mnist_2c2d", 3274634, 100, c2d2}}) {
    SCOPED_TRACE(p.name);
    std::string stem = p.name;
    std::replace(stem.begin(), stem.end(), '_', '-');
    CompareConfig config;
    config.merge_toml_file(std::string(OCTRAIN_SOURCE_DIR) + "/configs/deepobs-" + stem + ".toml");
    const bool fashion = stem.rfind("fmnist", 0) == 0;
    EXPECT_EQ(config.base.dataset, fashion ? "fashion-mnist" : "mnist");
    EXPECT_EQ(config.base.problem, p.name);
    EXPECT_EQ(config.base.batch_size, 128);
    EXPECT_EQ(config.base.epochs, p.epochs);
    EXPECT_NEAR(config.base.validation_fraction * 60000, 10000, 1e-6);
    EXPECT_EQ(config.base.data_seed, 0);
    EXPECT_EQ(config.base.export_format, "deepobs,algoperf");
    auto network = control::build_network(config.base.model, {1, 28, 28});
    EXPECT_EQ(network->num_controls(), p.parameters);
    std::vector<std::vector<int64_t>> shapes;
    for (auto& theta : network->controls())
      if (theta.dim() > 1) shapes.push_back(theta.sizes().vec());
    EXPECT_EQ(shapes, p.weight_shapes);
    EXPECT_EQ(network->output_shape(), (control::Shape{10}));
    if (p.epochs == 50)  // logistic regression starts from zero weights and biases
      for (auto& theta : network->controls()) EXPECT_EQ(theta.abs().sum().item<double>(), 0.0);
    config.base.validate();
  }
}

// The shipped sweep config: three runs, validation-first settings in the base config.
TEST(Compare, ShippedSweepConfig) {
  CompareConfig config;
  config.merge_toml_file(OCTRAIN_SOURCE_DIR "/configs/wine-adam-lr-sweep.toml", "quick");
  ASSERT_EQ(config.entries.size(), 3u);
  EXPECT_EQ(config.entries[2].label, "Adam lr=0.01");
  EXPECT_EQ(config.base.lr_schedule, "warmup:20,cosine:0.01");
  EXPECT_EQ(config.base.keep, "best");
  EXPECT_EQ(config.base.epochs, 30);
  config.base.validate();
}

// One seed leaves no spread: the summary says n=1 instead of "± 0.00".
TEST(Compare, OneSeedShowsNoSpread) {
  const auto dir = testing::fresh_dir();
  CompareConfig config;
  config.base = testing::toy_config(dir);
  config.base.epochs = 1;
  config.base.validation_fraction = 0.2;
  config.add_method_spec("adam:lr=0.01");
  const auto rows = run_compare(config, true);
  EXPECT_EQ(rows[0].validated, 1);
  const auto md = summary_markdown(rows, config);
  EXPECT_EQ(md.find("±"), std::string::npos) << md;
  EXPECT_NE(md.find("(n=1)"), std::string::npos) << md;
  EXPECT_NE(md.find("validation loss"), std::string::npos) << md;
}

// A non-empty --out needs --resume; resuming keeps finished runs, finishes the others (here:
// runs asked for more epochs than they had) exactly as an uninterrupted grid, and refuses a grid
// that changes a run's settings.
TEST(Compare, ResumeSkipsFinishedRunsAndFinishesTheRest) {
  const auto dir = testing::fresh_dir("grid"), fresh = testing::fresh_dir("fresh");
  CompareConfig config;
  config.base = testing::toy_config(dir);
  config.base.epochs = 1;
  config.add_method_spec("sgd:lr=0.05");
  config.add_method_spec("adam:lr=0.01");
  run_compare(config, true);
  EXPECT_THROW(run_compare(config, true), UsageError);

  CompareOptions resume;
  resume.resume = true;
  std::FILE* sink = std::tmpfile();
  resume.out = sink;
  const auto kept = run_compare(config, resume);
  std::rewind(sink);
  char buffer[4096] = {};
  (void)!std::fread(buffer, 1, sizeof buffer - 1, sink);
  std::fclose(sink);
  EXPECT_NE(std::string(buffer).find("[2/2] adam:lr=0.01 seed 0: finished before (kept)"),
            std::string::npos)
      << buffer;

  config.base.epochs = 2;
  const auto longer = run_compare(config, CompareOptions{true, stdout, true});
  auto uninterrupted = config;
  uninterrupted.base.out = fresh.string();
  const auto reference = run_compare(uninterrupted, true);
  ASSERT_EQ(longer.size(), reference.size());
  for (size_t i = 0; i < longer.size(); ++i) {
    EXPECT_EQ(longer[i].train_loss_mean, reference[i].train_loss_mean) << i;
    EXPECT_EQ(longer[i].test_loss_mean, reference[i].test_loss_mean) << i;
    EXPECT_NE(longer[i].train_loss_mean, kept[i].train_loss_mean) << i;
  }
  config.base.batch_size = 10;
  EXPECT_THROW(run_compare(config, CompareOptions{true, stdout, true}), UsageError);
}

}  // namespace
}  // namespace octrain::train
