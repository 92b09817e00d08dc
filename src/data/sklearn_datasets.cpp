#include "octrain/data/sklearn_datasets.h"

#include <fmt/format.h>

#include <algorithm>
#include <filesystem>

#include "octrain/data/csv_reader.h"
#include "octrain/data/csv_source.h"
#include "octrain/util/error.h"

namespace octrain::data {
namespace {

namespace fs = std::filesystem;

const char* const kSklearnData = "sklearn/datasets/data";

}  // namespace

std::vector<std::string> sklearn_data_dirs(const std::string& data_dir) {
  std::vector<std::string> dirs = {(fs::path(data_dir) / "sklearn").string(),
                                   "/usr/lib/python3/dist-packages/" + std::string(kSklearnData)};
  std::error_code ec;
  for (const char* lib : {"/usr/lib", "/usr/local/lib"}) {
    std::vector<fs::path> pythons;
    for (const auto& entry : fs::directory_iterator(lib, ec)) {
      if (entry.path().filename().string().rfind("python3", 0) == 0)
        pythons.push_back(entry.path());
    }
    std::sort(pythons.begin(), pythons.end());  // listing order is not deterministic
    for (const auto& python : pythons) {
      for (const char* packages : {"dist-packages", "site-packages"}) {
        const std::string dir = (python / packages / kSklearnData).string();
        if (std::find(dirs.begin(), dirs.end(), dir) == dirs.end()) dirs.push_back(dir);
      }
    }
  }
  return dirs;
}

std::optional<std::string> find_sklearn_file(const std::string& data_dir, const std::string& name) {
  std::error_code ec;
  for (const auto& dir : sklearn_data_dirs(data_dir)) {
    const fs::path path = fs::path(dir) / name;
    if (fs::is_regular_file(path, ec)) return path.string();
  }
  return std::nullopt;
}

RawDataset load_wine(const std::string& path) {
  RawDataset raw;
  const CsvTable table = read_csv(path, CsvHeader::kAuto, raw.provenance);
  if (table.declared_features != 13 || table.cols != 14 || table.target_names.size() != 3) {
    throw DataError(fmt::format(
        "{}: not scikit-learn's wine_data.csv: expected the header 'n_samples,13,<3 class "
        "names>' and 14 columns, found {} columns",
        path, table.cols));
  }
  fill_tabular(raw, path, table, Task::kClassification, {13});
  if (raw.num_classes > 3) {
    throw DataError(fmt::format("{}: class label {} is out of range (expected 0..2)", path,
                                raw.num_classes - 1));
  }
  raw.num_classes = 3;
  raw.metadata["format"] = "scikit-learn wine_data.csv";
  raw.metadata["class_names"] = table.target_names;
  raw.metadata["inputs"] = "13 chemical features, standardised with training statistics";
  return raw;
}

RawDataset load_digits(const std::string& path) {
  RawDataset raw;
  const CsvTable table = read_csv(path, CsvHeader::kAbsent, raw.provenance);
  if (table.cols != 65) {
    throw DataError(
        fmt::format("{}: expected 65 columns (64 pixels of an 8x8 image, then the digit), found {}",
                    path, table.cols));
  }
  for (int64_t r = 0; r < table.rows; ++r) {
    for (int64_t c = 0; c < 65; ++c) {
      const double value = table.values[static_cast<size_t>(r * 65 + c)];
      const double max = c < 64 ? 16 : 9;
      if (value < 0 || value > max || value != static_cast<double>(static_cast<int64_t>(value))) {
        throw DataError(fmt::format("{}: line {}, column {}: {} is not an integer {} 0..{}", path,
                                    table.line_numbers[static_cast<size_t>(r)], c + 1, value,
                                    c < 64 ? "pixel in" : "digit in", max));
      }
    }
  }
  fill_tabular(raw, path, table, Task::kClassification, {64});
  raw.num_classes = 10;
  raw.metadata["format"] = "scikit-learn digits.csv.gz";
  raw.metadata["inputs"] =
      "64 pixel values (8x8 image, 0..16) as tabular features, standardised with training "
      "statistics";
  return raw;
}

}  // namespace octrain::data
