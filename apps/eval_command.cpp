#include <fmt/format.h>

#include <cmath>
#include <filesystem>

#include "commands.h"
#include "octrain/control/model_builder.h"
#include "octrain/control/network.h"
#include "octrain/train/checkpoint.h"
#include "octrain/train/evaluation.h"
#include "octrain/train/trainer.h"
#include "octrain/util/error.h"

namespace octrain::app {

void add_eval_command(CLI::App& app) {
  auto* command = app.add_subcommand("eval", "Evaluate a checkpoint on its run's dataset");
  auto target = std::make_shared<std::string>();
  auto split = std::make_shared<std::string>("test");
  command->add_option("CHECKPOINT", *target, "a run directory or its checkpoint.pt")->required();
  command->add_option("--split", *split, "test | train | validation")
      ->check(CLI::IsMember({"test", "train", "validation"}));
  command->callback([target, split] {
    namespace fs = std::filesystem;
    const fs::path path(*target);
    if (!fs::exists(path)) throw UsageError(*target + ": no such run directory or checkpoint");
    const fs::path dir = fs::is_directory(path) ? path : path.parent_path();
    const std::string checkpoint =
        fs::is_directory(path) ? (path / "checkpoint.pt").string() : path.string();
    const std::string config_file = (dir / "config.toml").string();
    if (!fs::exists(config_file))
      throw UsageError(fmt::format(
          "{}: no config.toml beside the checkpoint; is it a run directory?", dir.string()));
    train::RunConfig config;
    config.merge_toml_file(config_file);
    const auto data = data::load_dataset(config.dataset, train::load_options_for(config));
    auto network = control::build_network(config.model, data.input_shape);
    train::load_network_from_checkpoint(checkpoint, *network);
    const std::string loss_spec = !config.loss.empty()                   ? config.loss
                                  : data.task == data::Task::kRegression ? "mse"
                                                                         : "cross-entropy";
    auto loss =
        control::make_terminal_loss(loss_spec, data.num_classes, network->output_shape()[0]);
    const auto& s = *split == "train"        ? data.train
                    : *split == "validation" ? data.validation
                                             : data.test;
    if (s.size() == 0)
      throw UsageError(fmt::format("the {} split of {} is empty", *split, config.dataset));
    const auto e = train::evaluate(*network, *loss, s);
    fmt::print("{} {} split: {} samples  loss {:.6f}", config.dataset, *split, e.samples, e.loss);
    if (!std::isnan(e.accuracy)) fmt::print("  accuracy {:.2f}%", 100 * e.accuracy);
    fmt::print("\n");
  });
}

}  // namespace octrain::app
