#include <fmt/format.h>

#include <cmath>

#include "commands.h"
#include "octrain/train/evaluation.h"
#include "octrain/util/error.h"
#include "trained_model.h"

namespace octrain::app {

void add_eval_command(CLI::App& app) {
  auto* command =
      app.add_subcommand("eval", "Evaluate a checkpoint or a packed model on its run's dataset");
  auto target = std::make_shared<std::string>();
  auto split = std::make_shared<std::string>("test");
  command
      ->add_option("CHECKPOINT", *target,
                   "a run directory, its checkpoint.pt, or a packed model (octrain export)")
      ->required();
  command->add_option("--split", *split, "test | train | validation")
      ->check(CLI::IsMember({"test", "train", "validation"}));
  command->callback([target, split] {
    const auto model = load_trained_model(*target);
    const auto loss = run_loss(model);
    const auto& s = *split == "train"        ? model.data.train
                    : *split == "validation" ? model.data.validation
                                             : model.data.test;
    if (s.size() == 0)
      throw UsageError(fmt::format("the {} split of {} is empty", *split, model.config.dataset));
    const auto e = train::evaluate(*model.network, *loss, s);
    fmt::print("{} {} split: {} samples  loss {:.6f}", model.config.dataset, *split, e.samples,
               e.loss);
    if (!std::isnan(e.accuracy)) fmt::print("  accuracy {:.2f}%", 100 * e.accuracy);
    fmt::print("\n");
  });
}

}  // namespace octrain::app
