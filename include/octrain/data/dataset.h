#pragma once

#include <torch/types.h>

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace octrain::data {

enum class Task { kClassification, kRegression };

// One split of a dataset, fully in memory.
//   x: float32 [N, ...input_shape]; images in [0,1] as [N, C, H, W], tabular standardised [N, F].
//   y: int64 [N] class labels for classification, float32 [N, K] targets for regression.
struct Split {
  torch::Tensor x;
  torch::Tensor y;
  int64_t size() const { return x.defined() ? x.size(0) : 0; }
};

struct Dataset {
  std::string name;  // the source string it was loaded from, e.g. "wine" or "csv:/tmp/a.csv"
  Task task = Task::kClassification;
  int64_t num_classes = 0;           // 0 for regression
  std::vector<int64_t> input_shape;  // per sample, e.g. {13} or {1, 28, 28}
  int64_t target_dim = 1;            // regression: K; classification: 1
  Split train;
  Split validation;  // empty unless LoadOptions::validation_fraction > 0
  Split test;
  std::string checksum;     // hex digest of the raw bytes read (files in a fixed order)
  nlohmann::json metadata;  // files read, split seed and fractions, standardisation, ...
};

struct LoadOptions {
  uint64_t seed = 0;                 // seeds every split that the data does not fix itself
  double test_fraction = 0.2;        // for sources without an official test split
  double validation_fraction = 0.0;  // carved from the training split, stratified
  int64_t train_limit = 0;           // > 0: keep a seeded stratified subset of the train split
  int64_t test_limit = 0;            // > 0: likewise for the test split
  std::string data_dir;              // empty: $OCTRAIN_DATA_DIR, else octrain::default_data_dir()
};

// Loads a built-in name (fashion-mnist, mnist, wine, digits, toy-sin) or a generic source
// (idx:DIR, csv:PATH[?key=value&...], cifar10:DIR). Throws octrain::DataError with one line
// naming the file and what was wrong; octrain::UsageError for an unknown name.
Dataset load_dataset(const std::string& source, const LoadOptions& options = {});

struct DatasetInfo {
  std::string name;
  std::string description;
  bool installed = false;
  std::string location;  // where it was found, or where it would be installed from
  int64_t train_size = 0;
  int64_t test_size = 0;
  std::vector<int64_t> input_shape;
  int64_t num_classes = 0;
};

// The built-in datasets and whether each is installed (cheap: looks at files, does not parse).
std::vector<DatasetInfo> builtin_datasets(const std::string& data_dir = {});

}  // namespace octrain::data
