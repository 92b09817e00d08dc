#include "octrain/train/run_exports.h"

#include <fmt/format.h>

#include "octrain/train/algoperf_measurements.h"
#include "octrain/train/deepobs_run_file.h"
#include "octrain/util/atomic_file.h"
#include "octrain/util/error.h"
#include "octrain/util/file_name.h"

namespace octrain::train {

std::vector<nlohmann::json> evaluation_records(const std::vector<nlohmann::json>& records) {
  std::vector<nlohmann::json> out;
  for (const auto& r : records) {
    const std::string kind = r.value("kind", "");
    if (kind == "evaluation" || kind == "epoch") out.push_back(r);
  }
  return out;
}

void write_run_exports(const RunConfig& config, const std::vector<nlohmann::json>& records,
                       const EvaluatedSplits& splits, const std::string& dir) {
  const auto formats = ExportFormats::parse(config.export_format);
  if (formats.deepobs)
    write_text_atomically(dir + "/deepobs_run.json",
                          deepobs_run_file(config, records).dump(2) + "\n");
  if (formats.algoperf)
    write_text_atomically(dir + "/eval_measurements.csv",
                          algoperf_eval_measurements(records, splits));
}

std::string deepobs_results_path(const RunConfig& config, const std::string& setting) {
  return fmt::format("{}/{}/{}/random_seed__{}.json",
                     safe_file_name(config.problem.empty() ? config.dataset : config.problem),
                     config.method, safe_file_name(setting), config.seed);
}

}  // namespace octrain::train
