#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace octrain::train {

// The one reader of metrics.jsonl (resume, `plot`, `report`). Every line must be a JSON object
// nested at most kMaxMetricsDepth deep, with a string "kind", an integer "step"/"epoch" where
// present and, for diagnostics records, numeric "costate_norm"/"update_norm" arrays; anything
// else is a DataError naming the file and line.
constexpr int kMaxMetricsDepth = 16;

struct MetricsReadOptions {
  // A last line without its newline is a record torn by an interrupted write: dropped, not an
  // error (the checkpoint predates it).
  bool drop_torn_tail = true;
  // Skip damaged lines (with a notice on stderr) instead of refusing the file.
  bool skip_damaged = false;
};

// One line; `where` is "FILE:LINE" for the message.
nlohmann::json parse_metrics_line(const std::string& line, const std::string& where);

// All records of `path`; a missing file is a DataError.
std::vector<nlohmann::json> read_metrics(const std::string& path,
                                         const MetricsReadOptions& options = {});
// The same for a file's text already in memory; `where` names it in errors.
std::vector<nlohmann::json> parse_metrics(const std::string& text, const std::string& where,
                                          const MetricsReadOptions& options = {});

}  // namespace octrain::train
