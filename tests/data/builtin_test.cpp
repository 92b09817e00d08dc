#include <chrono>
#include <cmath>

#include "data/fixtures.h"
#include "octrain/data/dataset.h"
#include "octrain/data/split.h"

namespace octrain::data {
namespace {

using namespace testing;

constexpr double kPi = 3.14159265358979323846;

bool installed(const std::string& name) {
  for (const auto& info : builtin_datasets()) {
    if (info.name == name) return info.installed;
  }
  return false;
}

#define SKIP_UNLESS_INSTALLED(name) \
  if (!installed(name))             \
  GTEST_SKIP() << name << " is not installed here (scripts/install_data.sh installs it)"

TEST(ToySin, HundredTrainHundredTestOnTheSine) {
  LoadOptions options;
  options.seed = 11;
  const Dataset data = load_dataset("toy-sin", options);
  EXPECT_EQ(data.task, Task::kRegression);
  ASSERT_EQ(data.train.x.sizes(), (std::vector<int64_t>{100, 1}));
  ASSERT_EQ(data.test.y.sizes(), (std::vector<int64_t>{100, 1}));
  EXPECT_TRUE(torch::allclose(data.train.y, torch::sin(data.train.x), 0, 1e-6));
  EXPECT_TRUE(torch::allclose(data.test.y, torch::sin(data.test.x), 0, 1e-6));
  EXPECT_LE(data.train.x.abs().max().item<float>(), static_cast<float>(kPi));
  EXPECT_GT(data.train.x.max().item<float>(), 2.0f);
  EXPECT_LT(data.train.x.min().item<float>(), -2.0f);
  EXPECT_FALSE(torch::equal(data.train.x, data.test.x));
}

TEST(ToySin, DeterministicPerSeed) {
  LoadOptions options;
  options.seed = 11;
  const Dataset a = load_dataset("toy-sin", options);
  const Dataset b = load_dataset("toy-sin", options);
  EXPECT_TRUE(torch::equal(a.train.x, b.train.x));
  EXPECT_EQ(a.checksum, b.checksum);
  options.seed = 12;
  const Dataset c = load_dataset("toy-sin", options);
  EXPECT_FALSE(torch::equal(a.train.x, c.train.x));
  EXPECT_NE(a.checksum, c.checksum);
  // Pinned first point for seed 11: the same on every machine.
  SeededRng rng(derive_seed(11, 4));
  EXPECT_FLOAT_EQ(a.train.x[0][0].item<float>(),
                  static_cast<float>(kPi * (2.0 * rng.uniform01() - 1.0)));
}

TEST(Builtin, UnknownNamesAndOptionsAreUsageErrors) {
  EXPECT_THROW(load_dataset("cifar-100"), octrain::UsageError);
  EXPECT_THROW(load_dataset("svhn:/tmp"), octrain::UsageError);
  EXPECT_THROW(load_dataset("toy-sin?noise=1"), octrain::UsageError);
  EXPECT_THROW(load_dataset("csv:"), octrain::UsageError);
  try {
    load_dataset("fashion");
    FAIL() << "no error";
  } catch (const octrain::UsageError& e) {
    EXPECT_TRUE(contains(e.what(), "unknown dataset 'fashion'")) << e.what();
    EXPECT_TRUE(contains(e.what(), "fashion-mnist")) << e.what();
  }
}

TEST(Builtin, ListsEveryBuiltinCheaply) {
  const auto infos = builtin_datasets();
  std::vector<std::string> names;
  for (const auto& info : infos) names.push_back(info.name);
  EXPECT_EQ(names,
            (std::vector<std::string>{"fashion-mnist", "mnist", "wine", "digits", "toy-sin"}));
  for (const auto& info : infos) {
    EXPECT_FALSE(info.description.empty());
    EXPECT_FALSE(info.location.empty());
    EXPECT_GT(info.train_size, 0);
    EXPECT_FALSE(info.input_shape.empty());
  }
  // An empty data dir: only what the system provides (or generates) counts as installed.
  const fs::path empty = fresh_dir();
  for (const auto& info : builtin_datasets(empty.string())) {
    if (info.name == "mnist") EXPECT_FALSE(info.installed);
    if (info.name == "toy-sin") EXPECT_TRUE(info.installed);
  }
}

TEST(Builtin, FashionMnist) {
  SKIP_UNLESS_INSTALLED("fashion-mnist");
  const auto start = std::chrono::steady_clock::now();
  const Dataset data = load_dataset("fashion-mnist");
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::cout << "fashion-mnist loaded in " << seconds << " s\n";
  ASSERT_EQ(data.train.x.sizes(), (std::vector<int64_t>{60000, 1, 28, 28}));
  ASSERT_EQ(data.test.x.sizes(), (std::vector<int64_t>{10000, 1, 28, 28}));
  EXPECT_EQ(data.num_classes, 10);
  EXPECT_GE(data.train.x.min().item<float>(), 0.0f);
  EXPECT_LE(data.train.x.max().item<float>(), 1.0f);
  // Fashion-MNIST is balanced: 6000 / 1000 of every class.
  EXPECT_TRUE(torch::equal(torch::bincount(data.train.y), torch::full({10}, 6000, torch::kLong)));
  EXPECT_TRUE(torch::equal(torch::bincount(data.test.y), torch::full({10}, 1000, torch::kLong)));
  EXPECT_LT(seconds, 10.0);  // ~0.5 s expected; generous for a loaded CI machine
}

TEST(Builtin, FashionMnistSubsetsAreStratified) {
  SKIP_UNLESS_INSTALLED("fashion-mnist");
  LoadOptions options;
  options.train_limit = 10000;
  options.test_limit = 2000;
  options.validation_fraction = 0.1;
  const Dataset data = load_dataset("fashion-mnist", options);
  EXPECT_EQ(data.train.size(), 9000);
  EXPECT_EQ(data.validation.size(), 1000);
  EXPECT_EQ(data.test.size(), 2000);
  EXPECT_TRUE(torch::equal(torch::bincount(data.train.y), torch::full({10}, 900, torch::kLong)));
  EXPECT_TRUE(torch::equal(torch::bincount(data.test.y), torch::full({10}, 200, torch::kLong)));
}

TEST(Builtin, Wine) {
  SKIP_UNLESS_INSTALLED("wine");
  const Dataset data = load_dataset("wine");
  EXPECT_EQ(data.train.size(), 142);
  EXPECT_EQ(data.test.size(), 36);
  EXPECT_EQ(data.input_shape, (std::vector<int64_t>{13}));
  EXPECT_EQ(data.num_classes, 3);
  EXPECT_EQ(data.metadata["standardisation"]["applied"], true);
  EXPECT_TRUE(torch::allclose(data.train.x.mean(0), torch::zeros({13}), 0, 1e-4));
  // 59 / 71 / 48 samples per class overall.
  const torch::Tensor all = torch::bincount(torch::cat({data.train.y, data.test.y}));
  EXPECT_TRUE(torch::equal(all, torch::tensor({59, 71, 48}, torch::kLong)));
  const auto& meta = data.metadata;
  EXPECT_TRUE(contains(meta["files"][0]["path"].get<std::string>(), "wine_data.csv"));
  EXPECT_EQ(meta["files"][0]["bytes"], 11157);
  EXPECT_EQ(meta["checksum"], data.checksum);
  EXPECT_EQ(meta["split"]["seed"], 0u);
  EXPECT_EQ(meta["standardisation"]["mean"].size(), 13u);
  EXPECT_EQ(meta["class_names"], (std::vector<std::string>{"class_0", "class_1", "class_2"}));
  EXPECT_EQ(meta["class_counts"]["test"], (std::vector<int64_t>{12, 14, 10}));
}

TEST(Builtin, Digits) {
  SKIP_UNLESS_INSTALLED("digits");
  const Dataset data = load_dataset("digits");
  EXPECT_EQ(data.train.size(), 1438);
  EXPECT_EQ(data.test.size(), 359);
  EXPECT_EQ(data.input_shape, (std::vector<int64_t>{64}));
  EXPECT_EQ(data.num_classes, 10);
  EXPECT_EQ(data.train.x.isfinite().all().item<bool>(),
            true);  // constant pixels do not divide by 0
}

TEST(Builtin, Mnist) {
  SKIP_UNLESS_INSTALLED("mnist");
  LoadOptions options;
  options.seed = 1;
  const Dataset data = load_dataset("mnist", options);
  EXPECT_EQ(data.train.size(), 8000);
  EXPECT_EQ(data.test.size(), 2000);
  EXPECT_EQ(data.input_shape, (std::vector<int64_t>{1, 28, 28}));
  const torch::Tensor all = torch::bincount(torch::cat({data.train.y, data.test.y}));
  EXPECT_TRUE(torch::equal(
      all, torch::tensor({1001, 1127, 991, 1032, 980, 863, 1014, 1070, 944, 978}, torch::kLong)));
  EXPECT_EQ(data.metadata["split"]["seed"], 1u);
  const Dataset again = load_dataset("mnist", options);
  EXPECT_TRUE(torch::equal(data.test.y, again.test.y));
  EXPECT_EQ(data.checksum, again.checksum);
}

}  // namespace
}  // namespace octrain::data
