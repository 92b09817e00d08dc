#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "octrain/train/export_formats.h"
#include "octrain/train/run_config.h"

namespace octrain::train {

// The sizes of the evaluated splits, which the files record beside the figures.
struct EvaluatedSplits {
  int64_t validation = 0;
  int64_t test = 0;
};

// The evaluation points of a run: its epoch-0 "evaluation" record and its "epoch" records, in
// order (what both formats list, one entry per evaluation).
std::vector<nlohmann::json> evaluation_records(const std::vector<nlohmann::json>& records);

// Writes the formats `config.export_format` names into `dir` from the run's metrics records
// (atomically; a later call replaces them, so an interrupted run's files cover what it did).
void write_run_exports(const RunConfig& config, const std::vector<nlohmann::json>& records,
                       const EvaluatedSplits& splits, const std::string& dir);

// Where DeepOBS's analyser looks for a run's file below a results folder:
// <testproblem>/<optimizer_name>/<setting>/random_seed__<seed>.json (a compare grid files each
// entry's runs under its label as the setting).
std::string deepobs_results_path(const RunConfig& config, const std::string& setting);

}  // namespace octrain::train
