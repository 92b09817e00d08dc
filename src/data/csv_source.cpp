#include "octrain/data/csv_source.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>

#include "octrain/util/error.h"

namespace octrain::data {
namespace {

// Larger labels are almost surely a real-valued target read as a class (and would make a huge
// one-hot layer), so they are refused with a hint.
constexpr int64_t kMaxClasses = 100000;

int64_t parse_column(const std::string& source, const std::string& text, int64_t cols) {
  if (text == "first") return 0;
  if (text == "last") return cols - 1;
  size_t used = 0;
  int64_t index = -1;
  try {
    index = std::stoll(text, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  if (used != text.size() || index < 0) {
    throw UsageError(
        fmt::format("{}: bad column '{}', expected first, last or a 0-based index", source, text));
  }
  if (index >= cols) {
    throw UsageError(fmt::format("{}: column {} does not exist, the file has {} columns (0..{})",
                                 source, index, cols, cols - 1));
  }
  return index;
}

std::string column_name(const CsvTable& table, int64_t c) {
  if (static_cast<size_t>(c) < table.header.size()) {
    return fmt::format("column {} ({})", c + 1, table.header[static_cast<size_t>(c)]);
  }
  return fmt::format("column {}", c + 1);
}

}  // namespace

void fill_tabular(RawDataset& raw, const std::string& path, const CsvTable& table, Task task,
                  const std::vector<int64_t>& target_columns) {
  const int64_t n = table.rows;
  const int64_t cols = table.cols;
  std::vector<bool> is_target(static_cast<size_t>(cols), false);
  for (int64_t c : target_columns) is_target[static_cast<size_t>(c)] = true;
  const int64_t num_targets = static_cast<int64_t>(target_columns.size());
  const int64_t num_features = cols - num_targets;
  if (num_features < 1) throw DataError(path + ": no feature columns left besides the targets");

  std::vector<float> features;
  features.reserve(static_cast<size_t>(n * num_features));
  for (int64_t r = 0; r < n; ++r) {
    for (int64_t c = 0; c < cols; ++c) {
      if (!is_target[static_cast<size_t>(c)]) {
        features.push_back(static_cast<float>(table.values[static_cast<size_t>(r * cols + c)]));
      }
    }
  }
  raw.train.x = torch::tensor(features, torch::kFloat).reshape({n, num_features});
  raw.input_shape = {num_features};
  raw.task = task;
  raw.standardise = true;

  nlohmann::json columns = {{"features", num_features}, {"targets", target_columns}};
  if (target_columns.empty()) {
    raw.metadata["targets"] = "none (label=none)";
  } else if (task == Task::kClassification) {
    const int64_t label_column = target_columns.at(0);
    std::vector<int64_t> labels(static_cast<size_t>(n));
    for (int64_t r = 0; r < n; ++r) {
      const double value = table.values[static_cast<size_t>(r * cols + label_column)];
      if (value < 0 || value != std::floor(value) || value >= kMaxClasses) {
        throw DataError(fmt::format(
            "{}: line {}, {}: class label {} is not an integer in 0..{} (for real-valued "
            "targets use ?task=regression)",
            path, table.line_numbers[static_cast<size_t>(r)], column_name(table, label_column),
            value, kMaxClasses - 1));
      }
      labels[static_cast<size_t>(r)] = static_cast<int64_t>(value);
    }
    raw.train.y = torch::tensor(labels, torch::kLong);
    raw.num_classes = *std::max_element(labels.begin(), labels.end()) + 1;
    raw.target_dim = 1;
    std::vector<bool> seen(static_cast<size_t>(raw.num_classes), false);
    for (int64_t label : labels) seen[static_cast<size_t>(label)] = true;
    std::vector<int64_t> absent;
    for (int64_t c = 0; c < raw.num_classes; ++c) {
      if (!seen[static_cast<size_t>(c)]) absent.push_back(c);
    }
    raw.metadata["absent_classes"] = absent;
  } else {
    std::vector<float> targets;
    targets.reserve(static_cast<size_t>(n * num_targets));
    for (int64_t r = 0; r < n; ++r) {
      for (int64_t c : target_columns) {
        targets.push_back(static_cast<float>(table.values[static_cast<size_t>(r * cols + c)]));
      }
    }
    raw.train.y = torch::tensor(targets, torch::kFloat).reshape({n, num_targets});
    raw.target_dim = num_targets;
    raw.num_classes = 0;
    raw.metadata["targets"] = "raw values, not standardised";
  }
  raw.metadata["columns"] = columns;
  if (!table.header.empty()) raw.metadata["column_names"] = table.header;
}

namespace {

// The source's options applied to the table `read` returns (given the header mode).
template <typename Read>
RawDataset csv_source(const std::string& source, const SourceSpec& spec, Read&& read) {
  check_option_keys(source, spec, {"label", "target", "task", "header"});
  const auto option = [&](const std::string& key, const std::string& fallback) {
    const auto it = spec.options.find(key);
    return it == spec.options.end() ? fallback : it->second;
  };

  const std::string header_text = option("header", "auto");
  CsvHeader header = CsvHeader::kAuto;
  if (header_text == "yes") {
    header = CsvHeader::kPresent;
  } else if (header_text == "no") {
    header = CsvHeader::kAbsent;
  } else if (header_text != "auto") {
    throw UsageError(
        fmt::format("{}: bad header '{}', expected auto, yes or no", source, header_text));
  }

  const bool has_target = spec.options.count("target") > 0;
  const std::string task_text = option("task", has_target ? "regression" : "classification");
  if (task_text != "classification" && task_text != "regression") {
    throw UsageError(
        fmt::format("{}: bad task '{}', expected classification or regression", source, task_text));
  }
  const Task task = task_text == "regression" ? Task::kRegression : Task::kClassification;
  if (task == Task::kRegression && spec.options.count("label")) {
    throw UsageError(source + ": label= is for classification; use target= for regression");
  }
  if (task == Task::kClassification && has_target) {
    throw UsageError(source + ": target= is for regression; use label= for classification");
  }

  // csv:- reads standard input (a pipe or a redirected file).
  const std::string path = spec.location == "-" ? std::string("/dev/stdin") : spec.location;
  if (path.empty()) throw UsageError(source + ": missing the file path after 'csv:'");
  RawDataset raw;
  raw.name = source;
  const CsvTable table = read(path, header, raw.provenance);

  std::vector<int64_t> target_columns;
  if (task == Task::kClassification) {
    if (option("label", "last") != "none")
      target_columns.push_back(parse_column(source, option("label", "last"), table.cols));
  } else {
    std::string list = option("target", "last");
    size_t start = 0;
    while (start <= list.size()) {
      size_t comma = list.find(',', start);
      if (comma == std::string::npos) comma = list.size();
      const int64_t column = parse_column(source, list.substr(start, comma - start), table.cols);
      if (std::find(target_columns.begin(), target_columns.end(), column) != target_columns.end()) {
        throw UsageError(fmt::format("{}: target column {} listed twice", source, column));
      }
      target_columns.push_back(column);
      start = comma + 1;
    }
  }
  fill_tabular(raw, path, table, task, target_columns);
  raw.metadata["format"] = "csv";
  raw.metadata["header_option"] = header_text;
  return raw;
}

}  // namespace

RawDataset load_csv_source(const std::string& source, const SourceSpec& spec) {
  return csv_source(source, spec,
                    [](const std::string& path, CsvHeader header, Provenance& provenance) {
                      return read_csv(path, header, provenance);
                    });
}

RawDataset csv_source_from_text(const std::string& source, const SourceSpec& spec,
                                std::string_view text) {
  return csv_source(source, spec, [&](const std::string& path, CsvHeader header, Provenance&) {
    return parse_csv(text, path, header);
  });
}

}  // namespace octrain::data
