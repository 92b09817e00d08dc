#include "octrain/data/dataset_builder.h"

#include <fmt/format.h>

#include <cmath>
#include <cstdlib>

#include "octrain/data/split.h"
#include "octrain/data/standardiser.h"
#include "octrain/util/build_info.h"
#include "octrain/util/error.h"

namespace octrain::data {
namespace {

void check_options(const LoadOptions& options) {
  if (!(options.test_fraction > 0.0 && options.test_fraction < 1.0)) {
    throw UsageError(fmt::format("test fraction must be in (0, 1), got {}", options.test_fraction));
  }
  if (!(options.validation_fraction >= 0.0 && options.validation_fraction < 1.0)) {
    throw UsageError(
        fmt::format("validation fraction must be in [0, 1), got {}", options.validation_fraction));
  }
  if (options.train_limit < 0) {
    throw UsageError(fmt::format("train limit must be >= 0, got {}", options.train_limit));
  }
  if (options.test_limit < 0) {
    throw UsageError(fmt::format("test limit must be >= 0, got {}", options.test_limit));
  }
}

// Splits `all` into (picked, rest) with `count` picked: stratified by class when there are classes.
std::pair<Split, Split> pick(const Split& all, Task task, int64_t count, uint64_t seed) {
  const IndexSplit indices = task == Task::kClassification ? stratified_pick(all.y, count, seed)
                                                           : random_pick(all.size(), count, seed);
  return {take_rows(all, indices.picked), take_rows(all, indices.rest)};
}

nlohmann::json class_counts(const Split& split, int64_t num_classes) {
  if (split.size() == 0) return std::vector<int64_t>(static_cast<size_t>(num_classes), 0);
  const torch::Tensor counts = torch::bincount(split.y, {}, num_classes).contiguous();
  return std::vector<int64_t>(counts.data_ptr<int64_t>(), counts.data_ptr<int64_t>() + num_classes);
}

}  // namespace

std::string resolve_data_dir(const std::string& data_dir) {
  if (!data_dir.empty()) return data_dir;
  if (const char* env = std::getenv("OCTRAIN_DATA_DIR"); env && *env) return env;
  return default_data_dir();
}

Dataset finish_dataset(RawDataset raw, const LoadOptions& options) {
  check_options(options);
  const uint64_t seed = options.seed;
  nlohmann::json split_info = {{"seed", seed},
                               {"seed_streams",
                                "derive_seed(seed, k): k=0 test split, 1 train subset, "
                                "2 test subset, 3 validation split (SplitMix64 of seed)"},
                               {"stratified", raw.task == Task::kClassification}};

  Split train = std::move(raw.train);
  Split test = std::move(raw.test);
  if (train.size() == 0) {
    const std::string file = raw.provenance.files().empty()
                                 ? raw.name
                                 : raw.provenance.files()[0].value("path", raw.name);
    throw DataError(file + ": no samples");
  }
  if (raw.has_official_test) {
    split_info["test"] = "official";
  } else {
    const int64_t n = train.size();
    const int64_t test_count = fraction_count(n, options.test_fraction);
    if (test_count < 1 || test_count >= n) {
      throw UsageError(fmt::format("{}: a test fraction of {} of {} samples leaves no {} samples",
                                   raw.name, options.test_fraction, n,
                                   test_count < 1 ? "test" : "training"));
    }
    std::tie(test, train) = pick(train, raw.task, test_count, derive_seed(seed, 0));
    split_info["test"] = "seeded";
    split_info["test_fraction"] = options.test_fraction;
  }

  if (options.train_limit > 0 && options.train_limit < train.size()) {
    train = pick(train, raw.task, options.train_limit, derive_seed(seed, 1)).first;
  }
  if (options.test_limit > 0 && options.test_limit < test.size()) {
    test = pick(test, raw.task, options.test_limit, derive_seed(seed, 2)).first;
  }
  split_info["train_limit"] = options.train_limit;
  split_info["test_limit"] = options.test_limit;

  Split validation;
  if (options.validation_fraction > 0.0) {
    const int64_t count = fraction_count(train.size(), options.validation_fraction);
    if (count < 1 || count >= train.size()) {
      throw UsageError(fmt::format(
          "{}: a validation fraction of {} of {} training samples leaves no {} samples", raw.name,
          options.validation_fraction, train.size(), count < 1 ? "validation" : "training"));
    }
    std::tie(validation, train) = pick(train, raw.task, count, derive_seed(seed, 3));
  }
  split_info["validation_fraction"] = options.validation_fraction;

  nlohmann::json metadata = std::move(raw.metadata);
  if (raw.standardise) {
    const Standardiser standardiser = Standardiser::fit(train.x);
    train.x = standardiser.apply(train.x);
    validation.x = standardiser.apply(validation.x);
    test.x = standardiser.apply(test.x);
    metadata["standardisation"] = standardiser.to_json();
  } else {
    metadata["standardisation"] = {{"applied", false}};
  }

  metadata["source"] = raw.name;
  metadata["task"] = raw.task == Task::kClassification ? "classification" : "regression";
  metadata["files"] = raw.provenance.files();
  metadata["checksum"] = raw.provenance.checksum_hex();
  metadata["checksum_algorithm"] = "crc32 over the decoded bytes of the files, in listed order";
  metadata["split"] = split_info;
  metadata["sizes"] = {
      {"train", train.size()}, {"validation", validation.size()}, {"test", test.size()}};
  metadata["input_shape"] = raw.input_shape;
  if (raw.task == Task::kClassification) {
    metadata["num_classes"] = raw.num_classes;
    metadata["class_counts"] = {{"train", class_counts(train, raw.num_classes)},
                                {"validation", class_counts(validation, raw.num_classes)},
                                {"test", class_counts(test, raw.num_classes)}};
  } else {
    metadata["target_dim"] = raw.target_dim;
  }

  Dataset dataset;
  dataset.name = raw.name;
  dataset.task = raw.task;
  dataset.num_classes = raw.task == Task::kClassification ? raw.num_classes : 0;
  dataset.input_shape = raw.input_shape;
  dataset.target_dim = raw.task == Task::kClassification ? 1 : raw.target_dim;
  dataset.train = std::move(train);
  dataset.validation = std::move(validation);
  dataset.test = std::move(test);
  dataset.checksum = raw.provenance.checksum_hex();
  dataset.metadata = std::move(metadata);
  return dataset;
}

}  // namespace octrain::data
