#include "octrain/train/algoperf_measurements.h"

#include <fmt/format.h>

#include <algorithm>
#include <map>

namespace octrain::train {
namespace {

double number(const nlohmann::json& record, const char* key) {
  auto it = record.find(key);
  return it != record.end() && it->is_number() ? it->get<double>() : 0.0;
}

std::string cell(const nlohmann::json& record, const char* key) {
  auto it = record.find(key);
  return it != record.end() && it->is_number() ? fmt::format("{:.9g}", it->get<double>()) : "";
}

}  // namespace

std::string algoperf_eval_measurements(const std::vector<nlohmann::json>& records,
                                       const EvaluatedSplits& splits) {
  const auto evaluations = evaluation_records(records);
  const bool classification =
      std::any_of(evaluations.begin(), evaluations.end(), [](const nlohmann::json& e) {
        return e.contains("test_accuracy") && e["test_accuracy"].is_number();
      });
  const bool validated = splits.validation > 0;
  std::vector<std::string> header = {
      "accumulated_eval_time", "accumulated_logging_time", "accumulated_submission_time",
      "global_step",           "preemption_count",         "score"};
  if (classification) header.push_back("test/accuracy");
  for (const char* c : {"test/loss", "test/num_examples", "total_duration"}) header.push_back(c);
  if (classification) header.push_back("train/accuracy");
  header.push_back("train/loss");
  if (validated) {
    if (classification) header.push_back("validation/accuracy");
    header.push_back("validation/loss");
    header.push_back("validation/num_examples");
  }
  std::string csv = fmt::format("{}\n", fmt::join(header, ","));
  double submission = 0, eval = 0;
  int64_t resumes = 0;
  for (const auto& r : records) {
    const std::string kind = r.value("kind", "");
    if (kind == "resume") ++resumes;
    if (kind != "evaluation" && kind != "epoch") continue;
    submission += number(r, "epoch_time_s");
    eval += number(r, "eval_time_s");
    const double total = number(r, "elapsed_s");
    std::map<std::string, std::string> row = {
        {"accumulated_eval_time", fmt::format("{:.9g}", eval)},
        {"accumulated_logging_time",
         fmt::format("{:.9g}", std::max(0.0, total - submission - eval))},
        {"accumulated_submission_time", fmt::format("{:.9g}", submission)},
        {"global_step", std::to_string(r.value("step", int64_t(0)))},
        {"preemption_count", std::to_string(resumes)},
        {"score", fmt::format("{:.9g}", submission)},
        {"test/accuracy", cell(r, "test_accuracy")},
        {"test/loss", cell(r, "test_loss")},
        {"test/num_examples", std::to_string(splits.test)},
        {"total_duration", fmt::format("{:.9g}", total)},
        {"train/accuracy", cell(r, "train_eval_accuracy")},
        {"train/loss", cell(r, "train_eval_loss")},
        {"validation/accuracy", cell(r, "validation_accuracy")},
        {"validation/loss", cell(r, "validation_loss")},
        {"validation/num_examples", std::to_string(splits.validation)}};
    std::vector<std::string> cells;
    for (const auto& column : header) cells.push_back(row.at(column));
    csv += fmt::format("{}\n", fmt::join(cells, ","));
  }
  return csv;
}

}  // namespace octrain::train
