#pragma once

#include <string>

namespace octrain::train {

// Which community run files a run writes (RunConfig::export_format, `--export-format`).
struct ExportFormats {
  bool deepobs = false;   // deepobs_run.json (deepobs_run_file.h)
  bool algoperf = false;  // eval_measurements.csv (algoperf_measurements.h)

  // "deepobs,algoperf", either alone, or empty; anything else is a UsageError.
  static ExportFormats parse(const std::string& text);
  bool any() const { return deepobs || algoperf; }
  std::string to_string() const;
};

}  // namespace octrain::train
