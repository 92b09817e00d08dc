#include "octrain/train/metrics_log.h"

#include <fmt/format.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <set>

#include "octrain/train/metrics_reader.h"
#include "octrain/util/atomic_file.h"
#include "octrain/util/error.h"

namespace octrain::train {
namespace {

std::string jsonl_path(const std::string& dir) {
  return dir + "/metrics.jsonl";
}

std::string csv_table(const std::vector<nlohmann::json>& rows) {
  std::vector<std::string> columns;
  std::set<std::string> seen;
  for (const auto& row : rows)
    for (const auto& [key, value] : row.items())
      if (key != "kind" && seen.insert(key).second) columns.push_back(key);
  std::string out = fmt::format("{}\n", fmt::join(columns, ","));
  for (const auto& row : rows) {
    std::vector<std::string> cells;
    for (const auto& c : columns) {
      if (!row.contains(c) || row[c].is_null())
        cells.emplace_back("");
      else if (row[c].is_number_float())
        cells.push_back(fmt::format("{:.9g}", row[c].get<double>()));
      else if (row[c].is_string())
        cells.push_back(row[c].get<std::string>());
      else
        cells.push_back(row[c].dump());
    }
    out += fmt::format("{}\n", fmt::join(cells, ","));
  }
  return out;
}

}  // namespace

MetricsLog::MetricsLog(const std::string& dir, bool resume, int64_t keep_until_step,
                       bool skip_damaged)
    : dir_(dir) {
  if (resume && std::filesystem::exists(jsonl_path(dir))) {
    MetricsReadOptions options;
    options.skip_damaged = skip_damaged;
    for (auto& record : read_metrics(jsonl_path(dir), options))
      if (record.value("step", int64_t(0)) <= keep_until_step)
        records_.push_back(std::move(record));
  }
  std::string text;
  for (const auto& r : records_) text += r.dump() + "\n";
  write_text_atomically(jsonl_path(dir), text);
  out_.open(jsonl_path(dir), std::ios::app);
  if (!out_) throw Error(ExitCode::kFailure, jsonl_path(dir) + ": cannot open for writing");
}

void MetricsLog::append(const nlohmann::json& record) {
  records_.push_back(record);
  out_ << record.dump() << '\n';
  if (!out_) throw Error(ExitCode::kFailure, jsonl_path(dir_) + ": write failed");
}

void MetricsLog::discard_steps_after(int64_t step) {
  out_.close();
  std::vector<nlohmann::json> kept;
  for (auto& r : records_)
    if ((r.value("kind", "") != "step" && r.value("kind", "") != "diagnostics") ||
        r.value("step", int64_t(0)) <= step)
      kept.push_back(std::move(r));
  records_ = std::move(kept);
  std::string text;
  for (const auto& r : records_) text += r.dump() + "\n";
  write_text_atomically(jsonl_path(dir_), text);
  out_.open(jsonl_path(dir_), std::ios::app);
  if (!out_) throw Error(ExitCode::kFailure, jsonl_path(dir_) + ": cannot open for writing");
}

void MetricsLog::flush() {
  out_.flush();
  if (!out_) throw Error(ExitCode::kFailure, jsonl_path(dir_) + ": write failed");
}

std::vector<nlohmann::json> MetricsLog::epochs() const {
  std::vector<nlohmann::json> out;
  for (const auto& r : records_)
    if (r.value("kind", "") == "epoch") out.push_back(r);
  return out;
}

void MetricsLog::flush_tables() {
  flush();
  std::vector<nlohmann::json> steps;
  for (const auto& r : records_)
    if (r.value("kind", "") == "step") steps.push_back(r);
  write_text_atomically(dir_ + "/steps.csv", csv_table(steps));
  write_text_atomically(dir_ + "/epochs.csv", csv_table(epochs()));
}

}  // namespace octrain::train
