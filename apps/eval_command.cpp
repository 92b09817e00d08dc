#include <fmt/format.h>

#include <cmath>

#include "commands.h"
#include "octrain/deploy/trained_model.h"
#include "octrain/train/evaluation.h"
#include "octrain/util/error.h"

namespace octrain::app {
namespace {

// The confusion matrix (rows: true class, columns: predicted) and per-class accuracy, Markdown.
void print_confusion(const torch::Tensor& confusion) {
  const int64_t k = confusion.size(0);
  const auto accuracy = train::per_class_accuracy(confusion);
  std::string header = "| true \\ predicted |", rule = "|---:|";
  for (int64_t j = 0; j < k; ++j) header += fmt::format(" {} |", j), rule += "---:|";
  fmt::print("\n{} samples | accuracy (%) |\n{}---:|---:|\n", header, rule);
  for (int64_t i = 0; i < k; ++i) {
    std::string row = fmt::format("| {} |", i);
    for (int64_t j = 0; j < k; ++j) row += fmt::format(" {} |", confusion[i][j].item<int64_t>());
    const double a = accuracy[i].item<double>();
    fmt::print("{} {} | {} |\n", row, confusion[i].sum().item<int64_t>(),
               std::isnan(a) ? std::string("–") : fmt::format("{:.2f}", 100 * a));
  }
}

}  // namespace

void check_run_data(const deploy::TrainedModel& model, bool allow_changed) {
  const std::string warning = deploy::check_data_unchanged(model, allow_changed);
  if (!warning.empty()) fmt::print(stderr, "warning: {}\n", warning);
}

void add_eval_command(CLI::App& app) {
  auto* command =
      app.add_subcommand("eval", "Evaluate a checkpoint or a packed model on its run's dataset");
  auto target = std::make_shared<std::string>();
  auto split = std::make_shared<std::string>("test");
  auto allow_changed = std::make_shared<bool>(false);
  command
      ->add_option("CHECKPOINT", *target,
                   "a run directory, its checkpoint.pt, or a packed model (octrain export)")
      ->type_name("RUN|FILE")
      ->required();
  command->add_option("--split", *split, "test | train | validation")
      ->type_name("SPLIT")
      ->check(CLI::IsMember({"test", "train", "validation"}));
  command->add_flag("--allow-changed-data", *allow_changed,
                    "warn instead of refusing (exit 3) when the dataset's checksum differs from "
                    "the one in the run's metadata.json");
  command->callback([target, split, allow_changed] {
    const auto model = deploy::load_trained_model(*target);
    check_run_data(model, *allow_changed);
    const auto loss = deploy::run_loss(model);
    const auto& s = *split == "train"        ? model.data.train
                    : *split == "validation" ? model.data.validation
                                             : model.data.test;
    if (s.size() == 0)
      throw UsageError(fmt::format("the {} split of {} is empty", *split, model.config.dataset));
    const auto e = train::evaluate(*model.network, *loss, s, 1000, model.data.num_classes);
    fmt::print("{} {} split: {} samples  loss {:.6f}", model.config.dataset, *split, e.samples,
               e.loss);
    if (!std::isnan(e.accuracy)) fmt::print("  accuracy {:.2f}%", 100 * e.accuracy);
    fmt::print("\n");
    if (e.confusion.defined()) print_confusion(e.confusion);
  });
}

}  // namespace octrain::app
