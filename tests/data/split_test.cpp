#include "octrain/data/split.h"

#include "data/fixtures.h"
#include "octrain/data/dataset_builder.h"

namespace octrain::data {
namespace {

// 3 unbalanced classes: 50, 30 and 17 samples; x = the sample's index.
RawDataset unbalanced(Task task = Task::kClassification) {
  std::vector<int64_t> labels;
  for (int c = 0; c < 3; ++c) {
    for (int i = 0; i < std::vector<int>{50, 30, 17}[c]; ++i) labels.push_back(c);
  }
  RawDataset raw;
  raw.name = "unbalanced";
  raw.task = task;
  raw.num_classes = 3;
  raw.input_shape = {1};
  const int64_t n = static_cast<int64_t>(labels.size());
  raw.train.x = torch::arange(n, torch::kFloat).reshape({n, 1});
  raw.train.y = task == Task::kClassification ? torch::tensor(labels, torch::kLong)
                                              : torch::arange(n, torch::kFloat).reshape({n, 1});
  return raw;
}

torch::Tensor counts(const Split& split) {
  return torch::bincount(split.y, {}, 3);
}

// Every class's share of `part` is within one sample of its share of `whole`.
void expect_stratified(const Split& part, const torch::Tensor& whole_counts) {
  const torch::Tensor exact =
      whole_counts.to(torch::kDouble) * part.size() / whole_counts.sum().item<double>();
  const torch::Tensor got = counts(part).to(torch::kDouble);
  EXPECT_LT((got - exact).abs().max().item<double>(), 1.0) << got << exact;
}

TEST(Split, StratifiedPickKeepsClassProportionsAndTheExactCount) {
  const RawDataset raw = unbalanced();
  for (int64_t count : {1, 7, 19, 20, 50, 96}) {
    const IndexSplit split = stratified_pick(raw.train.y, count, 42);
    EXPECT_EQ(static_cast<int64_t>(split.picked.size()), count);
    EXPECT_EQ(split.picked.size() + split.rest.size(), 97u);
    expect_stratified(take_rows(raw.train, split.picked), counts(raw.train));
    expect_stratified(take_rows(raw.train, split.rest), counts(raw.train));
  }
}

TEST(Split, FinishedDatasetIsStratifiedAndRecordsTheSplit) {
  LoadOptions options;
  options.seed = 9;
  const Dataset data = finish_dataset(unbalanced(), options);
  EXPECT_EQ(data.test.size(), 19);  // round(97 * 0.2)
  EXPECT_EQ(data.train.size(), 78);
  expect_stratified(data.test, torch::tensor({50, 30, 17}));
  // Train and test are disjoint and cover everything.
  const torch::Tensor all = std::get<0>(torch::cat({data.train.x, data.test.x}).flatten().sort());
  EXPECT_TRUE(torch::equal(all, torch::arange(97, torch::kFloat)));
  EXPECT_EQ(data.metadata["split"]["seed"], 9u);
  EXPECT_EQ(data.metadata["split"]["test_fraction"], 0.2);
  EXPECT_EQ(data.metadata["sizes"]["test"], 19);
}

TEST(Split, SameSeedSameSplitDifferentSeedDifferentSplit) {
  LoadOptions options;
  options.seed = 5;
  const Dataset a = finish_dataset(unbalanced(), options);
  const Dataset b = finish_dataset(unbalanced(), options);
  EXPECT_TRUE(torch::equal(a.test.x, b.test.x));
  EXPECT_TRUE(torch::equal(a.train.y, b.train.y));
  options.seed = 6;
  const Dataset c = finish_dataset(unbalanced(), options);
  EXPECT_FALSE(torch::equal(a.test.x, c.test.x));
}

TEST(Split, SeededRngIsPlatformIndependent) {
  // mt19937_64's 10000th output for the default seed is fixed by the C++ standard; the derived
  // draws below pin our own arithmetic on top of it.
  std::mt19937_64 engine;
  engine.discard(9999);
  EXPECT_EQ(engine(), 9981545732273789042ULL);
  SeededRng rng(1);
  const uint64_t first = rng.below(10);
  SeededRng again(1);
  EXPECT_EQ(again.below(10), first);
  EXPECT_EQ(derive_seed(0, 0), derive_seed(0, 0));
  EXPECT_NE(derive_seed(0, 0), derive_seed(0, 1));
  EXPECT_NE(derive_seed(0, 0), derive_seed(1, 0));
}

TEST(Split, ValidationIsCarvedFromTrainStratified) {
  LoadOptions options;
  options.validation_fraction = 0.25;
  const Dataset data = finish_dataset(unbalanced(), options);
  EXPECT_EQ(data.test.size(), 19);
  EXPECT_EQ(data.validation.size(), 20);  // round(78 * 0.25) = 19.5 rounded up
  EXPECT_EQ(data.train.size(), 58);
  expect_stratified(data.validation, torch::tensor({50, 30, 17}));
  const torch::Tensor all =
      std::get<0>(torch::cat({data.train.x, data.validation.x, data.test.x}).flatten().sort());
  EXPECT_TRUE(torch::equal(all, torch::arange(97, torch::kFloat)));
  EXPECT_EQ(data.metadata["sizes"]["validation"], 20);
}

TEST(Split, LimitsTakeStratifiedSubsets) {
  LoadOptions options;
  options.train_limit = 40;
  options.test_limit = 10;
  const Dataset data = finish_dataset(unbalanced(), options);
  EXPECT_EQ(data.train.size(), 40);
  EXPECT_EQ(data.test.size(), 10);
  expect_stratified(data.train, torch::tensor({50, 30, 17}));
  expect_stratified(data.test, torch::tensor({50, 30, 17}));
  options.train_limit = 1000;  // more than there is: everything
  EXPECT_EQ(finish_dataset(unbalanced(), options).train.size(), 78);
}

TEST(Split, RegressionSplitsWithoutClasses) {
  const Dataset data = finish_dataset(unbalanced(Task::kRegression), LoadOptions{});
  EXPECT_EQ(data.test.size(), 19);
  EXPECT_EQ(data.metadata["split"]["stratified"], false);
  EXPECT_TRUE(torch::equal(data.train.x, data.train.y));  // rows stay paired
}

TEST(Split, BadOptionsAreUsageErrors) {
  LoadOptions options;
  options.test_fraction = 1.0;
  EXPECT_THROW(finish_dataset(unbalanced(), options), octrain::UsageError);
  options = {};
  options.validation_fraction = -0.1;
  EXPECT_THROW(finish_dataset(unbalanced(), options), octrain::UsageError);
  options = {};
  options.train_limit = -1;
  EXPECT_THROW(finish_dataset(unbalanced(), options), octrain::UsageError);
  options = {};
  options.test_fraction = 0.001;  // no test sample left
  EXPECT_THROW(finish_dataset(unbalanced(), options), octrain::UsageError);
}

}  // namespace
}  // namespace octrain::data
