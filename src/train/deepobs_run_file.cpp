#include "octrain/train/deepobs_run_file.h"

#include <cerrno>
#include <cstdlib>

#include "octrain/train/run_exports.h"

namespace octrain::train {
namespace {

// A method option as DeepOBS's hyper-parameters hold it: numbers and booleans typed, the rest
// as text.
nlohmann::json typed_value(const std::string& text) {
  if (text == "true" || text == "false") return text == "true";
  char* end = nullptr;
  errno = 0;
  const long long integer = std::strtoll(text.c_str(), &end, 10);
  if (!text.empty() && *end == '\0' && errno == 0) return int64_t(integer);
  const double real = std::strtod(text.c_str(), &end);
  if (!text.empty() && *end == '\0' && errno == 0) return real;
  return text;
}

// One entry per evaluation: the record's value, null where it has none (a non-finite figure).
nlohmann::json series(const std::vector<nlohmann::json>& evaluations, const char* key) {
  nlohmann::json values = nlohmann::json::array();
  for (const auto& e : evaluations) {
    auto it = e.find(key);
    values.push_back(it != e.end() && it->is_number() ? *it : nlohmann::json());
  }
  return values;
}

bool has_number(const std::vector<nlohmann::json>& evaluations, const char* key) {
  for (const auto& e : evaluations)
    if (e.contains(key) && e[key].is_number()) return true;
  return false;
}

}  // namespace

nlohmann::json deepobs_run_file(const RunConfig& config,
                                const std::vector<nlohmann::json>& records) {
  nlohmann::json hyperparams = nlohmann::json::object();
  for (const auto& [key, value] : config.method_options) hyperparams[key] = typed_value(value);
  nlohmann::json minibatch_losses = nlohmann::json::array();
  for (const auto& r : records)
    if (r.value("kind", "") == "step")
      minibatch_losses.push_back(r.contains("loss") && r["loss"].is_number() ? r["loss"]
                                                                             : nlohmann::json());
  const auto evaluations = evaluation_records(records);
  nlohmann::json file = {
      {"testproblem", config.problem.empty() ? config.dataset : config.problem},
      {"batch_size", config.batch_size},
      {"num_epochs", config.epochs},
      {"random_seed", config.seed},
      {"weight_decay", config.weight_decay},
      {"optimizer_name", config.method},
      {"optimizer_hyperparams", hyperparams},
      {"training_params",
       {{"lr_schedule", config.lr_schedule},
        {"train_log_interval", config.log_every},
        {"dataset", config.dataset},
        {"model", config.model}}},
      {"train_losses", series(evaluations, "train_eval_loss")},
      {"test_losses", series(evaluations, "test_loss")},
      {"minibatch_train_losses", minibatch_losses},
  };
  const bool validated = has_number(evaluations, "validation_loss");
  const bool classification = has_number(evaluations, "test_accuracy");
  if (validated) file["valid_losses"] = series(evaluations, "validation_loss");
  if (classification) {
    file["train_accuracies"] = series(evaluations, "train_eval_accuracy");
    file["test_accuracies"] = series(evaluations, "test_accuracy");
    if (validated) file["valid_accuracies"] = series(evaluations, "validation_accuracy");
  }
  return file;
}

}  // namespace octrain::train
