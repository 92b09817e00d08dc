#pragma once

#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace octrain::train {

// Published figures that an experiment is set beside, read from configs/references/NAME.toml:
//
//   title = "…"            source = "[DDPN] … Table 2"       certainty = "approximate, recalled"
//   [[row]]
//   id = "fc-wine"         description = "…"                 setting = "5-layer FC, 10 seeds"
//   claims = ["…"]         # statements to check that are not numbers
//   [row.test_accuracy]    # metric → value per method name (or compare label)
//   sgd = 94.4
//
// Accuracies and non-zero fractions are in percent, as the papers print them.
struct ReferenceRow {
  std::string id, description, setting;
  std::vector<std::string> claims;
  std::map<std::string, std::map<std::string, double>> values;  // metric → method → value
};

struct ReferenceTable {
  std::string name;  // the file stem: "ddpnopt"
  std::string title, source, certainty, note;
  std::vector<ReferenceRow> rows;
};

// One row of one table: what a compare config names with `reference = "TABLE:ROW"`.
struct Reference {
  std::string name;  // "TABLE:ROW"
  std::string title, source, certainty, note;
  ReferenceRow row;

  nlohmann::json to_json() const;
  static Reference from_json(const nlohmann::json& j);
};

// The metrics a reference may give, in the order reports show them.
const std::vector<std::string>& reference_metrics();
// True for metrics given in percent (octrain logs them as fractions).
bool is_percent_metric(const std::string& metric);

// Reads and validates one table; errors are UsageErrors naming the file and the entry.
ReferenceTable read_reference_table(const std::string& path);
// Resolves "TABLE:ROW" against DIR/TABLE.toml; an unknown table or row is a UsageError that
// lists what exists.
Reference find_reference(const std::string& dir, const std::string& name);

}  // namespace octrain::train
